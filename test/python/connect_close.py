"""COUNT times: connect and close at once without sending (`close` = FIN, `reset` = RST);
then a last client must still get its reply."""
import socket
import struct

from common import args, connect, fail, recv_exactly

host, port, (count, mode) = args(("100", "close"))
count = int(count)
if mode not in ("close", "reset"):
    fail(f"mode must be close or reset, got {mode!r}")
for _ in range(count):
    sock = connect(host, port)
    if mode == "reset":
        # Linger on with a zero timeout: close() sends RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()

sock = connect(host, port)
sock.sendall(b"still alive")
reply = recv_exactly(sock, 11)
sock.close()
if reply != b"STILL ALIVE":
    fail(f"expected b'STILL ALIVE', got {reply!r}")
print(f"{count} {mode}s ok")
print(reply.decode())
