"""A UDP client in the style of the socket-programming write-ups: resolve the host name,
send one datagram, print the reply. Usage: udp_client.py HOST PORT MESSAGE"""
import socket
import sys


def main():
    if len(sys.argv) != 4:
        print("usage: udp_client.py HOST PORT MESSAGE", file=sys.stderr)
        return 2
    host = socket.gethostbyname(sys.argv[1])
    port = int(sys.argv[2])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        sock.sendto(sys.argv[3].encode(), (host, port))
        reply, sender = sock.recvfrom(65535)
    if sender[1] != port:
        print(f"reply came from port {sender[1]}, not {port}", file=sys.stderr)
        return 1
    print("Message from server: %s" % reply.decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
