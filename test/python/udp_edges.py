"""Datagram edges against an uppercase UDP server: an empty datagram, the largest IPv4
datagram (65,507 bytes), and 16 sockets with 8 datagrams in flight each. Usage:
udp_edges.py HOST PORT. Prints one line per check; exits 1 on any mismatch."""
import selectors
import socket
import sys


def upper(data):
    return bytes(c - 32 if 97 <= c <= 122 else c for c in data)


def exchange(host, port, payload):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        sock.sendto(payload, (host, port))
        reply, _ = sock.recvfrom(65535)
    return reply


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    if exchange(host, port, b"") != b"":
        print("empty datagram: wrong reply", file=sys.stderr)
        return 1
    print("empty ok")
    big = bytes((i * 7) % 256 for i in range(65507))
    if exchange(host, port, big) != upper(big):
        print("65507-byte datagram: wrong reply", file=sys.stderr)
        return 1
    print("65507 ok")
    selector = selectors.DefaultSelector()
    expected = {}
    for s in range(16):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.connect((host, port))
        selector.register(sock, selectors.EVENT_READ)
        expected[sock] = set()
        for n in range(8):
            message = f"sock{s}-msg{n}-abc".encode()
            expected[sock].add(upper(message))
            sock.send(message)
    remaining = 128
    while remaining > 0:
        events = selector.select(timeout=10)
        if not events:
            print(f"timed out with {remaining} replies missing", file=sys.stderr)
            return 1
        for key, _ in events:
            reply = key.fileobj.recv(65535)
            if reply not in expected[key.fileobj]:
                print(f"unexpected reply {reply!r}", file=sys.stderr)
                return 1
            expected[key.fileobj].discard(reply)
            remaining -= 1
    for sock in expected:
        sock.close()
    print("16x8 ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
