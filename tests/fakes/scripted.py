"""A raw HTTP/1.1 server on 127.0.0.1 that misbehaves on purpose, step by step: answers cut short,
answers that stall or trickle, whatever bytes a test scripts."""

import socket
import threading
import time

ANSWER = b'{"jsonrpc": "2.0", "id": 1, "result": 42}'


def whole(body: bytes, status: str = "200 OK", headers: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
    ).encode() + body


class Scripted:
    """Serves each connection's requests by the next step of `steps`: bytes to send (then the
    connection stays open for the next request), "reset" (closes after half an answer), "stall"
    (headers, then nothing), or "trickle" (a byte every 0.05 s, for ever: never a read timeout's wait,
    however late a thread of this busy machine runs)."""

    def __init__(self, *steps) -> None:
        self.steps = list(steps)
        self.requests = 0
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            try:
                while connection.recv(65536):
                    step = self.steps[min(self.requests, len(self.steps) - 1)]
                    self.requests += 1
                    if isinstance(step, bytes):
                        connection.sendall(step)
                        continue
                    if step == "reset":
                        connection.sendall(whole(ANSWER)[:-10])
                        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        return
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n[")
                    while not self.stopped.is_set():
                        time.sleep(0.05)
                        if step == "trickle":
                            connection.sendall(b" ")
                    return
            except OSError:
                return

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()
