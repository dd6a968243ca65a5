"""A stub of the OpenAI HTTP API on 127.0.0.1, for running the real ``openai`` client in tests.

``OpenAIStub()`` is a context manager: a stdlib ``ThreadingHTTPServer`` on a free port in a daemon
thread, stopped on exit. Point the client (or ``settings.OPENAI_BASE_URL``) at ``stub.base_url``
(``"http://127.0.0.1:PORT/v1"``). It serves ``POST /v1/chat/completions`` and ``POST /v1/responses``
in the wire format the client expects (``documents-ocr-llm.md`` §4.3, §4.5); any other path is a 404
in the API's error format.

- ``stub.queue(status, body, headers=None)`` scripts the next answer; answers are used in the order
  queued, one per request (a retried request takes the next one). ``body`` is a dict or list (sent
  as JSON) or ``str``/``bytes`` (sent as they are). With nothing queued, a request gets an empty
  offers answer in the format of its path.
- ``stub.requests`` records every request as ``StubRequest(path, headers, body)``, ``body`` the
  parsed JSON (``None`` when the request body was not JSON), ``headers`` a lower-cased dict.
- ``OpenAIStub.answer(offers, finish_reason="stop")``: a chat completion whose content is
  ``{"offers": offers}`` (or ``content=`` any text, e.g. broken JSON); ``OpenAIStub.response(offers)``:
  the same for the Responses API; ``OpenAIStub.error(message, type=..., code=...)``: the API's error body.

Example::

    with OpenAIStub() as stub:
        stub.queue(429, OpenAIStub.error("slow down", type="rate_limit_exceeded"), {"retry-after-ms": "10"})
        stub.queue(200, OpenAIStub.answer([{"line": 1, "description": "iPhone 15", "price": "750", ...}]))
        ...
        assert len(stub.requests) == 2
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["OpenAIStub", "StubRequest"]

CHAT_PATH = "/v1/chat/completions"
RESPONSES_PATH = "/v1/responses"


@dataclass
class StubRequest:
    """One request the stub received: its path, headers (lower-cased names) and JSON body."""

    path: str
    headers: dict[str, str]
    body: Any


class OpenAIStub:
    """The stub server; see the module docstring."""

    def __init__(self) -> None:
        self.requests: list[StubRequest] = []
        self._answers: deque[tuple[int, Any, dict[str, str]]] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> OpenAIStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                stub._serve(self)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="openai-stub", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        """``"http://127.0.0.1:PORT/v1"``, what the client's ``base_url`` should be."""
        assert self._server is not None, "use OpenAIStub() as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    # ----------------------------------------------------------------- scripting

    def queue(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """Answer the next unanswered request with ``status``, ``body`` (dict/list as JSON,
        ``str``/``bytes`` as is) and extra ``headers``."""
        with self._lock:
            self._answers.append((status, body, dict(headers or {})))

    @staticmethod
    def answer(offers: list[dict[str, Any]] | None = None, finish_reason: str = "stop", *,
               content: str | None = None, refusal: str | None = None, total_tokens: int = 30) -> dict[str, Any]:
        """A chat completion whose message content is ``{"offers": offers}`` as a JSON string
        (or ``content`` as given), with ``finish_reason`` and ``usage.total_tokens``."""
        if content is None:
            content = json.dumps({"offers": offers or []})
        return {
            "id": "chatcmpl-stub", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-stub",
            "choices": [{
                "index": 0, "finish_reason": finish_reason, "logprobs": None,
                "message": {"role": "assistant", "content": None if refusal else content, "refusal": refusal},
            }],
            "usage": {"prompt_tokens": total_tokens // 3, "completion_tokens": total_tokens - total_tokens // 3,
                      "total_tokens": total_tokens},
        }

    @staticmethod
    def response(offers: list[dict[str, Any]] | None = None, *, content: str | None = None,
                 status: str = "completed", total_tokens: int = 30) -> dict[str, Any]:
        """A Responses API answer whose output text is ``{"offers": offers}`` (or ``content``)."""
        if content is None:
            content = json.dumps({"offers": offers or []})
        return {
            "id": "resp_stub", "object": "response", "created_at": 1_700_000_000, "model": "gpt-stub",
            "status": status,
            "output": [{"type": "message", "id": "msg_stub", "status": "completed", "role": "assistant",
                        "content": [{"type": "output_text", "text": content, "annotations": []}]}],
            "usage": {"input_tokens": total_tokens // 3, "output_tokens": total_tokens - total_tokens // 3,
                      "total_tokens": total_tokens},
        }

    @staticmethod
    def error(message: str, *, type: str = "server_error", param: str | None = None,  # noqa: A002
              code: str | None = None) -> dict[str, Any]:
        """The API's error body: ``{"error": {"message", "type", "param", "code"}}``."""
        return {"error": {"message": message, "type": type, "param": param, "code": code}}

    @staticmethod
    def offer(line: int, description: str, price: str, *, sku: str = "", currency: str = "", quantity: str = "",
              condition: str = "") -> dict[str, Any]:
        """One offer as the ``price_offers`` schema has it (every property present)."""
        return {"line": line, "sku": sku, "description": description, "price": price, "currency": currency,
                "quantity": quantity, "condition": condition}

    # ----------------------------------------------------------------- serving

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self.requests.append(StubRequest(path, {k.lower(): v for k, v in handler.headers.items()}, body))
            scripted = self._answers.popleft() if self._answers and path in (CHAT_PATH, RESPONSES_PATH) else None
        if scripted is not None:
            status, answer, headers = scripted
        elif path == CHAT_PATH:
            status, answer, headers = 200, self.answer([]), {}
        elif path == RESPONSES_PATH:
            status, answer, headers = 200, self.response([]), {}
        else:
            status, answer, headers = 404, self.error(f"no route {path}", type="invalid_request_error"), {}
        if isinstance(answer, (dict, list)):
            data = json.dumps(answer).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            data = answer.encode() if isinstance(answer, str) else bytes(answer)
            headers.setdefault("Content-Type", "application/json")
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
