"""Seed 000's tcp_client.py: connect, send 'Hello TCP Server' and a NUL, and end.

Usage: seed000_tcp_client.py HOST PORT (the write-up uses 0.0.0.0 9999). Prints nothing:
the socket trigger on the other end shows Connect, Data and Close.
"""
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.settimeout(10)
client.connect((host, port))
cmd = "Hello TCP Server"
client.send(bytes(cmd + "\0", "ascii"))
# The write-up's client just ends here; ending the program closes the socket.
client.close()
