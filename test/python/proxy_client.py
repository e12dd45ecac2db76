"""Connects through a load balancer to HOST PORT, reads the one line the server sends, and
prints it after this client's own address as the balancer saw it:
`SELF_ADDRESS:SELF_PORT LINE` (standard library only)."""
from common import args, connect

host, port, _ = args()
sock = connect(host, port)
address, own_port = sock.getsockname()[:2]
received = b""
while not received.endswith(b"\n"):
    chunk = sock.recv(4096)
    if not chunk:
        break
    received += chunk
sock.close()
print(f"{address}:{own_port} {received.decode().strip()}")
