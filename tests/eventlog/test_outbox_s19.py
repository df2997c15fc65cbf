"""One message per address per event (review s19): an address that follows an RKPD line and one of the
proposals it came from got two e-mails for one milestone ("Kegiatan RKPD 2022 (DBMSDA-005) selesai…" and
"Kegiatan dari usulan HCGBRNNV selesai…"). Against a real database, through eventlog/outbox.py."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from musrenbang.domain.events import RkpdAdopted, RkpdLine, RkpdMilestoneRecorded
from musrenbang.domain.notices import line_subject
from musrenbang.eventlog import outbox
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore

YEAR, LINE = 2022, "DBMSDA-005"


async def _follow(pool: asyncpg.Pool, subject: str, address: str, channel: str = "email") -> uuid.UUID:
    link = f"/telusur/{subject}" if subject.startswith("rkpd/") else f"/lacak/{subject}"
    return await pool.fetchval(
        "INSERT INTO subscriptions (id, subject, channel, address, link, kind, token, confirmed)"
        " VALUES ($1, $2, $3, $4, $5, 'follower', $6, true) RETURNING id",
        uuid.uuid4(), subject, channel, address, link, uuid.uuid4().hex + uuid.uuid4().hex,
    )  # fmt: skip


async def _record(pool: asyncpg.Pool, *events: object) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, [(uuid.uuid4(), e) for e in events])  # type: ignore[misc]


async def _messages(pool: asyncpg.Pool, address: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM outbox WHERE address = $1 ORDER BY created_at, title", address)


def _milestone(stage: str, origins: tuple[str, ...], **more: object) -> RkpdMilestoneRecorded:
    return RkpdMilestoneRecorded(year=YEAR, line_id=LINE, agency="DBMSDA", origins=origins, stage=stage,
                                 on=dt.date(2022, 9, 30), **more)  # type: ignore[arg-type]  # fmt: skip


async def test_an_address_following_a_line_and_its_origin_gets_one_message_per_milestone(pool: asyncpg.Pool) -> None:
    code, other = "HCGBRNNV", "HCGBRNNW"
    both, only_proposal = f"warga.{uuid.uuid4().hex[:8]}@contoh.id", f"lain.{uuid.uuid4().hex[:8]}@contoh.id"
    await _follow(pool, line_subject(YEAR, LINE), both)
    await _follow(pool, code, both)
    await _follow(pool, other, both)  # a second origin of the same line, followed by the same address
    await _follow(pool, code, only_proposal)
    await _record(pool, _milestone("selesai", (code, other)))
    [one] = await _messages(pool, both)
    assert one["purpose"] == "finished" and one["body"].startswith(f"Kegiatan RKPD {YEAR} ({LINE}) selesai")
    [theirs] = await _messages(pool, only_proposal)  # someone else following the proposal is still told
    assert theirs["body"].startswith(f"Kegiatan dari usulan {code} selesai")
    # The same address by another channel is another address: an SMS to it is not an e-mail.
    phone = f"+62813{uuid.uuid4().int % 10**8:08d}"
    await _follow(pool, line_subject(YEAR, LINE), phone, "sms")
    await _follow(pool, code, phone, "sms")
    await _record(pool, _milestone("batal", (code,), note="lahan tidak tersedia"))
    assert len(await _messages(pool, phone)) == 1
    assert [m["purpose"] for m in await _messages(pool, both)] == ["finished", "dropped"]


async def test_once_only_news_reaches_an_address_once_whichever_subscription_brought_it(pool: asyncpg.Pool) -> None:
    """"Under way" goes once (the contract or a first progress report under 25%), and each further step of
    25% once (session 25): an address told through the proposal is not told again through the line it
    followed since."""
    code, address = "KQ2M9XDA", f"warga.{uuid.uuid4().hex[:8]}@contoh.id"
    await _follow(pool, code, address)
    await _record(pool, _milestone("kontrak", (code,), amount=40_000_000, contractor="CV Maju",
                                   ends=dt.date(2022, 12, 1)))  # fmt: skip
    await _follow(pool, line_subject(YEAR, LINE), address)
    await _record(pool, _milestone("pelaksanaan", (code,), progress=20))
    assert [m["purpose"] for m in await _messages(pool, address)] == ["under_way"]
    await _record(pool, _milestone("pelaksanaan", (code,), progress=30))
    await _record(pool, _milestone("pelaksanaan", (code,), progress=35))
    assert [m["purpose"] for m in await _messages(pool, address)] == ["under_way", "under_way"]


async def test_two_followed_proposals_in_one_adoption_are_still_two_pieces_of_news(pool: asyncpg.Pool) -> None:
    """Only the notices that tell one piece of news (a line's milestone) go once per address: an adoption
    that puts two proposals an address follows into the RKPD says something of each."""
    address = f"warga.{uuid.uuid4().hex[:8]}@contoh.id"
    first, second = "ADPT0001", "ADPT0002"
    await _follow(pool, first, address)
    await _follow(pool, second, address)
    line = RkpdLine(line_id=LINE, agency="DBMSDA", origins=(first, second), locations=(), priority_program=1,
                    sub_kegiatan_code="1.03.10.2.01.0017", nomenclature="", program="Program Jalan",
                    kegiatan="Jalan", sub_kegiatan="Rehabilitasi Jalan", funding_source="apbd_kota", volume="1",
                    unit="m", pagu=9_000_000, output_indicator="Panjang jalan", target="1",
                    target_unit="m")  # fmt: skip
    await _record(pool, RkpdAdopted(year=YEAR, revision=1, lines=(line,), total_pagu=9_000_000))
    assert sorted(m["title"] for m in await _messages(pool, address)) == [
        f"Usulan {first} masuk RKPD {YEAR}", f"Usulan {second} masuk RKPD {YEAR}"]  # fmt: skip


async def test_a_stop_passes_shared_news_on_to_the_addresses_other_subscription(pool: asyncpg.Pool) -> None:
    """The milestone was queued under the line's subscription (listed first); stopping the line before it
    went out cancelled it, and the address, still following a proposal of that line, was told nothing
    (session 19's note). Now the stop queues it again through the proposal, in the proposal's words."""
    code = "STPQ" + uuid.uuid4().hex[:4].upper()
    address, other = f"warga.{uuid.uuid4().hex[:8]}@contoh.id", f"lain.{uuid.uuid4().hex[:8]}@contoh.id"
    line_sub = await _follow(pool, line_subject(YEAR, LINE), address)
    await _follow(pool, code, address)
    other_line = await _follow(pool, line_subject(YEAR, LINE), other)  # follows only the line
    store = EventStore(pool)  # appended for real: a stop reads the event back from the log
    stream = f"test-outbox-{uuid.uuid4().hex}"
    await store.append(Append(stream, NEW_STREAM, [_milestone("selesai", (code,))]))
    [queued] = await _messages(pool, address)
    assert queued["subscription"] == line_sub and queued["status"] == "pending"
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE subscriptions SET stopped_at = now() WHERE id = ANY($1)", [line_sub, other_line])
        await outbox.cancel_queued(conn, [line_sub, other_line])
    # The same message (its id: a sender may be sending it now, and a copy would go out as well), handed
    # to the proposal's subscription, in the proposal's words.
    [moved] = await _messages(pool, address)
    assert (moved["id"], moved["status"], moved["dedupe"]) == (queued["id"], "pending", queued["dedupe"])
    assert moved["subscription"] != line_sub and moved["link"] == f"/lacak/{code}"
    assert moved["body"].startswith(f"Kegiatan dari usulan {code} selesai")
    # Someone who followed only the line stopped it: nothing goes to them by another way.
    assert [m["status"] for m in await _messages(pool, other)] == ["cancelled"]
    # Stopping the proposal too cancels it: nothing is left to pass it on to.
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE subscriptions SET stopped_at = now() WHERE id = $1", moved["subscription"])
        await outbox.cancel_queued(conn, [moved["subscription"]])
    assert [m["status"] for m in await _messages(pool, address)] == ["cancelled"]
