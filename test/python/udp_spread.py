"""COUNT UDP sockets, each from its own port, each sending one datagram and checking that the
uppercased reply comes back from the server's port. Usage: udp_spread.py HOST PORT COUNT"""
import selectors
import socket
import time

from common import TIMEOUT, args, fail

host, port, (count,) = args(("50",))
count = int(count)
deadline = time.monotonic() + TIMEOUT
selector = selectors.DefaultSelector()
expected = {}
for i in range(count):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.setblocking(False)
    message = f"datagram {i} from port {sock.getsockname()[1]}".encode()
    sock.sendto(message, (host, port))
    expected[sock] = message.upper()
    selector.register(sock, selectors.EVENT_READ)

answered = 0
while answered < count:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        fail(f"timed out with {answered} of {count} datagrams answered")
    for key, _ in selector.select(timeout=remaining):
        sock = key.fileobj
        reply, sender = sock.recvfrom(65535)
        if sender[1] != port:
            fail(f"reply came from port {sender[1]}, not {port}")
        if reply != expected[sock]:
            fail(f"expected {expected[sock]!r}, got {reply!r}")
        selector.unregister(sock)
        sock.close()
        answered += 1

print(f"{count} datagrams ok")
