"""Review s27 (a city's second year): a year took proposals after they could no longer reach any forum, and the
home page offered "Ajukan usulan" for it. A year now takes proposals while its "usulan" window is open and at
the latest to the last day of its kelurahan stage (the last day a Musrenbang Kelurahan/Desa may open), to its
Forum Perangkat Daerah's close and to its adoption (domain/cycle.py), the same everywhere it is asked: the
submission under its locks, the proposal form, the home page, the API's cycle and the year a proposal naming
none goes to.

Through real servers: the shared one with a cycle recorded before the proposals' window was bound to the
kelurahan stage's (a `cycle.started` appended as an older release wrote it: it must still load), and one of
its own whose RKPD 2022 Forum Perangkat Daerah has closed."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain import city_forums as cf
from musrenbang.domain import cycle
from musrenbang.domain import proposal as p
from musrenbang.domain.events import CycleStarted, StageWindow
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services import cycles
from musrenbang.services.rkpd import RkpdService
from tests.cycles import FORUM_DAY, open_test_cycle
from tests.http.city_setup import sign_in
from tests.http.conftest import event_count, payload
from tests.http.test_staff import token, users  # noqa: F401  (module fixture)
from tests.server import serving
from tests.waiting import eventually

LEGACY = cycles.today().year + 2
"""A year no other test of the shared server opens (grep the tests), planned around today (a window moved in
it is judged against its year's bounds): its cycle is recorded as an older release let it be."""
BAPPEDA = Metadata(actor="bappeda", role="admin")


def _legacy_calendar(today: dt.date) -> tuple[StageWindow, ...]:
    """The proposals' window extended past the kelurahan stage's close, as moves were once let be: open
    until three weeks from now, while the kelurahan forums ended yesterday."""
    days = {"usulan": (-30, 21), "kelurahan": (-20, -1), "kecamatan": (0, 30), "perangkat_daerah": (31, 60),
            "kota": (61, 90), "ditetapkan": (91, 120)}  # fmt: skip
    return tuple(StageWindow(stage=s, opens=today + dt.timedelta(days=a), closes=today + dt.timedelta(days=b))
                 for s, (a, b) in days.items())  # fmt: skip


async def _year_of(pool: asyncpg.Pool, code: str) -> int:
    return await pool.fetchval("SELECT (data->>'year')::int FROM events WHERE stream_id = $1"
                               " AND event_type = 'proposal.submitted'", p.stream_id(code))  # fmt: skip


async def test_a_year_whose_kelurahan_stage_is_over_takes_no_proposal_anywhere(
    app_server, client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: ANN001, F811
) -> None:
    admin = await token(client, users["admin"])
    assert not await app_pool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", cycle.stream_id(LEGACY))
    today = cycles.today()
    started = CycleStarted(year=LEGACY, region="32.75", theme="Tahun lama", priority_programs=("Program satu",),
                           calendar=_legacy_calendar(today))  # fmt: skip
    await EventStore(app_pool).append(Append(cycle.stream_id(LEGACY), NEW_STREAM, [started]), metadata=BAPPEDA)
    bappeda = await sign_in(app_server.base_url, users["admin"])
    try:
        shown = await eventually(lambda: _cycle(client, LEGACY), "the legacy cycle in the read model")
        usulan = next(w for w in shown["calendar"] if w["stage"] == "usulan")
        assert usulan["opens"] <= str(today) <= usulan["closes"]  # its own window still reads open ...
        assert (shown["taking_proposals"], usulan["open"]) == (False, False)  # ... but it takes none

        events = await event_count(app_pool)
        r = await client.post("/api/v1/proposals", json=payload(year=LEGACY),
                              headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
        assert r.status_code == 409, r.text
        ended = str(today - dt.timedelta(days=1))
        message = r.json()["message"]
        assert f"pengajuan usulan RKPD {LEGACY} sudah ditutup: Musrenbang Kelurahan/Desa berakhir" in message
        assert "tidak dapat lagi dibahas" in message and ended[:4] in message
        form = await client.get(f"/usulan/baru?tahun={LEGACY}")
        assert f"pengajuan usulan RKPD {LEGACY} sudah ditutup" in form.text and 'name="title"' not in form.text
        assert await event_count(app_pool) == events  # nothing written

        # The newest year open for proposals is another one: a proposal naming none goes there, and the home
        # page offers that one (it offered this year, the newest whose window read open).
        r = await client.post("/api/v1/proposals", json=payload(), headers={"Idempotency-Key": str(uuid.uuid4())})
        assert r.status_code == 201, r.text
        assert await _year_of(app_pool, r.json()["code"]) != LEGACY
        home = (await client.get("/")).text
        assert f"Ajukan usulan untuk RKPD {LEGACY}" not in home

        # Bappeda is told on the staff page, and may not extend the proposals further past the kelurahan stage;
        # the calendar still loads and moves otherwise.
        staff = await bappeda.get("/petugas/siklus")
        section = staff.text[staff.text.index(f'id="rkpd-{LEGACY}"'):]
        assert "usulan diterima hanya sampai" in section[: section.index("</section>")]
        events = await event_count(app_pool)
        further = {"closes": str(today + dt.timedelta(days=28)), "reason": "diperpanjang lagi"}
        r = await client.post(f"/api/v1/cycles/{LEGACY}/windows/usulan", json=further, headers=admin)
        assert r.status_code == 422, r.text
        assert "tidak dapat ditutup sesudah Musrenbang Kelurahan/Desa ditutup" in r.json()["errors"]["closes"]
        assert await event_count(app_pool) == events
        later = {"closes": str(today + dt.timedelta(days=95)), "reason": "penetapan diundur"}
        r = await client.post(f"/api/v1/cycles/{LEGACY}/windows/kota", json=later, headers=admin)
        assert r.status_code == 200, r.text
    finally:
        await bappeda.aclose()
        r = await client.post(f"/api/v1/cycles/{LEGACY}/cancel", json={"reason": "uji s27"}, headers=admin)
        assert r.status_code == 200, r.text


async def _cycle(client: httpx.AsyncClient, year: int) -> dict[str, object] | None:
    r = await client.get(f"/api/v1/cycles/{year}")
    return r.json() if r.status_code == 200 else None


async def _forum_pd_closed(database_url: str) -> None:
    """RKPD 2022 (every stage open from 2020 to a year from now) with its city level opened (nothing was
    forwarded), its Forum Perangkat Daerah scheduled and closed."""
    pool = await create_pool(database_url, min_size=1, max_size=5)
    try:
        store = EventStore(pool)
        await open_test_cycle(store)
        rkpd = RkpdService(pool, store, ProjectionRunner(pool, all_projections()))
        await rkpd.receive(2022, BAPPEDA)
        await rkpd.execute(2022, cf.ScheduleCityForum(
            year=2022, forum=cf.FORUM_PD, held_on=FORUM_DAY, place="Aula", chair="Sekda", agenda=("Pembahasan",),
            participants=(cf.ParticipantInput(name="Perwakilan DBMSDA", kind="agency", represents="DBMSDA"),),
        ), BAPPEDA)  # fmt: skip
        await rkpd.execute(2022, cf.CloseCityForum(year=2022, forum=cf.FORUM_PD, minutes="Disepakati.",
                                                   today=cycles.today()), BAPPEDA)  # fmt: skip
    finally:
        await pool.close()


@pytest.mark.slow
async def test_a_year_whose_forum_perangkat_daerah_closed_takes_no_proposal(database_url: str) -> None:
    await _forum_pd_closed(database_url)
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        with serving(database_url) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as web:
                events = await event_count(pool)
                for body in (payload(year=2022), payload()):  # named, or the newest year open
                    r = await web.post("/api/v1/proposals", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
                    assert r.status_code == 409, r.text
                    assert ("pengajuan usulan RKPD 2022 sudah ditutup: Forum Perangkat Daerah RKPD 2022 sudah"
                            " ditutup") in r.json()["message"]  # fmt: skip
                form = await web.get("/usulan/baru")
                assert "Forum Perangkat Daerah RKPD 2022 sudah ditutup" in form.text and 'name="title"' not in form.text
                assert await event_count(pool) == events  # nothing written
                home = (await web.get("/")).text
                assert "Ajukan usulan untuk RKPD 2022" not in home
                shown = (await web.get("/api/v1/cycles/2022")).json()
                usulan = next(w for w in shown["calendar"] if w["stage"] == "usulan")
                assert (shown["taking_proposals"], usulan["open"]) == (False, False)
                # Nor do its kelurahan and kecamatan stages read open, their windows still running: no forum
                # of theirs can be held once the Forum Perangkat Daerah closed.
                opened = {w["stage"]: w["open"] for w in shown["calendar"]}
                assert (opened["kelurahan"], opened["kecamatan"], opened["kota"]) == (False, False, True), opened
                assert "Musrenbang Kelurahan/Desa</strong> · RKPD 2022" not in home, home
    finally:
        await pool.close()
