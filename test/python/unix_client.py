"""An AF_UNIX stream client (standard library only): connects to PATH (a leading '@' names
Linux's abstract namespace), sends each MESSAGE in turn, half-closes, and prints everything
the server sent back until it closed, as one line of UTF-8."""
import socket
import sys

from common import TIMEOUT, fail


def main():
    if len(sys.argv) < 2:
        fail(f"usage: {sys.argv[0]} PATH [MESSAGE...]")
    path = sys.argv[1]
    if path.startswith("@"):
        path = "\0" + path[1:]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    sock.connect(path)
    for message in sys.argv[2:]:
        sock.sendall(message.encode())
    sock.shutdown(socket.SHUT_WR)
    received = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    sock.close()
    print(received.decode())


if __name__ == "__main__":
    main()
