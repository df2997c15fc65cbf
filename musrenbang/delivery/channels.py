"""The ways a message leaves: e-mail through an SMTP server, SMS and WhatsApp through an HTTP gateway.

Each adapter sends one outbox message and says what became of it: delivered (the other side took it),
try again later (a network problem, a busy or misconfigured server: nothing is lost, the worker backs
off), or failed for good (the other side refused this message itself, e.g. a number that does not
exist). A problem of ours — wrong credentials, a wrong From address, a wrong gateway path, a mail server
that will not relay for us, a server that will not do TLS — is never the message's fault: it is retried,
so fixing the configuration delivers everything that waited (for as long as the worker keeps retrying:
see delivery/worker.py, and `musrenbang outbox retry` for what it gave up on).

Whatever the other side answers reaches `outbox.last_error`, the staff page and the log only through
`scrubbed`: control characters (a NUL byte, which PostgreSQL's text cannot hold, line breaks that would
forge log lines) are taken out, and the message's address is masked in every spelling a server may give
it (any case of an e-mail address; a phone number with or without +62 or 0, with spaces, dashes, dots).

**The gateway contract** (`MUSRENBANG_SMS_GATEWAY_URL`). One JSON POST per message:

    POST <url>            Content-Type: application/json; Idempotency-Key: <id>
    {"id": "<outbox id, a UUID>", "channel": "sms" | "whatsapp", "to": "+62…", "text": "<body> <link>"}

(then, for a message of a subscription, how to stop them: `text_message`).

Credentials in the URL (`https://user:pass@host/path`) are sent as HTTP Basic, and only over HTTPS unless
the gateway runs on this machine (config.py refuses the rest). Answers: any 2xx means the gateway has
taken the message. 400, 410, 413 and 422 — answers about this message (a number that cannot be an SMS
address, one that no longer exists, a text too long, one the gateway cannot process) — mean it can never
be sent: it is marked failed with the answer. Every other answer means try again later, after
`Retry-After` seconds if given (at most an hour): 408, 429 and 5xx (and a timeout or a refused
connection); 401, 403 and 407 (our credentials); 404, 405, 415, a redirect and the other 4xx, which
speak of the endpoint (a typo in the URL's path) rather than of the message.

The gateway MUST treat `id` as an idempotency key: a second request with an `id` it has already taken is
answered 2xx and sends nothing. That is what makes a message reach the resident once: the worker commits
"delivered" only after the gateway's answer, so a crash (or a lost connection to the database) between the
gateway taking the message and our commit leaves it pending, and it is sent again with the same `id`.

**E-mail** (`MUSRENBANG_SMTP_URL`). smtp:// upgrades to TLS with STARTTLS whenever the server offers it;
if it does not, the message still goes in clear unless credentials are configured for a host that is not
this machine: a password is never sent in clear across a network (the message waits, with the reason as
its last error). smtps:// speaks TLS from the first byte. Certificates are verified against the system's
trust store. SMTP has no idempotency key; its `Message-ID` is derived from the outbox id
(`<id@public host>`), so a copy resent after a crash is recognisable as the same message (many mail
clients and providers fold such duplicates into one).

Which SMTP refusals are final (`smtp_verdict`): the enhanced status code (RFC 3463, `5.1.1` after the
reply code) decides when the server gives one. Final: bad destination mailbox or system (5.1.x, but
5.1.7 and 5.1.8 are our sender), a disabled mailbox (5.2.x, but 5.2.2 "mailbox full" is transient by
RFC 3463), a message too big (5.3.4) or of a content the recipient's system refuses (5.6.x), a domain
that cannot be routed to (5.4.4). Retried: every 4.x.x, the mail system (5.3.x), the network (5.4.x),
the protocol (5.5.x) and security and policy (5.7.x: relay access denied, authentication required, TLS
required, SPF/DKIM/DMARC) — our configuration, or the server's, not the resident's address. Without an
enhanced code the reply code decides: 550, 551, 552, 553, 501, 521 and 556 are final unless the text
speaks of relaying, authentication, TLS or the sender; everything else (530, 535, 554, …) is retried.

**A send cut short.** A message's whole send has a deadline (SEND_DEADLINE); a longer one is cut (the
connection shut) and tried again. When the server process stops, the worker first tells each channel
(`stopping`): an e-mail that has not yet begun its DATA — the step from which the server may take the
message — is cut at once, nothing sent; one past it is left to hear the server's answer until the
worker's grace runs out (`abort`), since cutting it could lose an acceptance and send it twice. A gateway
request is left to finish, then cancelled (resending it is harmless: the id). A send cut by a stop says
so (`Outcome.interrupted`), and the worker makes the message due again at once, counting no attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import smtplib
import socket
import ssl
import threading
import unicodedata
import uuid
from collections.abc import Callable
from email.errors import HeaderParseError
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import httpx
import msgspec

from musrenbang.config import Settings, is_local_host
from musrenbang.domain.notices import SMS_LENGTH

T = TypeVar("T")

SEND_TIMEOUT = 20.0
"""Seconds any one network step of a send may take (connect, each SMTP command, the gateway's answer)."""
SEND_DEADLINE = 120.0
"""Seconds a whole send may take, however its steps trickle (a server that answers a byte every 19 s
never trips SEND_TIMEOUT): then it is cut and tried again later. Well under the worker's lease on a
message (delivery/worker.py, LEASE), so that no other sender can take a message while it is being sent."""
CUT_WAIT = 0.5
"""Seconds a cut e-mail's thread is waited for: its connection is shut, so it ends at once unless it is
still connecting (nothing sent yet), which no one can interrupt; it is then left to end by itself."""
QUIT_TIMEOUT = 2.0
"""Seconds the SMTP server's answer to QUIT is waited for once the message is accepted."""
MAX_RETRY_AFTER = 3600.0


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """An outbox row as a channel needs it."""

    id: uuid.UUID
    channel: str
    address: str
    title: str
    body: str
    link: str
    """A path (`/lacak/ABCD-EFGH`); the public address is put in front of it."""
    stop_token: str | None = None
    """The subscription's secret, for the stop link; None for messages that belong to no subscription."""


class Outcome(msgspec.Struct, frozen=True):
    status: Literal["delivered", "retry", "failed"]
    error: str | None = None
    retry_after: float | None = None
    """Seconds the other side asked us to wait before trying again (HTTP Retry-After)."""
    interrupted: bool = False
    """A retry because our own stop cut the send short: nothing to hold against the message or the other
    side (no attempt counted, no back-off)."""


DELIVERED = Outcome("delivered")


class Channel(Protocol):
    async def send(self, message: Message) -> Outcome: ...

    def stopping(self) -> None:
        """The process is stopping: begin nothing that cannot be taken back, and cut what can be cut
        without losing or repeating anything; sends past that point go on."""

    def abort(self) -> None:
        """Cut every send still under way: each returns at once with an interrupted outcome."""

    async def close(self) -> None: ...


CHANNELS = ("sms", "whatsapp", "email")
"""Every channel the outbox knows (migration 0025)."""


def configured_names(settings: Settings) -> set[str]:
    """The channels whose settings are given (so that their messages can leave)."""
    return ({"email"} if settings.smtp_url else set()) | ({"sms", "whatsapp"} if settings.sms_gateway_url else set())


def configured_channels(settings: Settings) -> dict[str, Channel]:
    """channel name -> adapter, for the channels whose settings are given."""
    found: dict[str, Channel] = {}
    if settings.smtp_url:
        found["email"] = SmtpChannel(settings.smtp_url, settings.public_url)
    if settings.sms_gateway_url:
        gateway = GatewayChannel(settings.sms_gateway_url, settings.public_url)
        found["sms"] = found["whatsapp"] = gateway
    return found


def full_link(public_url: str, link: str) -> str:
    """The address a message points to: `link` (a path) behind the public address."""
    if not link or link.startswith(("http://", "https://")):
        return link
    return public_url.rstrip("/") + "/" + link.lstrip("/")


STOP_LINE = "Berhenti menerima kabar ini"
"""Before the stop link of an e-mail and of a WhatsApp message."""
SMS_STOP = "Hentikan kabar: buka tautan itu."
"""An SMS's stop hint, after its link: the proposer's tracking page (the only page a number's messages link
to), where the proposer stops every message about their proposal (http/tracking.py, `stop_news`)."""


def text_message(message: Message, public_url: str) -> str:
    """What an SMS or WhatsApp message says: the body, then the link; then, for a message of a
    subscription, how to stop them, as every e-mail says it (`SmtpChannel.compose`). WhatsApp has room for
    the stop link itself, as in an e-mail. An SMS's words (body and hint) are kept within SMS_LENGTH, with
    the link beside them, and a second, long link would double it: so a short hint pointing at the
    tracking page it links to, when the body leaves room for it.

    >>> m = Message(id=uuid.UUID(int=1), channel="sms", address="+6281234567890", title="t",
    ...             body="Usulan ABCD1234 lolos verifikasi.", link="/lacak/ABCD1234", stop_token="t0k3n")
    >>> text_message(m, "https://x.id")
    'Usulan ABCD1234 lolos verifikasi. https://x.id/lacak/ABCD1234 Hentikan kabar: buka tautan itu.'
    >>> text_message(msgspec.structs.replace(m, channel="whatsapp"), "https://x.id").splitlines()[1]
    'Berhenti menerima kabar ini: https://x.id/berhenti/t0k3n'
    >>> text_message(msgspec.structs.replace(m, body="x" * 140), "https://x.id").endswith("/lacak/ABCD1234")
    True
    """
    text = f"{message.body} {full_link(public_url, message.link)}".strip()
    if not message.stop_token:
        return text
    if message.channel == "whatsapp":
        return f"{text}\n{STOP_LINE}: {full_link(public_url, f'/berhenti/{message.stop_token}')}"
    if message.link.startswith("/lacak/") and len(message.body) + 1 + len(SMS_STOP) <= SMS_LENGTH:
        return f"{text} {SMS_STOP}"
    return text


def mask_address(address: str) -> str:
    """An address as staff may see it: enough to tell two apart, not enough to write to.

    >>> mask_address("+6281234567890"), mask_address("budi@example.org"), mask_address("+62812")
    ('+62812****7890', 'b***@example.org', '+62***12')
    """
    if "@" in address:
        local, _, domain = address.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if len(address) >= 10:
        return f"{address[:6]}****{address[-4:]}"
    return f"{address[:3]}***{address[-2:]}" if len(address) > 5 else "***"


SCRUBBED_LENGTH = 500
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Unicode categories taken out of what a server sends back: controls (NUL, line breaks, escapes), format
characters (bidirectional overrides that would reorder a staff page), lone surrogates, private and
unassigned code points."""
_SEPARATOR = r"[\s\-.()/]*"
"""What a server may write between the digits of a phone number: 0812-3456-7890, (021) 555.1234."""
MIN_MASKED_DIGITS = 6
"""A phone number is matched in any spelling only when it has at least this many digits after its country
code or trunk zero (every Indonesian number has 8 to 12); a shorter one only as written."""


def printable(text: str) -> str:
    r"""`text` without control characters and the like (each run of them and of spaces becomes one space),
    as PostgreSQL's text can hold it and a log line or a page can show it.

    >>> printable("nomor\x00tidak\r\n valid\u202e"), printable("a\udc80b")
    ('nomor tidak valid', 'a b')
    """
    cleaned = "".join(" " if unicodedata.category(ch) in _UNPRINTABLE else ch for ch in text)
    return " ".join(cleaned.split())


def address_pattern(address: str) -> re.Pattern[str] | None:
    """The spellings of `address` a server may write back: an e-mail address in any case (or with its
    @ percent-encoded), a phone number with its digits grouped any way and with or without +62, 0062, 62
    or 0 in front; None for an address too short to look for.

    >>> pattern = address_pattern("+6281234567890")
    >>> [bool(pattern.fullmatch(f)) for f in ("0812-3456-7890", "+62 812 3456 7890", "81234567890",
    ...                                         "(+62) 812.3456.7890", "6281234567890", "0081234567899")]
    [True, True, True, True, True, False]
    >>> bool(address_pattern("budi@example.org").fullmatch("BUDI@Example.ORG"))
    True
    """
    address = address.strip()
    if "@" in address:
        local, _, domain = address.rpartition("@")
        if len(address) < 5:
            return None
        return re.compile(re.escape(local) + "(?:@|%40)" + re.escape(domain), re.IGNORECASE)
    digits = "".join(ch for ch in address if ch.isascii() and ch.isdigit())
    indonesian = r"(?:(?:\(?(?:(?:\+|00)\s*)?62\)?|\(?0\)?)" + _SEPARATOR + ")?"  # +62, (+62), 0062, 62, 0, (0
    if address.startswith("+") and digits.startswith("62") or address.startswith("62"):
        national, prefix = digits[2:], indonesian
    elif address.startswith("0"):
        national, prefix = digits[1:], indonesian
    else:
        national, prefix = digits, r"\+?"
    if len(national) < MIN_MASKED_DIGITS:
        return None
    return re.compile(prefix + _SEPARATOR.join(national))


def scrubbed(text: str, address: str) -> str:
    r"""`text` (an error a server sent back) fit to be stored, logged and shown: control characters taken
    out (`printable`), the address masked wherever it is repeated (`address_pattern`; as written, too), and
    cut to a length a page can show.

    >>> scrubbed("nomor 0812-3456-7890\x00 ditolak", "+6281234567890")
    'nomor +62812****7890 ditolak'
    >>> scrubbed("<BUDI@EXAMPLE.ORG>: no such user", "budi@example.org")
    '<b***@example.org>: no such user'
    """
    text = printable(text[: SCRUBBED_LENGTH * 8])
    mask = mask_address(address)
    pattern = address_pattern(address)
    if pattern is not None:
        text = pattern.sub(mask, text)
    forms = {address}
    if address.startswith("+62"):
        forms |= {address[1:], "0" + address[3:]}
    for form in sorted(forms, key=len, reverse=True):
        if len(form) >= 5:
            text = text.replace(form, mask)
    return text[:SCRUBBED_LENGTH]


# --- e-mail -----------------------------------------------------------------------------------------------


_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])", re.ASCII)
_FINAL_REPLIES = {501, 521, 550, 551, 552, 553, 556}
"""Permanent reply codes about the recipient or the message (RFC 5321, RFC 7504), when no enhanced code
says more: no such mailbox, not local, storage exceeded, mailbox name not allowed, domain takes no mail."""
_OURS = re.compile(r"\b(relay(?:ing)?|auth\w*|starttls|tls|encryption|spf|dkim|dmarc|helo|ehlo|sender)\b",
                   re.IGNORECASE)  # fmt: skip
"""Words with which a server without enhanced codes says the refusal is about us, not the recipient."""


def enhanced_code(code: int, text: str) -> tuple[int, int, int] | None:
    """The enhanced status code (RFC 3463) at the start of an SMTP reply's text, if it agrees with the reply
    code's class.

    >>> enhanced_code(554, "5.7.1 <a@b.id>: Relay access denied"), enhanced_code(550, "4.2.2 x")
    ((5, 7, 1), None)
    """
    found = _ENHANCED.match(text)
    if found is None or int(found.group(1)) != code // 100:
        return None
    return int(found.group(1)), int(found.group(2)), int(found.group(3))


def smtp_verdict(code: int, text: str, address: str = "") -> Literal["retry", "failed"]:
    """Whether an SMTP server's refusal of RCPT or of the message is final (the recipient's or the
    message's fault) or to be tried again (transient, or a problem of ours or of the server's); see the
    module's doc. `address`, the recipient, is left out of what the text is read for.

    >>> [smtp_verdict(c, t) for c, t in [(550, "5.1.1 no such user"), (554, "5.7.1 Relay access denied"),
    ...     (530, "5.7.0 Authentication required"), (552, "5.2.2 Mailbox full"), (550, "No such user here"),
    ...     (550, "Relaying denied"), (554, "Transaction failed"), (450, "4.2.0 Try later"),
    ...     (553, "5.1.7 Bad sender address"), (552, "5.3.4 Message too big")]]
    ['failed', 'retry', 'retry', 'retry', 'failed', 'retry', 'retry', 'retry', 'retry', 'failed']
    """
    if not 500 <= code < 600:
        return "retry"
    enhanced = enhanced_code(code, text)
    if enhanced is not None and enhanced[1] != 0:
        _, subject, detail = enhanced
        final = (
            (subject == 1 and detail not in (7, 8))  # addressing: the recipient (7, 8: our sender)
            or (subject == 2 and detail != 2)  # the mailbox (2: full, "persistent transient")
            or (subject == 3 and detail == 4)  # the message too big for the system
            or (subject == 4 and detail == 4)  # unable to route: a domain that does not exist
            or subject == 6  # the content
        )
        return "failed" if final else "retry"
    if code not in _FINAL_REPLIES:
        return "retry"
    said = re.sub(re.escape(address), " ", text, flags=re.IGNORECASE) if address else text
    return "retry" if _OURS.search(said) else "failed"


class _Cut(Exception):
    """An e-mail's send was cut short (see `_Attempt`)."""


class _Attempt:
    """One e-mail being sent on a thread of its own, which the event loop can cut short by shutting its
    connection down (a blocking read or write then ends at once). `committing` marks the DATA step: from
    there the server may take the message, so a stop leaves it to finish unless the grace runs out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.cut: str | None = None
        """Why the send was cut, once it was."""
        self.by_stop = False
        self.committing = False
        self.client: smtplib.SMTP | None = None

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            if self.cut is not None:
                _shut(sock)
                sock.close()
                raise _Cut(self.cut)
            self._sockets.append(sock)

    def close(self) -> None:
        """After the outcome is handed over: QUIT (briefly) and close the connection, if one is open."""
        if self.client is not None:
            _close_quietly(self.client)

    def check(self) -> None:
        """Nothing more leaves once the send was cut."""
        if self.cut is not None:
            raise _Cut(self.cut)

    def begin_data(self) -> None:
        with self._lock:
            self.check()
            self.committing = True

    def stopping(self) -> None:
        """Cut the send unless it has begun its DATA."""
        with self._lock:
            if not self.committing:
                self._cut("stopped", by_stop=True)

    def abort(self, why: str, *, by_stop: bool) -> None:
        with self._lock:
            self._cut(why, by_stop=by_stop)

    def _cut(self, why: str, *, by_stop: bool) -> None:
        if self.cut is None:
            self.cut, self.by_stop = why, by_stop
        for sock in self._sockets:
            _shut(sock)

    def outcome(self) -> Outcome:
        if self.committing:
            return Outcome("retry", f"{self.cut} while the SMTP server had not yet answered the message (it may"
                                    " have taken it: it is sent again, with the same Message-ID)",
                           interrupted=self.by_stop)  # fmt: skip
        return Outcome("retry", f"{self.cut} before the message was handed over (nothing sent)",
                       interrupted=self.by_stop)  # fmt: skip


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for an SSL socket (whose own would drop its TLS state under the
    # thread using it): the file descriptor is shut, and the thread's read or write ends with an error.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedSmtp(smtplib.SMTP):
    """smtplib's client, reporting to its `_Attempt`: each socket it opens, the start of DATA. Connects
    when made, as smtplib's own (SMTPConnectError unless greeted with 220)."""

    def __init__(self, attempt: _Attempt, host: str, port: int, **options: Any) -> None:
        self.attempt = attempt
        super().__init__(host, port, **options)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]  # not in the stubs
        self.attempt.attach(sock)
        return sock

    def send(self, s: Any) -> None:
        self.attempt.check()
        super().send(s)

    def starttls(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        answer = super().starttls(*args, **kwargs)
        if self.sock is not None:
            self.attempt.attach(self.sock)
        return answer

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.attempt.begin_data()
        return super().data(msg)


class _WatchedSmtpSsl(_WatchedSmtp, smtplib.SMTP_SSL):
    pass


class SmtpChannel:
    """E-mail through the SMTP server of `MUSRENBANG_SMTP_URL`, with the standard library's smtplib on a
    thread (one connection per message: the volume is a few messages per event, and a fresh connection
    never carries a broken state from the previous message). The thread is a daemon: one still connecting
    when the process ends (nothing sent yet) does not hold the process."""

    def __init__(self, url: str, public_url: str, *, timeout: float = SEND_TIMEOUT,
                 deadline: float = SEND_DEADLINE) -> None:  # fmt: skip
        parts = urlsplit(url)
        self._implicit_tls = parts.scheme == "smtps"
        self._host = parts.hostname or ""
        self._port = parts.port or (465 if self._implicit_tls else 587)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password or "")
        public_host = urlsplit(public_url).hostname or "localhost"
        self._domain = public_host
        sender = parse_qs(parts.query).get("from", [""])[0]
        self._sender = sender or f"musrenbang@{public_host}"
        self._from_header = sender or formataddr(("Musrenbang", self._sender))
        self._public_url = public_url
        self._timeout = timeout
        self._deadline = deadline
        self._attempts: set[_Attempt] = set()
        self._stopping = False

    async def send(self, message: Message) -> Outcome:
        try:
            email = self.compose(message)
        except (ValueError, TypeError, HeaderParseError) as exc:  # an address no mail server could take
            return Outcome("failed", scrubbed(f"not a message e-mail can carry: {_describe(exc)}", message.address))
        if self._stopping:
            return Outcome("retry", "stopped before sending (nothing sent)", interrupted=True)
        attempt = _Attempt()
        self._attempts.add(attempt)
        try:
            outcome = await self._run(attempt, email, message.address)
        finally:
            self._attempts.discard(attempt)
        if outcome.error:
            return msgspec.structs.replace(outcome, error=scrubbed(outcome.error, message.address))
        return outcome

    async def _run(self, attempt: _Attempt, email: EmailMessage, to: str) -> Outcome:
        """The send on its thread, cut at the deadline (or when cancelled), and its outcome."""
        thread = _in_daemon_thread(lambda: self._send_blocking(email, to, attempt), attempt.close)
        try:
            async with asyncio.timeout(self._deadline):
                await asyncio.shield(thread)
        except TimeoutError:
            attempt.abort(f"the SMTP server took more than {self._deadline:.0f} s in all", by_stop=False)
        except asyncio.CancelledError:
            attempt.abort("stopped", by_stop=True)
            raise
        try:
            async with asyncio.timeout(CUT_WAIT):
                return await asyncio.shield(thread)
        except TimeoutError:  # still connecting: it sends nothing now that it is cut
            return Outcome("retry", f"{attempt.cut} while connecting to the SMTP server (nothing sent)",
                           interrupted=attempt.by_stop)  # fmt: skip

    def stopping(self) -> None:
        self._stopping = True
        for attempt in list(self._attempts):
            attempt.stopping()

    def abort(self) -> None:
        for attempt in list(self._attempts):
            attempt.abort("stopped", by_stop=True)

    async def close(self) -> None:
        return None

    def compose(self, message: Message) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self._from_header
        email["To"] = message.address
        email["Subject"] = " ".join(message.title.split())  # one line, whatever the title held
        email["Date"] = format_datetime(dt.datetime.now(dt.UTC))
        # Stable across resends: a copy sent again after a crash is the same message to the recipient.
        email["Message-ID"] = f"<{message.id}@{self._domain}>"
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
        text = [message.body.strip()]
        link = full_link(self._public_url, message.link)
        if link:
            text.append(link)
        if message.stop_token:
            stop = full_link(self._public_url, f"/berhenti/{message.stop_token}")
            email["List-Unsubscribe"] = f"<{stop}>"
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058: POST /berhenti/{token}
            text.append(f"--\n{STOP_LINE}: {stop}")
        email.set_content("\n\n".join(text) + "\n")
        return email

    def _send_blocking(self, email: EmailMessage, to: str, attempt: _Attempt) -> Outcome:
        """On the thread: the whole send, and what became of it (the connection is closed after, by
        `_in_daemon_thread`, once the outcome has been handed over)."""
        try:
            smtp = self._open(attempt)
        except _Cut:
            return attempt.outcome()
        except smtplib.SMTPAuthenticationError as exc:
            return Outcome("retry", f"the SMTP server refused our login: {_reply(exc.smtp_code, exc.smtp_error)}")
        except _NoTls as exc:
            return Outcome("retry", str(exc))
        except (smtplib.SMTPException, OSError) as exc:
            if attempt.cut is not None:
                return attempt.outcome()
            return Outcome("retry", f"cannot reach the SMTP server {self._host}:{self._port}: {_describe(exc)}")
        attempt.client = smtp
        try:
            return self._transact(smtp, email, to)
        except _Cut:
            return attempt.outcome()
        except (smtplib.SMTPException, OSError) as exc:
            if attempt.cut is not None:
                return attempt.outcome()
            return Outcome("retry", f"sending to the SMTP server failed: {_describe(exc)}")

    def _transact(self, smtp: smtplib.SMTP, email: EmailMessage, to: str) -> Outcome:
        try:
            smtp.send_message(email, from_addr=self._sender, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (0, b""))
            verdict = smtp_verdict(code, _words(text), to)
            return Outcome(verdict, f"the SMTP server refused the recipient: {_reply(code, text)}")
        except smtplib.SMTPDataError as exc:  # the message itself, or a policy of the server's
            verdict = smtp_verdict(exc.smtp_code, _words(exc.smtp_error), to)
            return Outcome(verdict, f"the SMTP server refused the message: {_reply(exc.smtp_code, exc.smtp_error)}")
        except smtplib.SMTPSenderRefused as exc:  # our From address: configuration, not the message
            return Outcome("retry", f"the SMTP server refused the sender: {_reply(exc.smtp_code, exc.smtp_error)}")
        return DELIVERED

    def _open(self, attempt: _Attempt) -> smtplib.SMTP:
        context = ssl.create_default_context()
        smtp: _WatchedSmtp
        if self._implicit_tls:
            smtp = _WatchedSmtpSsl(attempt, self._host, self._port, timeout=self._timeout, context=context)
        else:
            smtp = _WatchedSmtp(attempt, self._host, self._port, timeout=self._timeout)
        try:
            smtp.ehlo()
            if not self._implicit_tls:
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                elif self._username and not is_local_host(self._host):
                    raise _NoTls(f"the SMTP server {self._host} offers no STARTTLS: the password is not sent in"
                                 " clear (use smtps:// or a server that offers STARTTLS)")  # fmt: skip
            if self._username:
                smtp.login(self._username, self._password)
        except BaseException:
            smtp.close()
            raise
        return smtp


def _close_quietly(smtp: smtplib.SMTP) -> None:
    """QUIT, briefly: accepted is accepted, whatever QUIT does."""
    with contextlib.suppress(Exception):
        if smtp.sock is not None:
            smtp.sock.settimeout(QUIT_TIMEOUT)
            smtp.quit()
    smtp.close()


def _in_daemon_thread(work: Callable[[], T], after: Callable[[], None]) -> asyncio.Future[T]:
    """`work()` on a daemon thread of its own, as a future of the running loop; then, on the same thread,
    `after()`. Not asyncio.to_thread: its executor's threads are joined when the interpreter exits, so one
    blocked in a connect would hold the end of a stopping process."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the loop
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(settle, None, exc)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, result, None)
        finally:
            after()

    threading.Thread(target=run, name="musrenbang-smtp", daemon=True).start()
    return future


class _NoTls(Exception):
    pass


def _words(text: bytes | str) -> str:
    return text.decode(errors="replace") if isinstance(text, bytes) else text


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {_words(text)}".strip()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- SMS and WhatsApp ---------------------------------------------------------------------------------------

FINAL_ANSWERS = frozenset({400, 410, 413, 422})
"""Gateway answers about this message, which no retry changes: a request the gateway cannot take (400: a
number that cannot be an SMS address), a number gone (410), a text too long (413), one it cannot process
(422). Every other answer that is not 2xx is retried (see the module's doc)."""
_ENDPOINT = frozenset({404, 405, 406, 414, 415, 421, 426})
"""Answers that speak of the endpoint: most often a mistake in MUSRENBANG_SMS_GATEWAY_URL."""


def gateway_verdict(code: int) -> Literal["delivered", "retry", "failed"]:
    """What the gateway's answer `code` means (the contract in the module's doc).

    >>> [gateway_verdict(c) for c in (202, 400, 404, 405, 409, 410, 413, 415, 422, 429, 503, 301)]
    ['delivered', 'failed', 'retry', 'retry', 'retry', 'failed', 'failed', 'retry', 'failed', 'retry', 'retry', 'retry']
    """
    if 200 <= code < 300:
        return "delivered"
    return "failed" if code in FINAL_ANSWERS else "retry"


class GatewayChannel:
    """SMS and WhatsApp through the HTTP gateway of `MUSRENBANG_SMS_GATEWAY_URL` (contract above). httpx:
    asynchronous, with connection reuse across the senders of a process and timeouts on every step."""

    def __init__(self, url: str, public_url: str, *, timeout: float = SEND_TIMEOUT,
                 deadline: float = SEND_DEADLINE) -> None:  # fmt: skip
        parts = urlsplit(url)
        auth = None
        if parts.username or parts.password:
            auth = httpx.BasicAuth(unquote(parts.username or ""), unquote(parts.password or ""))
        netloc = parts.netloc.rpartition("@")[2]
        self._url = urlunsplit(parts._replace(netloc=netloc))
        self._public_url = public_url
        self._deadline = deadline
        self._posts: set[asyncio.Future[httpx.Response]] = set()
        self._client = httpx.AsyncClient(
            auth=auth, timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False,
            headers={"User-Agent": "musrenbang-delivery"},
        )  # fmt: skip

    async def send(self, message: Message) -> Outcome:
        payload = {"id": str(message.id), "channel": message.channel, "to": message.address,
                   "text": text_message(message, self._public_url)}  # fmt: skip
        post = asyncio.ensure_future(
            self._client.post(self._url, json=payload, headers={"Idempotency-Key": str(message.id)})
        )
        self._posts.add(post)
        try:
            await asyncio.wait({post}, timeout=self._deadline)
        except asyncio.CancelledError:
            post.cancel()
            raise
        finally:
            self._posts.discard(post)
        if not post.done():
            post.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await post
            return Outcome("retry", f"the gateway did not answer within {self._deadline:.0f} s")
        if post.cancelled():  # by `abort`: the gateway may have taken it; sent again under the same id
            return Outcome("retry", "stopped before the gateway answered (sent again, under the same id)",
                           interrupted=True)  # fmt: skip
        try:
            answer = post.result()
        except httpx.TimeoutException as exc:
            return Outcome("retry", f"the gateway did not answer in time ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return Outcome("retry", scrubbed(f"cannot reach the gateway: {_describe(exc)}", message.address))
        code = answer.status_code
        verdict = gateway_verdict(code)
        if verdict == "delivered":
            return DELIVERED
        hint = " (check the path in MUSRENBANG_SMS_GATEWAY_URL)" if code in _ENDPOINT or 300 <= code < 400 else ""
        said = scrubbed(f"HTTP {code}{hint}: {answer.text[:300]}".strip(), message.address)
        if verdict == "failed":
            return Outcome("failed", said)
        return Outcome("retry", said, _retry_after(answer.headers.get("retry-after")))

    def stopping(self) -> None:
        return None  # a request under way is left to finish: it takes a moment, and the answer is recorded

    def abort(self) -> None:
        for post in list(self._posts):
            post.cancel()

    async def close(self) -> None:
        await self._client.aclose()


def _retry_after(raw: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is ignored: back-off applies)."""
    if raw is None or not (raw.strip().isascii() and raw.strip().isdigit()):  # "²".isdigit() is True
        return None
    return min(float(raw.strip()), MAX_RETRY_AFTER)
