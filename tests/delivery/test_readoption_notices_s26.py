"""Session 26: what the followers of a proposal are told when its year's RKPD is adopted again (an amendment,
revision 2, 3, ...), against a real database through eventlog/outbox.py.

It was the first adoption's message again — "Usulan … masuk RKPD … Berikutnya: penganggaran dalam APBD." —
to every follower who had not had it yet (anyone who began following after the first adoption), for every
proposal in the list, even one whose line was long budgeted and under way; and nothing at all to whoever
was told before, even when the amendment moved their proposal to another line. Now an amendment tells only
the proposals whose place in the RKPD it changed: moved to another line (what it is now, and how far that
line is), or added; a proposal in the same line as before hears nothing; "Berikutnya: penganggaran" only
where the line is still to be budgeted."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec

from musrenbang.domain import realisation, rkpd
from musrenbang.domain.events import Event, RkpdAdopted, RkpdLine, RkpdMilestoneRecorded
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore, StreamHead

YEAR = 2022
ROAD, DRAIN, PARK = "DBMSDA-001", "DBMSDA-002", "DBMSDA-003"
STILL, MOVED, BUDGETED_MOVED, ADDED = "STL7WYDJ", "MVD7WYDJ", "BGT7WYDJ", "ADD7WYDJ"
NEXT = "Berikutnya: penganggaran dalam APBD."


def _line(line_id: str, name: str, origins: tuple[str, ...], pagu: int) -> RkpdLine:
    return RkpdLine(line_id=line_id, agency="DBMSDA", origins=origins, locations=(), priority_program=1,
                    sub_kegiatan_code="1.03.03.2.01.0012", nomenclature="", program="Program Jalan",
                    kegiatan="Jalan", sub_kegiatan=name, funding_source="apbd_kota", volume="1", unit="paket",
                    pagu=pagu, output_indicator="Panjang jalan", target="1", target_unit="paket")  # fmt: skip


def _adopted(revision: int, *lines: RkpdLine) -> RkpdAdopted:
    return RkpdAdopted(year=YEAR, revision=revision, lines=lines, total_pagu=sum(x.pagu for x in lines))


async def _follow(pool: asyncpg.Pool, subject: str, address: str, *, kind: str = "follower") -> None:
    await pool.execute(
        "INSERT INTO subscriptions (id, subject, channel, address, link, kind, owner, token, confirmed)"
        " VALUES ($1, $2, 'email', $3, $4, $5, $6, $7, true)",
        uuid.uuid4(), subject, address, f"/lacak/{subject}", kind, uuid.uuid4() if kind == "proposer" else None,
        uuid.uuid4().hex + uuid.uuid4().hex,
    )  # fmt: skip


class _Log:
    """The year's RKPD stream and its lines' realisation streams, appended for real (the outbox is written in
    the append's transaction, as in production)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.store = EventStore(pool)
        self.heads: dict[str, StreamHead] = {}

    async def append(self, stream: str, event: Event) -> None:
        result = await self.store.append(Append(stream, self.heads.get(stream, NEW_STREAM), [event]))
        self.heads[stream] = result.heads[stream]

    async def adopt(self, event: RkpdAdopted) -> None:
        await self.append(rkpd.stream_id(YEAR), event)

    async def milestone(self, line: RkpdLine, stage: str, **more: object) -> None:
        await self.append(realisation.stream_id(YEAR, line.line_id), RkpdMilestoneRecorded(
            year=YEAR, line_id=line.line_id, agency=line.agency, origins=line.origins, stage=stage,
            on=dt.date(YEAR, 3, 1), **more))  # type: ignore[arg-type]  # fmt: skip


async def _told(pool: asyncpg.Pool, address: str, code: str | None = None) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT o.* FROM outbox o JOIN subscriptions s ON s.id = o.subscription"
                            " WHERE o.address = $1 AND ($2::text IS NULL OR s.subject = $2)"
                            " ORDER BY o.queued", address, code)  # fmt: skip


async def test_a_proposal_the_amendment_left_in_its_line_tells_nobody_anything(pool: asyncpg.Pool) -> None:
    """The reviewer's case: a line budgeted and under way, its proposal followed after the first adoption;
    an amendment that changed another line told the newcomer "masuk RKPD … Berikutnya: penganggaran"."""
    log = _Log(pool)
    road, drain = _line(ROAD, "Rehabilitasi Jalan Lingkungan", (STILL,), 400_000_000), \
        _line(DRAIN, "Pembangunan Saluran Drainase", (MOVED,), 200_000_000)  # fmt: skip
    early, late = f"awal.{uuid.uuid4().hex[:8]}@contoh.id", f"baru.{uuid.uuid4().hex[:8]}@contoh.id"
    await _follow(pool, STILL, early, kind="proposer")
    await log.adopt(_adopted(1, road, drain))
    [first] = await _told(pool, early)
    assert first["purpose"] == "in_rkpd" and first["body"].endswith(NEXT)  # the first adoption, as before
    await log.milestone(road, "apbd", amount=400_000_000)
    await log.milestone(road, "kontrak", amount=380_000_000, contractor="CV Maju")
    await _follow(pool, STILL, late)  # after the first adoption, the line under way
    assert [r["purpose"] for r in await _told(pool, early)] == ["in_rkpd", "budgeted", "under_way"]
    assert await _told(pool, late) == []
    before = {r["id"] for r in await pool.fetch("SELECT id FROM outbox")}

    await log.adopt(_adopted(2, road, msgspec.structs.replace(drain, pagu=250_000_000)))
    assert await _told(pool, late) == []  # was: "Usulan STL7WYDJ masuk RKPD 2022 … Berikutnya: penganggaran"
    assert {r["id"] for r in await pool.fetch("SELECT id FROM outbox")} == before  # nobody told anything


async def test_an_amendment_tells_a_moved_proposal_where_it_is_now_and_an_added_one_that_it_is_in(
    pool: asyncpg.Pool,
) -> None:
    """Moved to another line: told once, by whoever follows it (told of the first adoption or not), with
    the new line's name and pagu, and "next: budgeting" only while that line is still to be budgeted."""
    log = _Log(pool)
    road = _line(ROAD, "Rehabilitasi Jalan Lingkungan", (STILL, BUDGETED_MOVED), 400_000_000)
    drain = _line(DRAIN, "Pembangunan Saluran Drainase", (MOVED,), 200_000_000)
    proposer, late = f"pengusul.{uuid.uuid4().hex[:8]}@contoh.id", f"baru.{uuid.uuid4().hex[:8]}@contoh.id"
    for code in (MOVED, BUDGETED_MOVED):
        await _follow(pool, code, proposer, kind="proposer")
    await log.adopt(_adopted(1, road, drain))
    await log.milestone(road, "apbd", amount=400_000_000)
    for code in (MOVED, BUDGETED_MOVED, ADDED):
        await _follow(pool, code, late)

    # Revision 2: MOVED goes from the drainage line to a new park line (nothing recorded on it yet),
    # BUDGETED_MOVED from the budgeted road to the drainage line, budgeted meanwhile; ADDED comes in with
    # the park line.
    await log.milestone(drain, "apbd", amount=200_000_000)
    park = _line(PARK, "Penataan Taman Kelurahan", (MOVED, ADDED), 150_000_000)
    await log.adopt(_adopted(2, msgspec.structs.replace(road, origins=(STILL,)),
                             msgspec.structs.replace(drain, origins=(BUDGETED_MOVED,)), park))  # fmt: skip

    for address in (proposer, late):
        [moved] = [r for r in await _told(pool, address, MOVED) if "Perubahan" in r["body"]]
        assert moved["body"] == (f"Perubahan RKPD {YEAR} memindahkan usulan {MOVED} ke kegiatan “Penataan Taman"
                                 f" Kelurahan”, pagu Rp 150.000.000. {NEXT}")  # fmt: skip  # fmt: skip
        assert len(moved["body"]) <= 160
        [budgeted] = [r for r in await _told(pool, address, BUDGETED_MOVED) if "Perubahan" in r["body"]]
        assert budgeted["body"] == (f"Perubahan RKPD {YEAR} memindahkan usulan {BUDGETED_MOVED} ke kegiatan"
                                    " “Pembangunan Saluran Drainase”, pagu Rp 200.000.000. Kegiatan ini sudah"
                                    " dianggarkan dalam APBD.")  # fmt: skip
        assert len(budgeted["body"]) <= 160
        assert "Berikutnya" not in budgeted["body"]
    # The proposer had the first adoption's message, the drainage line's budgeting, and the amendment's; the
    # newcomer the last two.
    moved_title = f"Usulan {MOVED} pindah kegiatan dalam perubahan RKPD {YEAR}"
    budgeted_title = f"Usulan {MOVED}: kegiatannya dianggarkan dalam APBD {YEAR}"
    assert [r["title"] for r in await _told(pool, proposer, MOVED)] == [
        f"Usulan {MOVED} masuk RKPD {YEAR}", budgeted_title, moved_title]  # fmt: skip
    assert [r["title"] for r in await _told(pool, late, MOVED)] == [budgeted_title, moved_title]
    [added] = await _told(pool, late, ADDED)
    assert added["purpose"] == "in_rkpd" and added["body"] == (f"Usulan {ADDED} masuk perubahan RKPD {YEAR}:"
                                                               f" Penataan Taman Kelurahan, pagu Rp 150.000.000."
                                                               f" {NEXT}")  # fmt: skip

    # Revision 3 changes nothing for them: nobody is told anything more.
    count = await pool.fetchval("SELECT count(*) FROM outbox")
    await log.adopt(_adopted(3, msgspec.structs.replace(road, origins=(STILL,), pagu=390_000_000),
                             msgspec.structs.replace(drain, origins=(BUDGETED_MOVED,)), park))  # fmt: skip
    assert await pool.fetchval("SELECT count(*) FROM outbox") == count


async def test_a_newcomer_to_a_proposal_whose_line_finished_hears_nothing_stale(pool: asyncpg.Pool) -> None:
    """A line finished (its proposals are no longer followed from then on, but whoever followed before
    still is): an amendment of other lines says nothing to them, least of all "next: budgeting"."""
    log = _Log(pool)
    road = _line(ROAD, "Rehabilitasi Jalan Lingkungan", (STILL,), 400_000_000)
    drain = _line(DRAIN, "Pembangunan Saluran Drainase", (MOVED,), 200_000_000)
    await log.adopt(_adopted(1, road, drain))
    late = f"baru.{uuid.uuid4().hex[:8]}@contoh.id"
    await _follow(pool, STILL, late)
    await log.milestone(road, "apbd", amount=400_000_000)
    await log.milestone(road, "selesai")
    finished = await _told(pool, late)
    assert [r["purpose"] for r in finished] == ["budgeted", "finished"]
    await log.adopt(_adopted(2, road, msgspec.structs.replace(drain, pagu=180_000_000)))
    assert await _told(pool, late) == finished  # was a third: "masuk RKPD … Berikutnya: penganggaran"
