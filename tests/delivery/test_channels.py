"""The channel adapters against a real SMTP server and a real HTTP gateway on this machine: what a
message looks like on the wire, and which answers mean delivered, try again, or failed for good."""

from __future__ import annotations

import contextlib
import doctest
import shutil
import ssl
import subprocess
import uuid
from pathlib import Path

import pytest

from musrenbang.config import ConfigError, Settings
from musrenbang.delivery import channels, worker
from musrenbang.delivery.channels import GatewayChannel, Message, SmtpChannel, _retry_after
from tests.delivery.stubs import GatewayStub, SmtpSink, free_port

# Credentials without TLS are what the worker allows on this machine only; aiosmtpd warns about them.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PUBLIC = "https://musrenbang.example.go.id"
PHONE, EMAIL = "+6281234567890", "budi.santoso@example.org"


def message(channel: str = "sms", address: str = PHONE, **changes: object) -> Message:
    fields: dict[str, object] = {"id": uuid.uuid4(), "channel": channel, "address": address,
                                 "title": "Kabar usulan ABCD-EFGH", "body": "Usulan Anda diterima.",
                                 "link": "/lacak/ABCD-EFGH"}  # fmt: skip
    fields.update(changes)
    return Message(**fields)  # type: ignore[arg-type]


def test_worked_examples_hold() -> None:
    assert doctest.testmod(channels).failed == 0
    assert doctest.testmod(worker).failed == 0


async def test_the_gateway_gets_the_documented_json_with_the_id_as_idempotency_key_and_basic_auth() -> None:
    with GatewayStub(credentials=("musrenbang", "rahasia:sekali")) as gateway:
        channel = GatewayChannel(gateway.url.replace("rahasia:sekali", "rahasia%3Asekali"), PUBLIC)
        try:
            m = message(channel="whatsapp")
            assert (await channel.send(m)).status == "delivered"
            assert (await channel.send(m)).status == "delivered"  # sent again: the gateway's dedupe answers 2xx
        finally:
            await channel.close()
    first = gateway.requests[0]
    assert first.body == {"id": str(m.id), "channel": "whatsapp", "to": PHONE,
                          "text": f"Usulan Anda diterima. {PUBLIC}/lacak/ABCD-EFGH"}  # fmt: skip
    assert first.headers["idempotency-key"] == str(m.id)
    assert first.headers["content-type"] == "application/json"
    assert gateway.delivered == {str(m.id): 1} and gateway.seen(str(m.id)) == 2


async def test_gateway_answers_sort_into_delivered_retry_and_failed() -> None:
    refused = {"+6280000000000": (400, '{"error": "nomor +6280000000000 tidak valid"}')}
    with GatewayStub(credentials=("u", "p"), refused=refused) as gateway:
        right = GatewayChannel(gateway.url, PUBLIC)
        wrong_password = GatewayChannel(gateway.url.replace("u:p@", "u:salah@"), PUBLIC)
        try:
            gateway.failing = 1
            busy = await right.send(message())
            assert (busy.status, busy.retry_after) == ("retry", 1.0) and "HTTP 503" in (busy.error or "")
            bad = await right.send(message(address="+6280000000000"))
            assert bad.status == "failed" and "HTTP 400" in (bad.error or "")
            assert "+6280000000000" not in (bad.error or "") and "+62800****0000" in (bad.error or "")
            denied = await wrong_password.send(message())
            assert denied.status == "retry" and "HTTP 401" in (denied.error or "")  # our fault, not the message's
        finally:
            await right.close()
            await wrong_password.close()


async def test_a_gateway_that_is_down_or_silent_means_try_again() -> None:
    down = GatewayChannel(f"http://127.0.0.1:{free_port()}/kirim", PUBLIC)
    outcome = await down.send(message())
    await down.close()
    assert outcome.status == "retry" and "cannot reach the gateway" in (outcome.error or "")
    m = message()
    with GatewayStub(hold={str(m.id)}) as gateway:
        slow = GatewayChannel(gateway.url, PUBLIC, timeout=0.5)
        outcome = await slow.send(m)
        await slow.close()
    assert outcome.status == "retry" and "did not answer in time" in (outcome.error or "")


async def test_an_email_is_sent_with_login_and_its_refusal_of_a_recipient_is_final() -> None:
    with SmtpSink(credentials=("pengirim", "kata sandi"), refuse={EMAIL: f"550 5.1.1 <{EMAIL}>: no such user"}) as smtp:
        channel = SmtpChannel(smtp.url.replace("kata sandi", "kata%20sandi"), PUBLIC)
        sent = await channel.send(message("email", "warga@example.org"))
        refused = await channel.send(message("email", EMAIL))
    assert sent.status == "delivered" and smtp.logins[0] == "pengirim"
    assert refused.status == "failed" and "550" in (refused.error or "")
    assert EMAIL not in (refused.error or "") and "b***@example.org" in (refused.error or "")
    assert len(smtp.messages) == 1


async def test_an_smtp_server_that_is_down_or_refuses_our_login_means_try_again() -> None:
    down = await SmtpChannel(f"smtp://127.0.0.1:{free_port()}", PUBLIC).send(message("email", EMAIL))
    assert down.status == "retry" and "cannot reach the SMTP server" in (down.error or "")
    with SmtpSink(credentials=("pengirim", "benar")) as smtp:
        denied = await SmtpChannel(smtp.url.replace("benar", "salah"), PUBLIC).send(message("email", EMAIL))
    assert denied.status == "retry" and "refused our login" in (denied.error or "") and not smtp.messages


def test_a_password_is_not_sent_in_clear_across_a_network() -> None:
    assert channels.is_local_host("localhost") and channels.is_local_host("127.0.0.1")
    assert channels.is_local_host("::1") and not channels.is_local_host("mail.example.go.id")
    with pytest.raises(ConfigError, match="https://") as refused:
        _settings(MUSRENBANG_SMS_GATEWAY_URL="http://user:rahasia@sms.example.id/kirim")
    assert "rahasia" not in str(refused.value)
    _settings(MUSRENBANG_SMS_GATEWAY_URL="http://user:rahasia@127.0.0.1:9000/kirim")  # this machine: allowed
    _settings(MUSRENBANG_SMS_GATEWAY_URL="https://user:rahasia@sms.example.id/kirim")


@pytest.mark.parametrize(("name", "value", "says"), [
    ("MUSRENBANG_SMTP_URL", "http://user:rahasia@mail.example.go.id", "smtp://"),
    ("MUSRENBANG_SMTP_URL", "smtp://user:rahasia@mail.example.go.id/kotak", "no path"),
    ("MUSRENBANG_SMTP_URL", "smtp://user:rahasia@mail.example.go.id?from=bukan-alamat", "one e-mail address"),
    ("MUSRENBANG_SMTP_URL", "smtp://user:rahasia@mail.example.go.id?dari=a@b.id", "only ?from="),
    ("MUSRENBANG_SMTP_URL", "smtp://user:rahasia@mail.example.go.id:porta", "not a URL"),
    ("MUSRENBANG_SMS_GATEWAY_URL", "ftp://user:rahasia@sms.example.id", "https://"),
])  # fmt: skip
def test_a_delivery_url_that_cannot_work_stops_the_start_with_a_clear_message(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=name) as refused:
        _settings(**{name: value})
    assert says in str(refused.value) and "rahasia" not in str(refused.value)


def test_the_from_address_defaults_to_the_public_host() -> None:
    settings = _settings(MUSRENBANG_SMTP_URL="smtps://u:p@mail.example.go.id", MUSRENBANG_PUBLIC_URL=PUBLIC)
    email = SmtpChannel(settings.smtp_url or "", settings.public_url).compose(message("email", EMAIL))
    assert email["From"] == "Musrenbang <musrenbang@musrenbang.example.go.id>"
    chosen_from = SmtpChannel("smtp://mail.example.go.id?from=kabar@bekasikota.go.id", PUBLIC)
    chosen = chosen_from.compose(message("email", EMAIL))
    assert chosen["From"] == "kabar@bekasikota.go.id"
    assert channels.configured_names(settings) == {"email"}


def _settings(**env: str) -> Settings:
    return Settings.from_env({"MUSRENBANG_DATA_DIR": "/tmp/unused", **env})


async def test_nothing_in_a_message_can_add_a_header() -> None:
    channel = SmtpChannel(f"smtp://127.0.0.1:{free_port()}", PUBLIC)  # never reached: refused before sending
    injected = await channel.send(message("email", f"{EMAIL}\r\nBcc: semua@example.org"))
    assert injected.status == "failed" and "e-mail can carry" in (injected.error or "") and EMAIL not in injected.error
    email = channel.compose(message("email", EMAIL, title="Kabar\r\nBcc: semua@example.org"))
    assert email["Subject"] == "Kabar Bcc: semua@example.org" and email["Bcc"] is None


# --- what a server answers, as it may be stored (a NUL byte), and whose fault a refusal is ------------------


def test_an_answer_is_stored_without_control_characters_and_with_the_address_masked_however_it_is_spelled() -> None:
    phone = PHONE
    for spelled in ("0812-3456-7890", "+62 812 3456 7890", "81234567890", "(0812) 3456.7890", "6281234567890",
                    "+62-812-3456-7890", "0812 \x00 3456 7890"):  # fmt: skip
        said = channels.scrubbed(f'{{"error": "nomor {spelled} tidak terdaftar"}}', phone)
        assert said == '{"error": "nomor +62812****7890 tidak terdaftar"}', (spelled, said)
    for spelled in ("BUDI.SANTOSO@EXAMPLE.ORG", "Budi.Santoso@Example.org", "budi.santoso%40example.org"):
        said = channels.scrubbed(f"550 5.1.1 <{spelled}>: Recipient address rejected", EMAIL)
        assert said == "550 5.1.1 <b***@example.org>: Recipient address rejected", (spelled, said)
    said = channels.scrubbed("nomor\x00tidak\r\nvalid \x1b[31m\u202emerah\udc80 \x7f", phone)
    assert said == "nomor tidak valid [31m merah", said
    assert channels.scrubbed("id 1234 pada 2025-01-02 12:34:56", phone) == "id 1234 pada 2025-01-02 12:34:56"


async def test_a_nul_byte_in_an_answer_never_reaches_the_outcome() -> None:
    refused = {PHONE: (400, "nomor\x00 0812-3456-7890 tidak valid")}
    with GatewayStub(refused=refused) as gateway:
        channel = GatewayChannel(gateway.url, PUBLIC)
        try:
            bad = await channel.send(message())
        finally:
            await channel.close()
    assert (bad.status, bad.error) == ("failed", "HTTP 400: nomor +62812****7890 tidak valid")
    with SmtpSink(refuse={EMAIL: f"550 5.1.1 mailbox\x00unknown <{EMAIL.upper()}>"}) as smtp:
        refused_mail = await SmtpChannel(smtp.url, PUBLIC).send(message("email", EMAIL))
    assert refused_mail.status == "failed"
    assert refused_mail.error == "the SMTP server refused the recipient: 550 5.1.1 mailbox unknown <b***@example.org>"


async def test_an_smtp_refusal_of_ours_is_retried_and_one_of_the_recipient_stays_final() -> None:
    with SmtpSink(credentials=("pengirim", "rahasia"), relay_needs_login=True) as smtp:
        forgotten = await SmtpChannel(f"smtp://127.0.0.1:{smtp.port}", PUBLIC).send(message("email", EMAIL))
        assert not smtp.messages
        logged_in = await SmtpChannel(smtp.url, PUBLIC).send(message("email", EMAIL))
    assert forgotten.status == "retry" and "554 5.7.1" in (forgotten.error or "")  # credentials forgotten
    assert "Relay access denied" in (forgotten.error or "") and EMAIL not in (forgotten.error or "")
    assert logged_in.status == "delivered" and len(smtp.messages) == 1  # the configuration fixed: it leaves

    replies = {
        "5.1.1 <{a}>: Recipient address rejected: User unknown": ("550", "failed"),
        "5.1.3 Bad recipient address syntax": ("553", "failed"),
        "5.2.1 Mailbox disabled": ("550", "failed"),
        "No such user here": ("550", "failed"),
        "5.2.2 Mailbox full": ("552", "retry"),
        "5.7.1 Message rejected by policy": ("550", "retry"),
        "5.7.0 Authentication required": ("530", "retry"),
        "5.7.26 Unauthenticated email is not accepted (DMARC)": ("550", "retry"),
        "Relaying denied, authenticate first": ("550", "retry"),
        "Transaction failed": ("554", "retry"),
        "4.2.0 Try again later": ("450", "retry"),
    }
    addresses = {text: f"warga{n}@example.org" for n, text in enumerate(replies)}
    refuse = {addresses[text]: f"{code} {text.format(a=addresses[text])}" for text, (code, _) in replies.items()}
    with SmtpSink(refuse=refuse) as smtp:
        channel = SmtpChannel(smtp.url, PUBLIC)
        got = {text: await channel.send(message("email", addresses[text])) for text in replies}
    assert {text: o.status for text, o in got.items()} == {text: want for text, (_, want) in replies.items()}
    assert all("warga" not in (o.error or "") for o in got.values())


async def test_a_gateway_answer_about_the_endpoint_is_retried_and_one_about_the_message_is_final() -> None:
    answers = {400: "failed", 410: "failed", 413: "failed", 422: "failed",
               404: "retry", 405: "retry", 409: "retry", 415: "retry", 418: "retry", 451: "retry"}  # fmt: skip
    numbers = {code: f"+62812000{code:05d}" for code in answers}
    with GatewayStub(refused={numbers[c]: (c, '{"error": "ditolak"}') for c in answers}) as gateway:
        channel = GatewayChannel(gateway.url, PUBLIC)
        typo = GatewayChannel(gateway.url.replace("/kirim", "/kirim-sms"), PUBLIC)
        try:
            got = {code: (await channel.send(message(address=numbers[code]))).status for code in answers}
            wrong_path = await typo.send(message())
        finally:
            await channel.close()
            await typo.close()
    assert got == answers
    assert wrong_path.status == "retry" and "HTTP 404" in (wrong_path.error or "")
    assert "MUSRENBANG_SMS_GATEWAY_URL" in (wrong_path.error or "") and not gateway.delivered


async def test_an_smtp_server_that_trickles_is_cut_at_the_deadline_and_sent_later() -> None:
    """Each step answers within its timeout, a byte at a time, and never ends: the send is cut at its
    deadline (so it always ends well within the worker's lease on the message)."""
    import asyncio

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            for byte in b"220-" + b"x" * 1000:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.2)
        writer.close()

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        outcome = await SmtpChannel(f"smtp://127.0.0.1:{port}", PUBLIC, timeout=1.0, deadline=2.0).send(
            message("email", EMAIL))  # fmt: skip
    finally:
        server.close()
    assert outcome.status == "retry" and not outcome.interrupted, outcome
    assert "took more than 2 s" in (outcome.error or "") and "nothing sent" in (outcome.error or "")


@pytest.fixture
def trusted_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server context whose self-signed certificate (for 127.0.0.1) this process trusts, as the system's
    trust store would trust a real one (SSL_CERT_FILE)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "smtps"])
async def test_an_email_goes_over_tls_with_login_and_a_stop_cuts_it_there_too(
    trusted_certificate: ssl.SSLContext, implicit: bool
) -> None:
    import asyncio

    with SmtpSink(credentials=("pengirim", "rahasia"), tls=trusted_certificate, implicit_tls=implicit) as smtp:
        channel = SmtpChannel(smtp.url, PUBLIC)
        sent = await channel.send(message("email", EMAIL))
        assert sent.status == "delivered", sent
        assert smtp.logins == ["pengirim"] and len(smtp.messages) == 1
        smtp.rcpt_delay = 5.0
        sending = asyncio.ensure_future(channel.send(message("email", EMAIL)))
        while smtp.seen("RCPT") < 2:
            await asyncio.sleep(0.02)
        channel.stopping()  # over TLS too, the connection is cut at once
        cut = await asyncio.wait_for(sending, 2.0)
    assert cut.status == "retry" and cut.interrupted and "nothing sent" in (cut.error or "")
    assert len(smtp.messages) == 1


def test_a_retry_after_in_other_digits_is_ignored_not_a_crash() -> None:
    """"²".isdigit() is True and float("²") raises: a gateway's odd header must not stop the sender."""
    assert [_retry_after(raw) for raw in ("7", " 30 ", "²", "٣", "Wed, 21 Oct 2026 07:28:00 GMT", None)] == [
        7.0, 30.0, None, None, None, None]  # fmt: skip
