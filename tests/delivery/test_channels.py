"""The channel adapters against a real SMTP server and a real HTTP gateway on this machine: what a
message looks like on the wire, and which answers mean delivered, try again, or failed for good."""

from __future__ import annotations

import doctest
import uuid

import pytest

from musrenbang.config import ConfigError, Settings
from musrenbang.delivery import channels, worker
from musrenbang.delivery.channels import GatewayChannel, Message, SmtpChannel
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
