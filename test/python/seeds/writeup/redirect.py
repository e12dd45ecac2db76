"""Runs one of seed 000's clients unchanged, pointed at the test's trigger.

Usage: redirect.py PORT SCRIPT. The write-up's clients hard-code port 9999 (and the TCP one
the address 0.0.0.0); a test cannot own that port, so this swaps socket.socket for a
subclass whose connect() and sendto() send what was meant for port 9999 to 127.0.0.1:PORT,
then runs SCRIPT as __main__. The clients' own text stays as the write-up has it.
"""
import runpy
import socket
import sys

port = int(sys.argv[1])
script = sys.argv[2]


def redirected(address):
    if isinstance(address, tuple) and len(address) == 2 and address[1] == 9999:
        return ("127.0.0.1", port)
    return address


class RedirectedSocket(socket.socket):
    def connect(self, address):
        return super().connect(redirected(address))

    def sendto(self, data, *rest):
        rest = list(rest)
        rest[-1] = redirected(rest[-1])
        return super().sendto(data, *rest)


socket.socket = RedirectedSocket
runpy.run_path(script, run_name="__main__")
