"""What residents are told, review s29b: a message names the forum as it is where the proposal is — a
desa's "Musrenbang Desa", a kelurahan's "Musrenbang Kelurahan", a kabupaten's "Musrenbang Kabupaten" (it
was "Musrenbang kelurahan/desa" for every village, and "Musrenbang kota" in a kabupaten); the place is read
from the proposal's submission or latest revision in the log, by the real outbox. A proposal rejected at
verification or not taken into the RKPD is told, as one not selected at a forum is, that the need can be
proposed again next year from the tracking page."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec
import pytest

from musrenbang.domain import proposal
from musrenbang.domain.events import (
    Event,
    ProposalAccepted,
    ProposalDecidedAtForum,
    ProposalRejected,
    ProposalRevised,
    ProposalSubmitted,
    RkpdProposalDeclined,
)
from musrenbang.domain.notices import AGAIN, SMS_LENGTH, notices
from musrenbang.eventlog.store import Append, EventStore
from tests.domain.test_pokir import CONTENT

KELURAHAN = "32.75.01.1001"  # Kota Bekasi, Kelurahan Bintara
DESA = "51.01.03.2004"  # Kabupaten Jembrana, a desa
KABUPATEN_KELURAHAN = "51.01.01.1006"  # Kabupaten Jembrana, a kelurahan
CODE = "NTN7WYDJ"
AGAIN_TEXT = "Dapat diusulkan lagi untuk tahun berikutnya lewat halaman lacak."


def _forum(level: str, selected: bool = True) -> ProposalDecidedAtForum:
    return ProposalDecidedAtForum(code=CODE, forum_id="f", level=level, rank=2, selected=selected,
                                  reason=None if selected else "melebihi_pagu")  # fmt: skip


@pytest.mark.parametrize(("place", "forum"), [(KELURAHAN, "Musrenbang Kelurahan"), (DESA, "Musrenbang Desa"),
                                              (KABUPATEN_KELURAHAN, "Musrenbang Kelurahan")])  # fmt: skip
def test_a_verified_proposal_is_told_the_forum_of_its_own_village(place: str, forum: str) -> None:
    [told] = notices(ProposalAccepted(code=CODE), place=place)
    assert told.body == f"Usulan {CODE} lolos verifikasi dan dibawa ke {forum}."
    [chosen] = notices(_forum("kelurahan"), place=place)
    assert chosen.title == f"Usulan {CODE} terpilih di {forum}"
    [left_out] = notices(_forum("kelurahan", selected=False), place=place)
    assert left_out.title == f"Usulan {CODE} tidak terpilih di {forum}"
    assert "kelurahan/desa" not in told.body + chosen.body + left_out.body


@pytest.mark.parametrize(("place", "forum"), [(KELURAHAN, "Musrenbang Kota"), (DESA, "Musrenbang Kabupaten"),
                                              (KABUPATEN_KELURAHAN, "Musrenbang Kabupaten")])  # fmt: skip
def test_the_city_forum_of_a_kabupaten_is_its_musrenbang_kabupaten(place: str, forum: str) -> None:
    [told] = notices(_forum("kota"), place=place)
    assert told.title == f"Usulan {CODE} terpilih di {forum}"
    [told] = notices(_forum("kecamatan"), place=place)
    assert told.title == f"Usulan {CODE} terpilih di Musrenbang Kecamatan"


def test_without_the_place_the_village_forum_is_named_for_both() -> None:
    [told] = notices(ProposalAccepted(code=CODE))
    assert told.body == f"Usulan {CODE} lolos verifikasi dan dibawa ke Musrenbang Kelurahan/Desa."


@pytest.mark.parametrize("event", [ProposalRejected(code=CODE, reason="Bukan kewenangan kota."),
                                   RkpdProposalDeclined(code=CODE, year=2023, agency="DBMSDA",
                                                        reason="Sudah ditangani tahun ini.")])  # fmt: skip
def test_a_rejected_or_declined_proposal_is_told_it_can_be_proposed_again(event: Event) -> None:
    [told] = notices(event)
    [not_selected] = notices(_forum("kecamatan", selected=False))
    assert AGAIN == AGAIN_TEXT and not_selected.body.endswith(f" {AGAIN_TEXT}")  # the same words for all three
    assert told.body.endswith(f". {AGAIN_TEXT}"), told.body
    assert len(told.body) <= SMS_LENGTH, told.body  # a short reason: still one SMS
    [chosen] = notices(_forum("kecamatan"))
    assert "diusulkan lagi" not in chosen.body


async def _follow(pool: asyncpg.Pool, code: str) -> str:
    address = f"warga.{uuid.uuid4().hex[:8]}@contoh.id"
    await pool.execute(
        "INSERT INTO subscriptions (id, subject, channel, address, link, kind, token, confirmed)"
        " VALUES ($1, $2, 'email', $3, $4, 'follower', $5, true)",
        uuid.uuid4(), code, address, f"/lacak/{code}", uuid.uuid4().hex + uuid.uuid4().hex,
    )  # fmt: skip
    return address


async def _append(store: EventStore, code: str, event: Event) -> None:
    """Appended for real on the proposal's stream: the outbox is written in the append's transaction."""
    stream = proposal.stream_id(code)
    await store.append(Append(stream, await store.head(stream), [event]))


async def _bodies(pool: asyncpg.Pool, address: str, purpose: str) -> list[str]:
    rows = await pool.fetch("SELECT body FROM outbox WHERE address = $1 AND purpose = $2 ORDER BY queued",
                            address, purpose)  # fmt: skip
    return [r["body"] for r in rows]


async def test_the_outbox_names_the_forum_by_the_village_the_log_has(pool: asyncpg.Pool) -> None:
    store = EventStore(pool)
    told = {}
    for place in (KELURAHAN, DESA):
        code = uuid.uuid4().hex[:8].upper()
        content = msgspec.structs.replace(CONTENT, kelurahan=place)
        await _append(store, code, ProposalSubmitted(code=code, year=2023, source="warga", content=content,
                                                        proposer_ref="r"))  # fmt: skip
        address = await _follow(pool, code)
        await _append(store, code, ProposalAccepted(code=code))
        await _append(store, code, msgspec.structs.replace(_forum("kelurahan"), code=code))
        told[place] = (await _bodies(pool, address, "verified")) + (await _bodies(pool, address, "forum"))
    kelurahan_code = told[KELURAHAN][0].split()[1]
    assert told[KELURAHAN] == [f"Usulan {kelurahan_code} lolos verifikasi dan dibawa ke Musrenbang Kelurahan.",
                               f"Usulan {kelurahan_code} terpilih di Musrenbang Kelurahan (peringkat 2) dan"
                               " diteruskan."]  # fmt: skip
    desa_code = told[DESA][0].split()[1]
    assert told[DESA] == [f"Usulan {desa_code} lolos verifikasi dan dibawa ke Musrenbang Desa.",
                          f"Usulan {desa_code} terpilih di Musrenbang Desa (peringkat 2) dan diteruskan."]  # fmt: skip


async def test_the_outbox_reads_the_village_of_the_latest_revision(pool: asyncpg.Pool) -> None:
    """A proposal revised into another village (returned, then corrected) is told of that village's forum."""
    store = EventStore(pool)
    code = uuid.uuid4().hex[:8].upper()
    await _append(store, code, ProposalSubmitted(code=code, year=2023, source="warga",
                                                    content=msgspec.structs.replace(CONTENT, kelurahan=KELURAHAN),
                                                    proposer_ref="r"))  # fmt: skip
    address = await _follow(pool, code)
    await _append(store, code, ProposalRevised(code=code, content=msgspec.structs.replace(CONTENT, kelurahan=DESA)))
    await _append(store, code, ProposalAccepted(code=code))
    told = await _bodies(pool, address, "verified")
    assert told == [f"Usulan {code} lolos verifikasi dan dibawa ke Musrenbang Desa."]
