"""A hand-written fake of an OpenAI-compatible chat-completions service on real HTTP at 127.0.0.1:
it knows only `POST /v1/chat/completions`, answers queued replies in order (then its default), and
records every request and its headers. Used by the model client's tests and the insight tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "qwen2.5-vl-7b-instruct"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0


def completion(content: str, finish_reason: str = "stop") -> Reply:
    """A chat-completions answer as vLLM and OpenAI write it."""
    document = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940},
    }
    return Reply(200, json.dumps(document, ensure_ascii=False).encode())


def error(status: int, message: str = "error") -> Reply:
    return Reply(status, json.dumps({"error": {"message": message, "code": status}}).encode())


@dataclass
class FakeChatService:
    """The service's state: replies still queued, what to answer when none is, what it received."""

    default: Reply
    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def answer(self, content: str) -> None:
        """Queue a valid answer whose message is `content`."""
        self.replies.append(completion(content))

    def user_parts(self, index: int = -1) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = self.requests[index]["messages"][-1]["content"]
        return parts


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        fake = self.server.fake
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/chat/completions":
            self._send(Reply(404, b'{"error": {"message": "not found"}}'))
            return
        fake.requests.append(json.loads(body))
        fake.headers.append(dict(self.headers.items()))
        reply = fake.replies.pop(0) if fake.replies else fake.default
        if reply.delay and fake.stop.wait(reply.delay):
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the timeout tests), as a real client would

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeChatService) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


@contextmanager
def chat_service(default: Reply) -> Iterator[FakeChatService]:
    """The fake, serving at `.url` (its base URL, without `/v1`) until the block ends."""
    fake = FakeChatService(default)
    server = _Server(fake)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll interval: shutdown() waits for one, and many tests start their own server.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.stop.set()
        server.shutdown()
        server.server_close()
        thread.join()
