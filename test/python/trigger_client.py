"""Like the classic socket-trigger client: sends `Hello TCP Server` with its C string's NUL."""
import sys

from common import args, connect, fail, recv_exactly

host, port, _ = args()
sock = connect(host, port)
message = b"Hello TCP Server\0"
sock.send(message)
reply = recv_exactly(sock, len(message))
sock.close()
sys.stdout.buffer.write(reply + b"\n")
sys.stdout.flush()
if reply != b"HELLO TCP SERVER\0":
    fail(f"expected b'HELLO TCP SERVER\\x00', got {reply!r}")
