"""Connects, sends `hello world`, reads the 11-byte reply and prints it."""
import socket
import sys

from common import TIMEOUT, args, fail, recv_exactly

host, port, _ = args()
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.settimeout(TIMEOUT)
sock.connect((host, port))
message = b"hello world"
sock.sendall(message)
reply = recv_exactly(sock, len(message))
sock.close()
print(reply.decode("latin-1"))
if reply != message.upper():
    fail(f"expected {message.upper()!r}, got {reply!r}")
