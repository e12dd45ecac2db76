"""Sends SIZE bytes with one sendall while a thread reads; the reply must be the uppercase, in order."""
import random
import threading

from common import TIMEOUT, args, connect, fail

host, port, (size,) = args((str(1 << 20),))
size = int(size)
# Every byte value appears; a fixed seed makes any failure repeatable.
data = random.Random(20240501).randbytes(size)
expected = data.upper()  # bytes.upper() maps only ASCII a-z, like the server

sock = connect(host, port)
received = bytearray()
problem = []


def reader():
    try:
        while len(received) < size:
            chunk = sock.recv(1 << 16)
            if not chunk:
                problem.append(f"connection closed after {len(received)} of {size} bytes")
                return
            received.extend(chunk)
    except OSError as error:
        problem.append(f"reading failed after {len(received)} bytes: {error!r}")


thread = threading.Thread(target=reader, daemon=True)
thread.start()
sock.sendall(data)
thread.join(TIMEOUT * 2)
if thread.is_alive():
    fail(f"timed out after {len(received)} of {size} bytes")
sock.close()
if problem:
    fail(problem[0])
if bytes(received) != expected:
    first = next(i for i in range(min(len(received), size)) if received[i] != expected[i]) if len(received) else 0
    fail(f"reply differs (length {len(received)}), first difference at byte {first}")
print(f"{size} bytes ok")
