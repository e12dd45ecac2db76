"""A JSON action message client in Python's standard library only (socket, json, makefile).

Written from docs/messages.md alone: one JSON object per line, requests
{"id", "action", "message"}, answers {"id", "answer"} or {"id", "error": {"code", "message"}}.

As a library:
    client = MessageClient("127.0.0.1", 65432)
    client.request("Telegram", {"text": "hi"})   # the answer, or raises RemoteError
    client.send("Telegram", "fire and forget")  # no id: the answer comes in order, unread

As a script, `message_client.py HOST PORT MAX` checks a server that has the actions
echo (answers the message) and delay ({"ms", "value"}: answers value after ms), and
maxMessageSize MAX. Prints one line per check; exits 1 with the reason at the first mismatch.
"""
import json
import socket
import sys

from common import TIMEOUT, args, fail


class RemoteError(Exception):
    """The server answered with an error."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class MessageClient:
    def __init__(self, host, port, timeout=TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.reader = self.sock.makefile("rb")
        self.next_id = 1
        self.early = {}  # answers read while waiting for another id

    def write(self, request):
        # ensure_ascii=False: the line is UTF-8; json never puts a raw LF inside a value.
        line = json.dumps(request, ensure_ascii=False, separators=(",", ":")) + "\n"
        self.sock.sendall(line.encode("utf-8"))

    def read_answer(self):
        line = self.reader.readline()
        if not line:
            raise ConnectionError("the server closed the connection")
        return json.loads(line)

    def send_request(self, action, message=None):
        """Writes a request with a fresh id and returns the id (answers may come in any order)."""
        request_id = self.next_id
        self.next_id += 1
        self.write({"id": request_id, "action": action, "message": message})
        return request_id

    def wait(self, request_id):
        """The answer to request_id; answers to other ids read meanwhile are kept."""
        while request_id not in self.early:
            answer = self.read_answer()
            self.early[answer.get("id")] = answer
        answer = self.early.pop(request_id)
        if "error" in answer:
            raise RemoteError(answer["error"]["code"], answer["error"]["message"])
        return answer["answer"]

    def request(self, action, message=None):
        return self.wait(self.send_request(action, message))

    def send(self, action, message=None):
        """Background send: no id, so its answer comes back in order and carries none."""
        self.write({"action": action, "message": message})

    def close(self):
        self.reader.close()
        self.sock.close()


def check(condition, what):
    if not condition:
        fail(f"FAILED: {what}")
    print(f"ok {what}")


def main():
    host, port, (max_text,) = args(("1048576",))
    max_size = int(max_text)
    client = MessageClient(host, port)

    answer = client.request("echo", {"text": "grüße ✓", "list": [1, 2.5, None, True]})
    check(answer == {"text": "grüße ✓", "list": [1, 2.5, None, True]}, "echo round-trips UTF-8 JSON")

    # Three in flight on one connection; the slowest asked first.
    ids = [client.send_request("delay", {"ms": ms, "value": ms}) for ms in (150, 75, 0)]
    order = []
    while len(order) < 3:
        got = client.read_answer()
        order.append(got["id"])
        client.early[got["id"]] = got
    check(order == list(reversed(ids)), f"answers by id in the order they finish ({order})")
    check([client.wait(i) for i in ids] == [150, 75, 0], "each answer matches its id")

    client.write({"action": "delay", "message": {"ms": 60, "value": "a"}})
    client.write({"action": "echo", "message": "b"})
    check([client.read_answer(), client.read_answer()] == [{"answer": "a"}, {"answer": "b"}],
          "requests without id answered in order, without id")

    try:
        client.request("Telegram", "hi")
        check(False, "unknown action is an error")
    except RemoteError as error:
        check(error.code == "UNKNOWN_ACTION", "unknown action answered UNKNOWN_ACTION")

    client.sock.sendall(b"this is not json\n")
    bad = client.read_answer()
    check(bad.get("error", {}).get("code") == "BAD_MESSAGE" and "id" not in bad, "a bad line answered BAD_MESSAGE")
    check(client.request("echo", "still open") == "still open", "the connection stays usable after BAD_MESSAGE")
    client.close()

    big = MessageClient(host, port)
    try:
        big.sock.sendall(b'{"action":"echo","message":"' + b"x" * (max_size + 10) + b'"}\n')
    except OSError:
        pass  # the server may close before the whole line is sent; its answer is still there
    answer = big.read_answer()
    check(answer.get("error", {}).get("code") == "TOO_LARGE", "a line over maxMessageSize answered TOO_LARGE")
    try:
        rest = big.reader.readline()
    except OSError:
        rest = b""
    check(rest == b"", "then the server closes the connection")
    big.close()


if __name__ == "__main__":
    main()
