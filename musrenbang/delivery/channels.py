"""The ways a message leaves: e-mail through an SMTP server, SMS and WhatsApp through an HTTP gateway.

Each adapter sends one outbox message and says what became of it: delivered (the other side took it),
try again later (a network problem, a busy or misconfigured server: nothing is lost, the worker backs
off), or failed for good (the other side refused this message itself, e.g. a number that does not
exist). A problem of ours — wrong credentials, a wrong From address, a server that will not do TLS — is
never the message's fault: it is retried, so fixing the configuration delivers everything that waited.

**The gateway contract** (`MUSRENBANG_SMS_GATEWAY_URL`). One JSON POST per message:

    POST <url>            Content-Type: application/json; Idempotency-Key: <id>
    {"id": "<outbox id, a UUID>", "channel": "sms" | "whatsapp", "to": "+62…", "text": "<body> <link>"}

Credentials in the URL (`https://user:pass@host/path`) are sent as HTTP Basic, and only over HTTPS unless
the gateway runs on this machine (config.py refuses the rest). Answers: any 2xx means the gateway has
taken the message; 408, 429 and 5xx (and a timeout or a refused connection) mean try again later, after
`Retry-After` seconds if given (at most an hour); 401, 403 and 407 mean our credentials are wrong and are
retried too; any other 4xx means this message can never be sent (it is marked failed with the answer).

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
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import smtplib
import ssl
import uuid
from email.errors import HeaderParseError
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import httpx
import msgspec

from musrenbang.config import Settings, is_local_host

SEND_TIMEOUT = 20.0
"""Seconds any one network step of a send may take (connect, each SMTP command, the gateway's answer).
Well under the database's idle_in_transaction_session_timeout (60 s), which ends the claim's transaction."""
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


DELIVERED = Outcome("delivered")


class Channel(Protocol):
    async def send(self, message: Message) -> Outcome: ...

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


def text_message(message: Message, public_url: str) -> str:
    """What an SMS or WhatsApp message says: the body, then the link."""
    return f"{message.body} {full_link(public_url, message.link)}".strip()


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


def scrubbed(text: str, address: str) -> str:
    """`text` (an error a server sent back) with the address masked wherever it is repeated, in the forms
    a server may write it (+62…, 62…, 0…), and cut to a length a page can show."""
    forms = {address}
    if address.startswith("+62"):
        forms |= {address[1:], "0" + address[3:]}
    for form in sorted(forms, key=len, reverse=True):
        if len(form) >= 5:
            text = text.replace(form, mask_address(address))
    return text[:500]


# --- e-mail -----------------------------------------------------------------------------------------------


class SmtpChannel:
    """E-mail through the SMTP server of `MUSRENBANG_SMTP_URL`, with the standard library's smtplib on a
    thread (one connection per message: the volume is a few messages per event, and a fresh connection
    never carries a broken state from the previous message)."""

    def __init__(self, url: str, public_url: str, *, timeout: float = SEND_TIMEOUT) -> None:
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

    async def send(self, message: Message) -> Outcome:
        try:
            email = self.compose(message)
        except (ValueError, TypeError, HeaderParseError) as exc:  # an address no mail server could take
            return Outcome("failed", scrubbed(f"not a message e-mail can carry: {_describe(exc)}", message.address))
        outcome = await asyncio.to_thread(self._send_blocking, email, message.address)
        if outcome.error:
            return msgspec.structs.replace(outcome, error=scrubbed(outcome.error, message.address))
        return outcome

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
            text.append(f"--\nBerhenti menerima kabar ini: {stop}")
        email.set_content("\n\n".join(text) + "\n")
        return email

    def _send_blocking(self, email: EmailMessage, to: str) -> Outcome:
        try:
            smtp = self._open()
        except smtplib.SMTPAuthenticationError as exc:
            return Outcome("retry", f"the SMTP server refused our login: {_reply(exc.smtp_code, exc.smtp_error)}")
        except _NoTls as exc:
            return Outcome("retry", str(exc))
        except (smtplib.SMTPException, OSError) as exc:
            return Outcome("retry", f"cannot reach the SMTP server {self._host}:{self._port}: {_describe(exc)}")
        try:
            smtp.send_message(email, from_addr=self._sender, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (0, b""))
            status: Literal["retry", "failed"] = "failed" if 500 <= code < 600 else "retry"
            return Outcome(status, f"the SMTP server refused the recipient: {_reply(code, text)}")
        except smtplib.SMTPDataError as exc:  # the message itself: refused for good on 5xx
            status = "failed" if 500 <= exc.smtp_code < 600 else "retry"
            return Outcome(status, f"the SMTP server refused the message: {_reply(exc.smtp_code, exc.smtp_error)}")
        except smtplib.SMTPSenderRefused as exc:  # our From address: configuration, not the message
            return Outcome("retry", f"the SMTP server refused the sender: {_reply(exc.smtp_code, exc.smtp_error)}")
        except (smtplib.SMTPException, OSError) as exc:
            return Outcome("retry", f"sending to the SMTP server failed: {_describe(exc)}")
        finally:
            with contextlib.suppress(Exception):  # accepted is accepted, whatever QUIT does
                smtp.quit()
            smtp.close()
        return DELIVERED

    def _open(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self._implicit_tls:
            smtp = smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
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


class _NoTls(Exception):
    pass


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {words}".strip()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- SMS and WhatsApp ---------------------------------------------------------------------------------------

_TRY_AGAIN = {401, 403, 407, 408, 429}
"""4xx answers that are not the message's fault: our credentials, a slow or busy gateway."""


class GatewayChannel:
    """SMS and WhatsApp through the HTTP gateway of `MUSRENBANG_SMS_GATEWAY_URL` (contract above). httpx:
    asynchronous, with connection reuse across the senders of a process and timeouts on every step."""

    def __init__(self, url: str, public_url: str, *, timeout: float = SEND_TIMEOUT) -> None:
        parts = urlsplit(url)
        auth = None
        if parts.username or parts.password:
            auth = httpx.BasicAuth(unquote(parts.username or ""), unquote(parts.password or ""))
        netloc = parts.netloc.rpartition("@")[2]
        self._url = urlunsplit(parts._replace(netloc=netloc))
        self._public_url = public_url
        self._client = httpx.AsyncClient(
            auth=auth, timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False,
            headers={"User-Agent": "musrenbang-delivery"},
        )  # fmt: skip

    async def send(self, message: Message) -> Outcome:
        payload = {"id": str(message.id), "channel": message.channel, "to": message.address,
                   "text": text_message(message, self._public_url)}  # fmt: skip
        try:
            answer = await self._client.post(self._url, json=payload, headers={"Idempotency-Key": str(message.id)})
        except httpx.TimeoutException as exc:
            return Outcome("retry", f"the gateway did not answer in time ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return Outcome("retry", f"cannot reach the gateway: {_describe(exc)}")
        code = answer.status_code
        if 200 <= code < 300:
            return DELIVERED
        said = scrubbed(f"HTTP {code}: {answer.text[:300]}".strip(), message.address)
        if 400 <= code < 500 and code not in _TRY_AGAIN:
            return Outcome("failed", said)
        return Outcome("retry", said, _retry_after(answer.headers.get("retry-after")))

    async def close(self) -> None:
        await self._client.aclose()


def _retry_after(raw: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is ignored: back-off applies)."""
    if raw is None or not raw.strip().isdigit():
        return None
    return min(float(raw.strip()), MAX_RETRY_AFTER)
