"""The other side of delivery, real and local: an SMTP server (aiosmtpd) and an HTTP gateway that keeps
the documented contract (musrenbang/delivery/channels.py) — it takes each message id once — and can be
told to fail (503), to refuse an address (4xx), or to hold a request before answering. The SMTP server can
be slow (at RCPT, or in a content filter before it answers a message's text), relay only for a client
that logged in, and tells what it went through (`events`)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    id: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class GatewayStub:
    """`with GatewayStub() as gateway:` serves on 127.0.0.1 until the block ends."""

    port: int = 0
    credentials: tuple[str, str] | None = None
    failing: int = 0
    """Answer this many next requests with 503 (then normally)."""
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    """to -> (status, body) answered for that address."""
    hold: set[str] = field(default_factory=set)
    """Message ids whose first request is held, unanswered, until `release` is set."""
    requests: list[Received] = field(default_factory=list)
    delivered: dict[str, int] = field(default_factory=dict)
    """id -> how many times it was handed on to the phone network (the contract: once)."""
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    path: str = "/kirim"
    """Where it listens: any other path is answered 404, as any web server does."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        auth = f"{self.credentials[0]}:{self.credentials[1]}@" if self.credentials else ""
        return f"http://{auth}127.0.0.1:{self.port}/kirim"

    def seen(self, message_id: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.id == message_id)

    def __enter__(self) -> GatewayStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real gateway
            # Headers and body leave in two writes: without this, Nagle's algorithm holds the body until the
            # client's delayed ACK of the headers, 40 ms per request.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = stub._answer(self.path, dict(self.headers.items()), raw)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    if status == 503:
                        self.send_header("Retry-After", "1")
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the client is gone (killed while we held its request)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, bytes]:
        headers = {k.lower(): v for k, v in headers.items()}
        if path != self.path:
            with self._lock:
                self.requests.append(Received("", {}, headers, time.monotonic()))
            return 404, b'{"error": "not found"}'
        if self.credentials and headers.get("authorization") != _basic(*self.credentials):
            return 401, b'{"error": "unauthorized"}'
        body = json.loads(raw)
        with self._lock:
            self.requests.append(Received(body.get("id", ""), body, headers, time.monotonic()))
            if self.failing > 0:
                self.failing -= 1
                return 503, b'{"error": "busy"}'
            if body.get("to") in self.refused:
                status, text = self.refused[body["to"]]
                return status, text.encode()
            if body["id"] in self.delivered:  # the idempotency key: taken already, nothing sent again
                return 200, b'{"status": "duplicate"}'
            self.delivered[body["id"]] = 1  # taken: from here on it reaches the phone, answer or not
            held = body["id"] in self.hold
            if held:
                self.hold.discard(body["id"])
        if held:
            self.holding.set()
            self.release.wait(60)
        return 200, b'{"status": "queued"}'


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class SmtpSink:
    """`with SmtpSink() as smtp:` a real SMTP server on 127.0.0.1 that keeps what it receives (no TLS:
    on this machine, which is where the worker allows credentials without it). `refuse` maps a recipient
    to the SMTP reply given to RCPT TO. `relay_needs_login`: with credentials, a client that did not log in
    is refused at RCPT with "554 5.7.1 Relay access denied" (as Postfix's submission port), instead of
    at MAIL. `rcpt_delay`: seconds before answering RCPT; `data_delay`: seconds a content filter takes
    before the message's text is answered (and only then taken: a client that leaves meanwhile leaves
    nothing behind); `accept_first`: the text is taken at once and only the answer is slow."""

    def __init__(self, *, credentials: tuple[str, str] | None = None, refuse: dict[str, str] | None = None,
                 relay_needs_login: bool = False, rcpt_delay: float = 0.0, data_delay: float = 0.0,
                 accept_first: bool = False, tls: ssl.SSLContext | None = None,
                 implicit_tls: bool = False) -> None:  # fmt: skip
        self.port = free_port()
        self.tls = tls
        """With it: STARTTLS offered and required (or, with `implicit_tls`, TLS from the first byte)."""
        self.implicit_tls = implicit_tls
        self.credentials = credentials
        self.refuse = refuse or {}
        self.relay_needs_login = relay_needs_login
        self.rcpt_delay = rcpt_delay
        self.data_delay = data_delay
        self.accept_first = accept_first
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.logins: list[str] = []
        self.events: list[tuple[float, str]] = []
        """(time.monotonic(), what): "RCPT", "DATA" (the text received), "accepted", "QUIT"."""
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        auth = f"{self.credentials[0]}:{self.credentials[1]}@" if self.credentials else ""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{auth}127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpSink:
        kwargs: dict[str, Any] = {}
        if self.credentials:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False,
                          auth_required=not self.relay_needs_login)  # fmt: skip
        if self.tls is not None and self.implicit_tls:
            kwargs.update(ssl_context=self.tls)
        elif self.tls is not None:
            kwargs.update(tls_context=self.tls, require_starttls=True)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._controller is not None
        self._controller.stop()

    def _authenticate(self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str,
                      data: object) -> AuthResult:  # fmt: skip
        ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == self.credentials
        if ok and isinstance(data, LoginPassword):
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 235 or 535 itself

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope, address: str,  # noqa: N802
                          options: list[str]) -> str:  # fmt: skip
        self.events.append((time.monotonic(), "RCPT"))
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        if address in self.refuse:
            return self.refuse[address]
        if self.relay_needs_login and self.credentials and not session.authenticated:
            return f"554 5.7.1 <{address}>: Relay access denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.events.append((time.monotonic(), "DATA"))
        if self.data_delay and not self.accept_first:
            await asyncio.sleep(self.data_delay)  # cancelled, with nothing taken, if the client leaves
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        self.events.append((time.monotonic(), "accepted"))
        if self.data_delay and self.accept_first:
            await asyncio.sleep(self.data_delay)
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.events.append((time.monotonic(), "QUIT"))
        return "221 Bye"

    def seen(self, what: str) -> int:
        return sum(1 for _, e in self.events if e == what)
