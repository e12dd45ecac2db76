import socket
import time

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ROBOT_IP= "0.0.0.0"
ROBOT_PORT = 9999
client.connect((ROBOT_IP,ROBOT_PORT))
cmd = 'Hello TCP Server'
client.send(bytes(cmd+'\0','ascii'))
