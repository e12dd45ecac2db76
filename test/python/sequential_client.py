"""One connection, COUNT messages in turn: each sent with sendall, its reply read in full."""
from common import args, connect, fail, recv_exactly

host, port, (count,) = args(("200",))
count = int(count)
sock = connect(host, port)
for i in range(count):
    # Lengths vary from 1 byte to a few hundred; letters, digits and punctuation mixed.
    message = (f"msg {i}/{count} abc-xyz " * (i % 7) + f"q{i}")[: 1 + (i * 37) % 300].encode()
    sock.sendall(message)
    reply = recv_exactly(sock, len(message))
    if reply != message.upper():
        fail(f"message {i}: sent {message!r}, got {reply!r}")
sock.close()
print(f"{count} replies ok")
