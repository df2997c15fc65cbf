"""What an SMS or WhatsApp message says, review s25: "…Silakan sampaikan ke UPTD Provinsi Ja….
http://…/lacak/NTN7WYDJ" cut the reason mid-word with two stops, and never said how to stop the messages
(every e-mail does). Now the reason is cut at a word, the link is whole, and a message of a subscription
says how to stop them: WhatsApp with the stop link as e-mails have it, an SMS with a short hint to the
tracking page it links to when its words still fit in one SMS."""

from __future__ import annotations

import uuid

from musrenbang.delivery.channels import SMS_STOP, GatewayChannel, Message, text_message
from musrenbang.domain.events import ProposalAccepted, RkpdProposalDeclined
from musrenbang.domain.notices import AGAIN, SMS_LENGTH, notices
from tests.delivery.stubs import GatewayStub

PUBLIC = "https://musrenbang.example.go.id"
REASON = ("Lokasi usulan berada di ruas jalan provinsi sehingga bukan kewenangan kota. Silakan sampaikan ke UPTD"
          " Provinsi Jawa Barat melalui kecamatan.")  # fmt: skip


def _message(body: str, channel: str = "sms", stop_token: str | None = "t0k3nrahasia") -> Message:
    return Message(id=uuid.uuid4(), channel=channel, address="+6281234567890", title="Kabar usulan NTN7WYDJ",
                   body=body, link="/lacak/NTN7WYDJ", stop_token=stop_token)  # fmt: skip


def test_a_cut_reason_ends_at_a_word_without_two_stops_and_the_link_is_whole() -> None:
    [n] = notices(RkpdProposalDeclined(code="NTN7WYDJ", year=2023, agency="DBMSDA", reason=REASON))
    text = text_message(_message(n.body, stop_token=None), PUBLIC)
    assert text.endswith(f"Silakan sampaikan ke UPTD… {AGAIN} {PUBLIC}/lacak/NTN7WYDJ"), text
    assert "…." not in text and ".…" not in text


def test_an_sms_says_how_to_stop_when_its_words_fit_in_one_sms() -> None:
    [n] = notices(ProposalAccepted(code="NTN7WYDJ"))
    text = text_message(_message(n.body), PUBLIC)
    assert text == f"{n.body} {PUBLIC}/lacak/NTN7WYDJ {SMS_STOP}"
    assert len(text) - len(f" {PUBLIC}/lacak/NTN7WYDJ") <= SMS_LENGTH  # the words within one SMS, link beside
    # A body that leaves no room keeps its words and link, without the hint.
    [long] = notices(RkpdProposalDeclined(code="NTN7WYDJ", year=2023, agency="DBMSDA", reason=REASON))
    assert text_message(_message(long.body), PUBLIC) == f"{long.body} {PUBLIC}/lacak/NTN7WYDJ"
    # A message of no subscription (a code recovery, the last "stopped" message) has nothing to stop.
    assert text_message(_message(n.body, stop_token=None), PUBLIC) == f"{n.body} {PUBLIC}/lacak/NTN7WYDJ"


async def test_whatsapp_carries_the_stop_link_as_an_email_does() -> None:
    [n] = notices(RkpdProposalDeclined(code="NTN7WYDJ", year=2023, agency="DBMSDA", reason=REASON))
    with GatewayStub() as gateway:
        channel = GatewayChannel(gateway.url, PUBLIC)
        try:
            assert (await channel.send(_message(n.body, channel="whatsapp"))).status == "delivered"
        finally:
            await channel.close()
    [request] = gateway.requests
    assert request.body["text"] == (f"{n.body} {PUBLIC}/lacak/NTN7WYDJ\n"
                                    f"Berhenti menerima kabar ini: {PUBLIC}/berhenti/t0k3nrahasia")  # fmt: skip
