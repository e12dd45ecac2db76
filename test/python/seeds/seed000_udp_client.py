"""Seed 000's udp_client.py: send one datagram 'Hello UDP Server' and end.

Usage: seed000_udp_client.py HOST PORT (the write-up uses 127.0.0.1 9999). Prints nothing.
"""
import socket
import sys

server_address_port = (sys.argv[1], int(sys.argv[2]))
bytes_to_send = str.encode("Hello UDP Server")

udp_client_socket = socket.socket(family=socket.AF_INET, type=socket.SOCK_DGRAM)
udp_client_socket.sendto(bytes_to_send, server_address_port)
udp_client_socket.close()
