"""A loopback OpenAI-compatible HTTP server for tests, on 127.0.0.1 in a daemon thread.

It serves ``POST /v1/chat/completions`` and ``GET /v1/models`` with the standard library's
``ThreadingHTTPServer``: answers come from scripted replies (or a function of the request),
every request is kept in ``requests``, and faults are injected one per request.

Capability profiles emulate real servers so that fallbacks can be tested:

``"openai"``
    Everything: tools, ``tool_choice`` honoured (``"none"`` drops scripted tool calls; a forced
    function or ``"required"`` turns a scripted JSON-object text into that call's arguments),
    ``response_format`` of every type, streaming with tool calls.
``"no_json_schema"``
    400 to ``response_format.type == "json_schema"`` (``json_object`` is fine), like some
    vLLM and llama.cpp builds.
``"no_tool_choice"``
    Accepts ``tool_choice`` but ignores it: the scripted reply is sent as it is.
``"no_stream_tools"``
    400 to a streamed request (``stream: true``) that carries ``tools``; the same request
    without streaming works.
``"text_only"``
    400 to any request with ``tools`` or with any ``response_format``.

A rejected request does not use up a scripted reply, so the client's fallback request gets it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flowagents.models._scripted import Reply, reply_message
from flowagents.testing._completions import (
    PROFILES,
    Profile,
    ReplyFunction,
    ScriptError,
    apply_tool_choice,
    check_profile,
    completion_body,
    error_body,
    stream_chunks,
)


class Fault(BaseModel):
    """One injected misbehaviour, used up by the next request.

    ``status`` answers that status with ``headers`` and an OpenAI-style error body; ``delay``
    waits that many seconds first (then answers normally when nothing else is set); ``hang``
    never answers until the server stops; ``malformed`` answers 200 with invalid JSON;
    ``disconnect`` closes the connection without answering.
    """

    model_config = ConfigDict(frozen=True)

    status: int | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    message: str | None = None
    delay: float = 0.0
    hang: bool = False
    malformed: bool = False
    disconnect: bool = False


class RecordedRequest(BaseModel):
    """One request the server received; ``body`` is None when it was not JSON."""

    model_config = ConfigDict(frozen=True)

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None = None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) leaves a broken pipe behind: that is expected.
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._untrack(self.connection)

    def do_GET(self) -> None:
        owner = self.server.owner
        owner._record(self, None)
        if self.path.rstrip("/") != "/v1/models":
            self._send_json(404, error_body(f"no route GET {self.path}", 404))
            return
        model = {"id": owner.model, "object": "model", "created": 0, "owned_by": "flowagents"}
        self._send_json(200, {"object": "list", "data": [model]})

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        owner._record(self, body if isinstance(body, dict) else None)
        fault = owner._next_fault()
        if fault is not None and not self._apply_fault(fault):
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, error_body(f"no route POST {self.path}", 404))
            return
        expected = f"Bearer {owner.api_key}"
        if owner.api_key is not None and self.headers.get("Authorization") != expected:
            self._send_json(401, error_body("Incorrect API key provided", 401))
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_json(400, error_body("the body must be a JSON object with messages", 400))
            return
        if not body.get("model"):
            self._send_json(400, error_body("'model' is a required property", 400))
            return
        rejected = check_profile(owner.profile, body)
        if rejected is not None:
            self._send_json(400, error_body(f"{rejected} (profile {owner.profile})", 400))
            return
        self._answer(body)

    def _apply_fault(self, fault: Fault) -> bool:
        """Act out ``fault``; True when the request should then be answered normally."""
        stopping = self.server.owner._stopping
        if fault.hang:
            stopping.wait()
            self.close_connection = True
            return False
        if fault.delay and stopping.wait(fault.delay):
            self.close_connection = True
            return False
        if fault.disconnect:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return False
        if fault.malformed:
            self._send_bytes(200, b'{"id": "chatcmpl-broken", "choices": [', "application/json")
            return False
        if fault.status is not None:
            text = fault.message or f"injected fault: status {fault.status}"
            self._send_json(fault.status, error_body(text, fault.status), fault.headers)
            return False
        return True

    def _answer(self, body: dict[str, Any]) -> None:
        owner = self.server.owner
        try:
            number, reply = owner._next_reply(body)
            if isinstance(reply, Mapping) and "chunks" in reply:
                self._stream_raw(body, reply["chunks"])
                return
            if isinstance(reply, Mapping) and ("choices" in reply or "error" in reply):
                full = dict(reply)
                message = _first_message(full)
            else:
                full = None
                message = reply_message(reply, number)
            if owner.profile != "no_tool_choice":
                message = apply_tool_choice(message, body)
        except ScriptError as exc:
            # x-should-retry: false so that the client reports it at once.
            headers = {"x-should-retry": "false"}
            self._send_json(500, error_body(f"loopback script: {exc}", 500), headers)
            return
        if body.get("stream") and full is not None and "error" in full:
            # A server failing mid-stream (llama.cpp, vLLM) sends the error as an event.
            self._send_events([full])
        elif body.get("stream"):
            self._stream(body, message, number)
        elif full is not None:
            self._send_json(200, full)
        else:
            self._send_json(200, completion_body(body, message, number, usage=owner.usage))

    def _stream(self, body: dict[str, Any], message: dict[str, Any], number: int) -> None:
        self._send_events(stream_chunks(body, message, number, usage=self.server.owner.usage))

    def _stream_raw(self, body: dict[str, Any], chunks: object) -> None:
        """Send a ``{"chunks": [...]}`` reply's chunks as they are (streamed requests only)."""
        if not body.get("stream") or not isinstance(chunks, list):
            message = "a chunks reply answers only a streamed request, with a list of chunks"
            headers = {"x-should-retry": "false"}
            self._send_json(500, error_body(f"loopback script: {message}", 500), headers)
            return
        self._send_events(chunks)

    def _send_events(self, chunks: Iterable[object]) -> None:
        """Answer 200 with each chunk as an SSE ``data:`` event, then ``data: [DONE]``."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks]
        events.append("data: [DONE]\n\n")
        for event in events:
            data = event.encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_json(
        self, status: int, payload: object, headers: Mapping[str, str] | None = None
    ) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), "application/json", headers)

    def _send_bytes(
        self,
        status: int,
        data: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


class LoopbackServer:
    """An OpenAI-compatible server on ``127.0.0.1`` (a free port) for tests.

    ``replies`` is a list answered in order (text; a dict with ``content`` and/or
    ``tool_calls``, each call either ``{"name", "arguments"}`` or the OpenAI form; a full
    ``chat.completion`` body with ``choices``, sent as it is; or ``{"chunks": [...]}``, the
    chunks of a streamed answer, sent as they are) or a function of the parsed request body
    returning one of those. Without replies the server echoes the last message.
    ``api_key`` makes it answer 401 to any other key; ``usage=False`` leaves ``usage`` out.

    Use it as a context manager, or call ``start()`` and ``stop()``::

        with LoopbackServer(replies=["hello"]) as server:
            client = OpenAIChatModel("gpt-x", base_url=server.base_url, api_key="k")
    """

    def __init__(
        self,
        replies: Iterable[Reply] | ReplyFunction | None = None,
        *,
        profile: Profile = "openai",
        api_key: str | None = None,
        model: str = "loopback-model",
        usage: bool = True,
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
        self.profile: Profile = profile
        self.api_key = api_key
        self.model = model
        self.usage = usage
        self._lock = threading.Lock()
        self._function: ReplyFunction | None = None
        self._replies: deque[Reply] = deque()
        self._answered = 0
        self._faults: deque[Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        # Without any script the server echoes; a script that is used up is an error.
        self._scripted = replies is not None
        if callable(replies):
            self._function = replies
        elif replies is not None:
            self._replies.extend(replies)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> LoopbackServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _HTTPServer(("127.0.0.1", 0), _Handler)
        server.owner = self
        self._server = server
        self._port = int(server.server_address[1])
        # A short poll interval keeps stop() quick (shutdown waits for the next poll).
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="loopback-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; releases hanging requests and closes open connections."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what tests use ------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (kept after ``stop()`` so that tests can still name the URL)."""
        if self._port is None:
            raise RuntimeError("the loopback server was never started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, what an OpenAI client takes as ``base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def remaining(self) -> int:
        """How many scripted replies are still unused."""
        with self._lock:
            return len(self._replies)

    def add_replies(self, *replies: Reply) -> None:
        """Append scripted replies (answered after the ones already queued)."""
        with self._lock:
            self._scripted = True
            self._replies.extend(replies)

    def reply_with(self, function: ReplyFunction) -> None:
        """Answer every following request with ``function(body)``."""
        with self._lock:
            self._function = function

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each following request uses up one, in order."""
        with self._lock:
            self._faults.extend(faults)

    # -- used by the handler -------------------------------------------------------------

    def _track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _record(self, handler: _Handler, body: dict[str, Any] | None) -> None:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        request = RecordedRequest(
            method=handler.command, path=handler.path, headers=headers, body=body
        )
        with self._lock:
            self._requests.append(request)

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _next_reply(self, body: dict[str, Any]) -> tuple[int, Reply]:
        with self._lock:
            self._answered += 1
            number = self._answered
            function = self._function
            reply = self._replies.popleft() if function is None and self._replies else None
        if function is not None:
            return number, function(body)
        if reply is not None:
            return number, reply
        if self._scripted:
            raise ScriptError(f"the script has no reply left (request {number})")
        return number, _echo(body)


def _first_message(body: Mapping[str, Any]) -> dict[str, Any]:
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, Mapping) else None
    return dict(message) if isinstance(message, Mapping) else {"role": "assistant"}


def _echo(body: Mapping[str, Any]) -> str:
    messages = body.get("messages") or [{}]
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    return str(last.get("content") or "")
