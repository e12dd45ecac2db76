"""Seed 003's echo-client.py: send b'Hello, world', read once, print "Received b'Hello, world'".

Usage: seed003_echo_client.py HOST PORT (the write-up uses 127.0.0.1 65432).
"""
import socket
import sys

HOST, PORT = sys.argv[1], int(sys.argv[2])

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.settimeout(10)
    s.connect((HOST, PORT))
    s.sendall(b"Hello, world")
    data = s.recv(1024)

print("Received", repr(data))
