"""Who is told what, review s25, against a real database through eventlog/outbox.py: a follower of an RKPD
line already at 70% is told of the report at 85% by the line's name (it was "Kegiatan RKPD 2022
(DBMSDA-003) mulai dikerjakan", and no later report ever reached anyone told once); only the proposer of a
returned proposal is told to revise it with the secret code."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from musrenbang.domain import rkpd
from musrenbang.domain.events import Event, ProposalReturned, RkpdAdopted, RkpdLine, RkpdMilestoneRecorded
from musrenbang.domain.notices import line_subject
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore

YEAR, LINE, CODE = 2022, "DBMSDA-003", "NTN7WYDJ"
NAME = "Pembangunan Saluran Drainase Lingkungan"


async def _follow(pool: asyncpg.Pool, subject: str, address: str, *, kind: str = "follower",
                  link: str | None = None, channel: str = "email") -> uuid.UUID:  # fmt: skip
    link = link or (f"/telusur/{subject}" if subject.startswith("rkpd/") else f"/lacak/{subject}")
    return await pool.fetchval(
        "INSERT INTO subscriptions (id, subject, channel, address, link, kind, owner, token, confirmed)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true) RETURNING id",
        uuid.uuid4(), subject, channel, address, link, kind, uuid.uuid4() if kind == "proposer" else None,
        uuid.uuid4().hex + uuid.uuid4().hex,
    )  # fmt: skip


async def _append(store: EventStore, event: Event, stream: str | None = None) -> None:
    """Appended for real: the outbox is written in the append's transaction, as in production."""
    await store.append(Append(stream or f"test-s25-{uuid.uuid4().hex}", NEW_STREAM, [event]))


def _progress(progress: int, day: int) -> RkpdMilestoneRecorded:
    return RkpdMilestoneRecorded(year=YEAR, line_id=LINE, agency="DBMSDA", origins=(CODE,), stage="pelaksanaan",
                                 on=dt.date(2022, 9, day), progress=progress)  # fmt: skip


async def _messages(pool: asyncpg.Pool, address: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM outbox WHERE address = $1 ORDER BY created_at, body", address)


async def test_a_follower_of_a_line_under_way_is_told_its_progress_by_name_at_each_step(pool: asyncpg.Pool) -> None:
    store = EventStore(pool)
    line = RkpdLine(line_id=LINE, agency="DBMSDA", origins=(CODE,), locations=(), priority_program=1,
                    sub_kegiatan_code="1.03.03.2.01.0012", nomenclature="", program="Program Drainase",
                    kegiatan="Drainase", sub_kegiatan=NAME, funding_source="apbd_kota", volume="1", unit="paket",
                    pagu=500_000_000, output_indicator="Panjang saluran", target="1", target_unit="paket")  # fmt: skip
    await _append(store, RkpdAdopted(year=YEAR, revision=1, lines=(line,), total_pagu=line.pagu), rkpd.stream_id(YEAR))
    early = f"awal.{uuid.uuid4().hex[:8]}@contoh.id"
    await _follow(pool, line_subject(YEAR, LINE), early)
    for progress, day in ((30, 1), (45, 5), (70, 10)):
        await _append(store, _progress(progress, day))
    # Who followed from the start was told at 30% and 70% (steps 25 and 50), not at 45% (still step 25).
    assert [m["title"] for m in await _messages(pool, early)] == [
        f"{NAME} ({LINE}): sudah 30% dikerjakan", f"{NAME} ({LINE}): sudah 70% dikerjakan"]  # fmt: skip

    follower = f"warga.{uuid.uuid4().hex[:8]}@contoh.id"
    await _follow(pool, line_subject(YEAR, LINE), follower)  # the line already at 70%
    await _append(store, _progress(85, 15))
    [told] = await _messages(pool, follower)
    assert told["purpose"] == "under_way" and told["title"] == f"{NAME} ({LINE}): sudah 85% dikerjakan"
    assert told["body"] == f"Kegiatan RKPD {YEAR} “{NAME}” ({LINE}) sudah 85% dikerjakan per 15 September 2022."
    await _append(store, _progress(90, 20))  # within the step of 75%: no message to anyone
    assert len(await _messages(pool, follower)) == 1 and len(await _messages(pool, early)) == 3
    await _append(store, RkpdMilestoneRecorded(year=YEAR, line_id=LINE, agency="DBMSDA", origins=(CODE,),
                                               stage="selesai", on=dt.date(2022, 9, 30)))  # fmt: skip
    finished = (await _messages(pool, follower))[-1]
    assert finished["purpose"] == "finished"
    assert finished["body"] == (f"Kegiatan RKPD {YEAR} “{NAME}” ({LINE}) selesai dikerjakan (serah terima"
                                " 30 September 2022).")  # fmt: skip


async def test_only_the_proposer_is_told_to_revise_with_the_secret_code(pool: asyncpg.Pool) -> None:
    store = EventStore(pool)
    proposer = f"+62812{uuid.uuid4().int % 10**7:07d}"
    follower, merged_in = f"ikut.{uuid.uuid4().hex[:8]}@contoh.id", f"dup.{uuid.uuid4().hex[:8]}@contoh.id"
    await _follow(pool, CODE, proposer, kind="proposer", channel="sms")  # services/proposals.subscribe_proposer
    await _follow(pool, CODE, follower)  # POST /ikuti
    # The proposer of a duplicate merged into this one, carried on with their own page (eventlog/outbox.py).
    await _follow(pool, CODE, merged_in, kind="proposer", link="/lacak/HCGBRNNV")
    await _append(store, ProposalReturned(code=CODE, reason="Lengkapi foto lokasi."))
    [own] = await _messages(pool, proposer)
    assert own["body"] == (f"Usulan {CODE} dikembalikan untuk diperbaiki: Lengkapi foto lokasi. Perbaiki lewat"
                           " halaman lacak dengan kode rahasia Anda.")  # fmt: skip
    for address in (follower, merged_in):
        [theirs] = await _messages(pool, address)
        assert theirs["body"] == f"Usulan {CODE} dikembalikan ke pengusulnya untuk diperbaiki: Lengkapi foto lokasi."
        assert "kode rahasia" not in theirs["body"]
