"""Seed 003's udp_client.py: resolve HOSTNAME, send MESSAGE as one datagram, print the answer.

Usage: seed003_udp_client.py HOSTNAME PORT MESSAGE
Prints "Message from server: <answer>". A 5-second timeout replaces the write-up's endless
wait (it then prints the write-up's "Failed to receive messages.").
"""
import socket
import sys


def main():
    hostname = sys.argv[1]
    try:
        host = socket.gethostbyname(hostname)
    except socket.error:
        print("Unknown hostname: %s" % hostname)
        return 1
    port = int(sys.argv[2])
    msg = sys.argv[3].encode()

    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 0)
    except socket.error:
        print("Failed to create socket.")
        return 1
    sock.settimeout(5)
    try:
        sock.sendto(msg, (host, port))
    except socket.error:
        print("Failed to send messages.")
        return 1
    try:
        msg_ret, _ = sock.recvfrom(1024)
    except socket.error:
        print("Failed to receive messages.")
        return 1
    print("Message from server: %s" % msg_ret.decode())
    sock.close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4:
        sys.exit(main())
    print("Wrong input arguments, please enter 3 arguments.")
    sys.exit(2)
