"""A real local HTTP server speaking the OpenAI chat-completions protocol, for tests.

Standard library only (``http.server.ThreadingHTTPServer`` on 127.0.0.1, port 0, background thread).

- ``GET /v1/models`` lists the configured model names.
- ``POST /v1/chat/completions``:
  * a medzero judge prompt (the JSON block of :mod:`medzero_rewards.judge.prompt`) is graded from a
    deterministic table ``{(answer, gold_name): grade}`` (case-insensitive); answers not in the
    table get 2 if they equal a reference name, 1 if they equal a broader category, else 0;
  * any other prompt is answered by ``chat`` (a callable taking the request body, or a table from
    the last user message to the reply), so lm-eval's ``local-chat-completions`` can run against it.
- Faults can be injected per request number or per answer: HTTP errors (e.g. 429 with
  ``Retry-After``, 500), slow replies (past the client timeout), a malformed JSON body, empty
  content, free-text content, or a dropped connection.
- It counts requests and the maximum number in flight at once.
- ``echo_authorization=True`` makes every error body quote the request's ``Authorization`` and
  ``X-Api-Key`` headers, as some proxies' 401 pages do (for the secret-scrubbing tests).

Use as a context manager::

    with FakeOpenAIServer(grades={("lou gehrig disease", "amyotrophic lateral sclerosis"): 2}) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal

from medzero_rewards.judge.prompt import extract_payload

if TYPE_CHECKING:
    from typing_extensions import Self

FaultKind = Literal["status", "slow", "malformed_body", "empty_content", "text", "drop"]
ChatResponder = Callable[[dict[str, Any]], str]


@dataclass
class Fault:
    """One injected misbehaviour."""

    kind: FaultKind
    status: int = 500
    retry_after: str | None = None
    delay_s: float = 0.0
    text: str = ""

    @classmethod
    def http(cls, status: int, retry_after: str | None = None) -> Fault:
        """An HTTP error status, optionally with a ``Retry-After`` header."""
        return cls("status", status=status, retry_after=retry_after)

    @classmethod
    def slow(cls, delay_s: float) -> Fault:
        """Wait ``delay_s`` before answering normally (use a longer delay than the client timeout)."""
        return cls("slow", delay_s=delay_s)

    @classmethod
    def malformed(cls) -> Fault:
        """A 200 reply whose body is not JSON."""
        return cls("malformed_body")

    @classmethod
    def empty(cls) -> Fault:
        """A well-formed completion with empty content."""
        return cls("empty_content")

    @classmethod
    def reply(cls, text: str) -> Fault:
        """A well-formed completion whose content is ``text`` (e.g. prose the parser cannot read)."""
        return cls("text", text=text)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without answering."""
        return cls("drop")


@dataclass
class _Rule:
    fault: Fault
    requests: frozenset[int] | None
    answer: str | None
    times: int | None
    fired: int = 0

    def matches(self, number: int, answers: list[str]) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if self.requests is not None and number not in self.requests:
            return False
        return self.answer is None or self.answer in answers


@dataclass
class RequestRecord:
    """What the server saw for one chat-completions request."""

    number: int
    body: dict[str, Any]
    authorization: str | None
    answers: list[str] = field(default_factory=list)
    fault: Fault | None = None


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


class FakeOpenAIServer:
    """An OpenAI-compatible test server with a grading table, canned chat replies and fault injection."""

    def __init__(
        self,
        *,
        grades: Mapping[tuple[str, str], int] | None = None,
        chat: ChatResponder | Mapping[str, str] | None = None,
        models: Iterable[str] = ("fake-judge",),
        delay_s: float = 0.0,
        supports_json_schema: bool = True,
        reply_style: Literal["json", "fenced", "text"] = "json",
        api_key: str | None = None,
        echo_authorization: bool = False,
    ) -> None:
        self.grades = {(_norm(a), _norm(g)): int(v) for (a, g), v in (grades or {}).items()}
        self.chat = chat
        self.models = list(models)
        self.delay_s = delay_s
        self.supports_json_schema = supports_json_schema
        self.reply_style = reply_style
        self.api_key = api_key
        self.echo_authorization = echo_authorization
        self.records: list[RequestRecord] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeOpenAIServer:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                server._handle_get(self)

            def do_POST(self) -> None:
                server._handle_post(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (slow replies in progress are cut short)."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # ------------------------------------------------------------------ configuration and counters

    def add_fault(
        self,
        fault: Fault,
        *,
        requests: Iterable[int] | None = None,
        answer: str | None = None,
        times: int | None = None,
    ) -> None:
        """Inject ``fault`` on the given 1-based request numbers and/or requests containing ``answer``,
        at most ``times`` times (``None`` = every match). The first matching rule wins."""
        with self._lock:
            self._rules.append(
                _Rule(fault, frozenset(requests) if requests is not None else None, _norm(answer) if answer else None, times)
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def total_requests(self) -> int:
        """Chat-completions requests received (faulty ones included)."""
        with self._lock:
            return len(self.records)

    def requests_for(self, answer: str) -> int:
        """How many judge requests contained ``answer``."""
        key = _norm(answer)
        with self._lock:
            return sum(key in r.answers for r in self.records)

    def reset_counters(self) -> None:
        with self._lock:
            self.records.clear()
            self.max_in_flight = 0

    # ------------------------------------------------------------------ handlers

    def _send_json(self, handler: BaseHTTPRequestHandler, status: int, payload: Any, headers: Mapping[str, str] = {}) -> None:
        data = json.dumps(payload).encode("utf-8")
        self._send_raw(handler, status, data, headers)

    def _send_raw(self, handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: Mapping[str, str] = {}) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): fine
            pass

    def _error(self, handler: BaseHTTPRequestHandler, status: int, message: str, headers: Mapping[str, str] = {}) -> None:
        error: dict[str, Any] = {"message": message, "type": "fake_error", "code": status}
        if self.echo_authorization:
            auth = handler.headers.get("Authorization")
            error["message"] = f"{message}; request had Authorization: {auth}"
            error["received_headers"] = {"authorization": auth, "x-api-key": handler.headers.get("X-Api-Key")}
        self._send_json(handler, status, {"error": error}, headers)

    def _handle_get(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path.rstrip("/") in ("/v1/models", "/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "medzero-tests"} for m in self.models]
            self._send_json(handler, 200, {"object": "list", "data": data})
        else:
            self._error(handler, 404, f"no route {handler.path}")

    def _handle_post(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._error(handler, 404, f"no route {handler.path}")
            return
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            self._error(handler, 400, "request body is not JSON")
            return
        payload = self._judge_payload(body)
        answers = [_norm(str(c.get("diagnosis", ""))) for c in payload.get("candidates", [])] if payload else []
        with self._lock:
            number = len(self.records) + 1
            record = RequestRecord(number, body, handler.headers.get("Authorization"), answers)
            self.records.append(record)
            rule = next((r for r in self._rules if r.matches(number, answers)), None)
            if rule is not None:
                rule.fired += 1
                record.fault = rule.fault
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            self._respond(handler, body, payload, record.fault)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _respond(self, handler: BaseHTTPRequestHandler, body: dict[str, Any], payload: dict[str, Any] | None, fault: Fault | None) -> None:
        if self.api_key is not None and handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            self._error(handler, 401, "invalid API key")
            return
        if self.delay_s > 0 and self._stopping.wait(self.delay_s):
            return
        if fault is not None and fault.kind == "slow" and self._stopping.wait(fault.delay_s):
            return
        if fault is not None and fault.kind == "drop":
            handler.close_connection = True
            try:
                handler.connection.shutdown(2)
            except OSError:
                pass
            return
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._error(handler, fault.status, f"injected HTTP {fault.status}", headers)
            return
        if fault is not None and fault.kind == "malformed_body":
            self._send_raw(handler, 200, b'{"id": "chatcmpl-broken", "choices": [{"index": 0, "message": {"rol')
            return
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema" and not self.supports_json_schema:
            self._error(handler, 400, "response_format json_schema is not supported by this server")
            return
        model = body.get("model")
        if model not in self.models:
            self._error(handler, 404, f"model {model!r} not found")
            return
        if fault is not None and fault.kind == "empty_content":
            content = ""
        elif fault is not None and fault.kind == "text":
            content = fault.text
        elif payload is not None:
            content = self._judge_reply(payload)
        else:
            reply = self._chat_reply(body)
            if reply is None:
                self._error(handler, 400, "fake server has no canned reply for this prompt")
                return
            content = reply
        self._send_json(handler, 200, self._completion(body, content))

    # ------------------------------------------------------------------ content

    @staticmethod
    def _judge_payload(body: dict[str, Any]) -> dict[str, Any] | None:
        messages = body.get("messages") or []
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        if not users or not isinstance(users[-1].get("content"), str):
            return None
        payload = extract_payload(users[-1]["content"])
        return payload if payload is not None and "candidates" in payload else None

    def grade(self, answer: str, gold_names: Iterable[str], broader_names: Iterable[str]) -> int:
        """The table's grade for one answer."""
        a = _norm(answer)
        gold = [_norm(g) for g in gold_names]
        table = [self.grades[(a, g)] for g in gold if (a, g) in self.grades]
        table += [self.grades[(a, _norm(b))] for b in broader_names if (a, _norm(b)) in self.grades]
        if table:
            return max(table)
        if a in gold:
            return 2
        if a in {_norm(b) for b in broader_names}:
            return 1
        return 0

    def _judge_reply(self, payload: dict[str, Any]) -> str:
        gold = payload.get("reference_names", [])
        broader = payload.get("broader_categories", [])
        grades = [
            {"rank": c.get("rank"), "grade": self.grade(str(c.get("diagnosis", "")), gold, broader)}
            for c in payload.get("candidates", [])
        ]
        if self.reply_style == "fenced":
            return "Here is my assessment.\n```json\n" + json.dumps({"grades": grades}) + "\n```"
        if self.reply_style == "text":
            return "\n".join(f"Candidate {g['rank']}: grade: {g['grade']}" for g in grades)
        return json.dumps({"grades": grades})

    def _chat_reply(self, body: dict[str, Any]) -> str | None:
        if self.chat is None:
            return None
        if callable(self.chat):
            return self.chat(body)
        messages = body.get("messages") or []
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        last = users[-1].get("content") if users else None
        return self.chat.get(last) if isinstance(last, str) else None

    @staticmethod
    def _completion(body: dict[str, Any], content: str) -> dict[str, Any]:
        finish = "stop"
        stops = body.get("stop")
        for stop in [stops] if isinstance(stops, str) else (stops or []):
            if stop and stop in content:
                content = content[: content.index(stop)]
        prompt_chars = sum(len(m.get("content") or "") for m in body.get("messages", []) if isinstance(m, dict))
        usage_in = prompt_chars // 4 + 1
        usage_out = len(content) // 4 + 1
        return {
            "id": f"chatcmpl-fake-{time.monotonic_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish, "logprobs": None}
            ],
            "usage": {"prompt_tokens": usage_in, "completion_tokens": usage_out, "total_tokens": usage_in + usage_out},
        }


try:  # a ready-made fixture: `from fake_openai_server import fake_openai` in a test module
    import pytest

    @pytest.fixture
    def fake_openai() -> Iterable[FakeOpenAIServer]:
        """A started :class:`FakeOpenAIServer` with default settings (configure it in the test)."""
        with FakeOpenAIServer() as server:
            yield server

except ImportError:  # pragma: no cover - the module also works outside pytest
    pass
