"""Small helpers shared by the Python test clients (standard library only)."""
import socket
import sys
import time

TIMEOUT = 10.0


def args(extra_defaults=()):
    """host, port and any extra positional arguments (with defaults) from argv."""
    if len(sys.argv) < 3:
        fail(f"usage: {sys.argv[0]} HOST PORT ...")
    rest = list(sys.argv[3:])
    for i, default in enumerate(extra_defaults):
        if i >= len(rest):
            rest.append(default)
    return sys.argv[1], int(sys.argv[2]), rest


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def connect(host, port):
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    return sock


def recv_exactly(sock, length, deadline_s=TIMEOUT):
    """Reads until `length` bytes arrived; fails on early close or after `deadline_s`."""
    deadline = time.monotonic() + deadline_s
    parts = []
    got = 0
    while got < length:
        if time.monotonic() > deadline:
            fail(f"timed out after {got} of {length} bytes")
        chunk = sock.recv(min(65536, length - got))
        if not chunk:
            fail(f"connection closed after {got} of {length} bytes")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)
