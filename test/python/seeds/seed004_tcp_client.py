"""Seed 004's Python TCP client: read lines, send each (no terminator), print the answer.

Usage: seed004_tcp_client.py HOST PORT, with the lines on stdin (the write-up uses port 7000).
The prompt is spelled as in the write-up. "exit" is sent, then the client ends.
"""
import socket
import sys

HOST, PORT = sys.argv[1], int(sys.argv[2])

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(10)
s.connect((HOST, PORT))

while True:
    try:
        user_input = input("Please input yout messae: ")
    except EOFError:
        break
    print(user_input)
    s.send(user_input.encode("utf-8"))
    if user_input.lower() == "exit":
        break
    indata = s.recv(1024)
    print("Write Back Message content is " + indata.decode())

print("client is over")
s.close()
