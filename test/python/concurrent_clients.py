"""COUNT sockets open at once in one process; each sends its own message and checks its reply."""
import selectors
import socket
import time

from common import TIMEOUT, args, fail

host, port, (count,) = args(("50",))
count = int(count)
deadline = time.monotonic() + TIMEOUT

# Connect every socket before any of them sends, so all are open together.
socks = []
for i in range(count):
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    sock.setblocking(False)
    socks.append(sock)

selector = selectors.DefaultSelector()
state = {}
for i, sock in enumerate(socks):
    message = f"client {i} of {count} says hello-{i * 7919} " .encode() + b"z" * i
    state[sock] = {"index": i, "expected": message.upper(), "pending": message, "got": b""}
    selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)

done = 0
while done < count:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        fail(f"timed out with {done} of {count} clients answered")
    for key, events in selector.select(timeout=remaining):
        sock = key.fileobj
        s = state[sock]
        if events & selectors.EVENT_WRITE and s["pending"]:
            sent = sock.send(s["pending"])
            s["pending"] = s["pending"][sent:]
            if not s["pending"]:
                selector.modify(sock, selectors.EVENT_READ)
        if events & selectors.EVENT_READ:
            chunk = sock.recv(65536)
            if not chunk:
                fail(f"client {s['index']}: closed after {s['got']!r}")
            s["got"] += chunk
            if len(s["got"]) > len(s["expected"]):
                fail(f"client {s['index']}: too many bytes {s['got']!r}")
            if len(s["got"]) == len(s["expected"]):
                if s["got"] != s["expected"]:
                    fail(f"client {s['index']}: expected {s['expected']!r}, got {s['got']!r}")
                selector.unregister(sock)
                sock.close()
                done += 1

print(f"{count} clients ok")
