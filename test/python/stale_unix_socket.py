"""Leaves a stale socket file at PATH: binds a Unix stream socket there and exits without
removing it, as a server that crashed would."""
import os
import socket
import sys

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.bind(sys.argv[1])
os._exit(0)
