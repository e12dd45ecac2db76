"""Seed 004's Python UDP client: read lines, send each as a datagram, print the answer.

Usage: seed004_udp_client.py HOST PORT, with the lines on stdin (the write-up uses port 7000).
The prompt is spelled as in the write-up. "exit" is sent, then the client ends.
"""
import socket
import sys

HOST, PORT = sys.argv[1], int(sys.argv[2])

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.connect((HOST, PORT))

while True:
    try:
        user_input = input("Please input yout messae: ")
    except EOFError:
        break
    print(user_input)
    s.sendto(user_input.encode("utf-8"), (HOST, PORT))
    if user_input.lower() == "exit":
        break
    indata, addr = s.recvfrom(1024)
    print("Write Back Message content is " + indata.decode("utf-8"))

print("client is over")
s.close()
