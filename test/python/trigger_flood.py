"""Floods a trigger with line frames and reports when its sends stall.

Usage: trigger_flood.py PORT FRAMES BYTES. Sends FRAMES lines, each BYTES bytes long before
its LF and numbered at the start ("000042 xxxx..."), from a non-blocking socket with a small
send buffer. Whenever the socket stays unwritable for 0.5 s (the receiver stopped reading
and both kernel buffers are full) it prints "stalled" once, then keeps waiting and sending
until every frame is out. Prints "sent N stalls=S" at the end. Gives up after 60 s.
"""
import select
import socket
import sys
import time

port, frames, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
sock.connect(("127.0.0.1", port))
sock.setblocking(False)

deadline = time.monotonic() + 60
stalls = 0
for number in range(frames):
    frame = (b"%06d " % number).ljust(size, b"x") + b"\n"
    view = memoryview(frame)
    while view:
        if time.monotonic() > deadline:
            print("gave up", flush=True)
            sys.exit(1)
        _, writable, _ = select.select([], [sock], [], 0.5)
        if not writable:
            stalls += 1
            if stalls == 1:
                print("stalled", flush=True)
            continue
        try:
            sent = sock.send(view)
        except BlockingIOError:
            continue
        view = view[sent:]

sock.setblocking(True)
sock.shutdown(socket.SHUT_WR)
sock.settimeout(10)
while sock.recv(4096):
    pass
sock.close()
print("sent %d stalls=%d" % (frames, stalls), flush=True)
