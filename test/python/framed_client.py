"""Drives `sockengine serve --framing line|length:4 --max-frame MAX` (uppercase handler).

usage: framed_client.py HOST PORT line|length4 MAX

Frames are built here by hand (struct.pack for length headers, b"\\n" for lines), so the
server's framing is checked against a peer it shares no code with:
- several frames in one sendall, one of them empty and one of MAX bytes (a 60,000-byte
  frame when MAX is 60000): one uppercased reply frame each, in order;
- one frame sent a byte at a time: no reply before its last byte, then one reply;
- a frame of MAX + 1 bytes on a fresh connection: the server closes it without a reply.
Prints one line per check; exits 1 with the reason on stderr at the first mismatch.
"""
import select
import socket
import struct
import time

from common import TIMEOUT, args, connect, fail, recv_exactly

host, port, (mode, max_text) = args(("line", "60000"))
if mode not in ("line", "length4"):
    fail(f"mode must be line or length4, got {mode!r}")
max_frame = int(max_text)


def encode(payload):
    """One frame of the server's framing carrying `payload`."""
    if mode == "line":
        return payload + b"\n"
    return struct.pack(">I", len(payload)) + payload


def expected_reply(payload):
    """What the uppercase handler answers to `payload`: one frame, ASCII a-z upper-cased."""
    # bytes.upper() changes a-z only, as the server does; other bytes stay as they are.
    return encode(payload.upper())


def open_socket():
    sock = connect(host, port)
    # Each send leaves at once, so a byte-at-a-time frame really arrives in pieces.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def nothing_arrives(sock, seconds):
    """True when no byte (and no close) arrives within `seconds`."""
    readable, _, _ = select.select([sock], [], [], seconds)
    return not readable


def read_replies(sock, payloads, what):
    """Reads the replies to `payloads` and checks them frame by frame."""
    wanted = [expected_reply(p) for p in payloads]
    got = recv_exactly(sock, sum(len(w) for w in wanted))
    offset = 0
    for index, (payload, expected) in enumerate(zip(payloads, wanted)):
        reply = got[offset:offset + len(expected)]
        if reply != expected:
            fail(
                f"{what}: reply to frame {index} ({len(payload)} bytes) differs: "
                f"expected {expected[:40]!r}..., got {reply[:40]!r}..."
            )
        offset += len(expected)
    if not nothing_arrives(sock, 0.2):
        extra = sock.recv(65536)
        fail(f"{what}: expected {len(payloads)} replies and no more, got extra bytes {extra[:40]!r}")


def closed_without_reply(sock, what):
    """Waits for the server to close `sock`; fails if it answers or stays open."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        if time.monotonic() > deadline:
            fail(f"{what}: the server did not close the connection within {TIMEOUT} s")
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return
        except socket.timeout:
            continue
        if not chunk:
            return
        fail(f"{what}: expected the connection closed, got a reply {chunk[:40]!r}")


label = "line" if mode == "line" else "length:4"
big = (b"abcdefghijklmnopqrstuvwxyz-0123456789 ABC\xc3\xa9\xff" * (max_frame // 40 + 1))[:max_frame]

# 1. Several frames in one sendall.
if mode == "line":
    # A CR before the LF is not part of the frame; an empty line is an empty frame.
    payloads = [b"hello world", b"second Line 2", b"", b"caf\xc3\xa9 \xff mixed", big]
    stream = b"hello world\r\nsecond Line 2\n\ncaf\xc3\xa9 \xff mixed\r\n" + big + b"\r\n"
else:
    payloads = [b"hello world", b"", b"Mixed Case 42", big, b"z"]
    stream = b"".join(encode(p) for p in payloads)
sock = open_socket()
sock.sendall(stream)
read_replies(sock, payloads, f"{label} one sendall")
print(f"{label}: {len(payloads)} frames in one sendall ok (an empty one, one of {len(big)} bytes)")

# 2. One frame a byte at a time, on the same connection.
payload = b"byte by byte"
frame = (payload + b"\r\n") if mode == "line" else encode(payload)
for i, byte in enumerate(frame):
    sock.sendall(bytes([byte]))
    if i == len(frame) - 2:
        time.sleep(0.02)
        if not nothing_arrives(sock, 0.2):
            fail(f"{label} byte by byte: a reply came before the frame's last byte: {sock.recv(100)!r}")
    else:
        time.sleep(0.001)
read_replies(sock, [payload], f"{label} byte by byte")
sock.close()
print(f"{label}: one frame sent byte by byte ok ({len(frame)} sends)")

# 3. A frame over --max-frame on a fresh connection: closed, unanswered.
sock = open_socket()
too_long = b"y" * (max_frame + 1)
try:
    sock.sendall(encode(too_long))
except (BrokenPipeError, ConnectionResetError):
    pass  # closed while we were still sending: what we expect, seen early
closed_without_reply(sock, f"{label} frame of {len(too_long)} bytes")
sock.close()
print(f"{label}: a frame of {len(too_long)} bytes (over --max-frame {max_frame}) closed the connection")
