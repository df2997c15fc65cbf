"""Staff screens after review s20: a refused realisation form says its photos must be chosen again; a form
with mistakes leads to them (a focusable summary linking each field, focused by app.js as on /usulan/baru);
a refused forum action comes back to the forum's page; the staff home groups forums by RKPD year, a past
year's closed ones folded away; the new-forum form offers a day inside its stage's window.

Most run on a server of their own over tests/history.py (RKPD 2022 adopted, its three forums closed), with
the next RKPD's cycle opened so that its kelurahan stage starts in a week; the consensus form needs an open
forum, on the shared test server (RKPD 2022 open in every stage)."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.demo import RKPD_2022_PROGRAMS, RKPD_2022_THEME
from musrenbang.domain import cycle
from musrenbang.domain.events import StageWindow
from musrenbang.eventlog.store import EventStore
from musrenbang.services import cycles
from tests import history
from tests.cycles import SYSTEM
from tests.http.city_setup import sign_in
from tests.http.test_forum_entry import _open_forum, _signed_in
from tests.http.test_pages import hidden
from tests.http.test_staff import KELURAHAN, add_user, token, users  # noqa: F401  (a fixture)
from tests.images import jpeg_with_gps
from tests.server import serving

LINE = "DBMSDA-002"
SUMMARY = 'id="errors" class="errors" tabindex="-1"'


@dataclass
class Site:
    base_url: str
    pool: asyncpg.Pool
    users: dict[str, str]
    year: int
    kelurahan_opens: dt.date
    history: history.History


def _calendar(today: dt.date) -> tuple[StageWindow, ...]:
    """Proposals taken now; the kelurahan stage from a week on, the others after it."""
    starts = {"usulan": -3, "kelurahan": 7, "kecamatan": 21, "perangkat_daerah": 35, "kota": 49, "ditetapkan": 63}
    return tuple(StageWindow(stage=s, opens=today + dt.timedelta(days=d), closes=today + dt.timedelta(days=d + 13))
                 for s, d in starts.items())  # fmt: skip


@pytest.fixture(scope="module")
async def site(server_url: str, template_name: str) -> AsyncIterator[Site]:
    async with history.database(server_url, template_name) as (url, built):
        today = cycles.today()
        year = today.year + 1
        pool = await create_pool(url, min_size=1, max_size=3)
        try:
            command = cycle.StartCycle(year=year, region="32.75", theme=RKPD_2022_THEME,
                                       priority_programs=RKPD_2022_PROGRAMS, calendar=_calendar(today))  # fmt: skip
            await cycles.open_cycle(EventStore(pool), command, SYSTEM)
            tag = uuid.uuid4().hex[:6]
            accounts = {"admin": ("admin",), "facilitator": ("facilitator", "--region", KELURAHAN),
                        "roads": ("opd", "--opd", "DBMSDA")}  # fmt: skip
            for key, (role, *scope) in accounts.items():
                add_user(url, f"{key}-{tag}", role, *scope)
            with serving(url, cycle=False) as server:
                yield Site(server.base_url, pool, {k: f"{k}-{tag}" for k in accounts}, year,
                           today + dt.timedelta(days=7), built)
        finally:
            await pool.close()


@contextlib.asynccontextmanager
async def _as(site: Site, who: str) -> AsyncIterator[httpx.AsyncClient]:
    client = await sign_in(site.base_url, site.users[who])
    async with contextlib.aclosing(client):
        yield client


def _value(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" id="{name}"[^>]* value="([^"]*)"', page)
    assert match, f"no field {name}"
    return match.group(1)


async def _schedule(staff: httpx.AsyncClient, title: str, held_on: str = "") -> str:
    """A kelurahan forum of the next RKPD scheduled through the form (on the day offered unless `held_on`);
    its id."""
    form = (await staff.get("/petugas/musyawarah/baru")).text
    fields = {"_csrf_token": hidden(form, "_csrf_token"), "forum_id": hidden(form, "forum_id"), "level": "kelurahan",
              "region": KELURAHAN, "year": _value(form, "year"), "held_on": held_on or _value(form, "held_on"),
              "title": title, "place": "Aula", "chair": "Lurah", "ceiling": "50000000", "rule": "greedy"}  # fmt: skip
    r = await staff.post("/petugas/musyawarah/baru", data=fields)
    assert r.status_code == 303, r.text[-3000:]
    return r.headers["location"].rsplit("/", 1)[-1]


async def test_the_new_forum_form_offers_a_day_inside_the_stage_window(site: Site) -> None:
    async with _as(site, "facilitator") as staff:
        form = (await staff.get("/petugas/musyawarah/baru")).text
        assert _value(form, "year") == str(site.year)
        # The kelurahan stage opens in a week: today was offered, and refused at the first sending.
        assert _value(form, "held_on") == site.kelurahan_opens.isoformat()
        assert '<option value="kelurahan" selected>' in form
        assert await _schedule(staff, "Musrenbang Margahayu")  # sent as offered, it is scheduled


async def test_a_new_forum_with_mistakes_leads_to_them(site: Site) -> None:
    async with _as(site, "facilitator") as staff:
        form = (await staff.get("/petugas/musyawarah/baru")).text
        assert SUMMARY not in form
        r = await staff.post("/petugas/musyawarah/baru", data={
            "_csrf_token": hidden(form, "_csrf_token"), "forum_id": hidden(form, "forum_id"), "level": "kelurahan",
            "region": KELURAHAN, "year": str(site.year), "held_on": site.kelurahan_opens.isoformat(), "title": "X",
            "place": "Aula", "chair": "Lurah", "ceiling": "lima puluh juta", "rule": "greedy"})  # fmt: skip
        assert r.status_code == 422
        assert SUMMARY in r.text and 'aria-labelledby="errors-title"' in r.text
        assert '<a href="#ceiling">Pagu (rupiah): tulis pagu dalam rupiah' in r.text
        assert 'id="ceiling"' in r.text


async def test_opening_before_the_window_comes_back_to_the_forum_page(site: Site) -> None:
    async with _as(site, "facilitator") as staff:
        forum_id = await _schedule(staff, "Musrenbang Margahayu dini", site.kelurahan_opens.isoformat())
        page = await staff.get(f"/forum/{forum_id}")
        before = await site.pool.fetchval("SELECT count(*) FROM events")
        r = await staff.post(f"/forum/{forum_id}/buka", data={"_csrf_token": hidden(page.text, "_csrf_token")})
        assert r.status_code == 409, r.text[-2000:]
        assert await site.pool.fetchval("SELECT count(*) FROM events") == before
        # The forum's page (its title, its delegates form, its open button), saying why, focused.
        assert "<h1>Musrenbang Margahayu dini</h1>" in r.text
        assert f'action="/forum/{forum_id}/buka"' in r.text and f'action="/forum/{forum_id}/peserta"' in r.text
        # Its day is inside the window, a week on: that is the day it waits for (s28: the day is said first).
        assert re.search(r'<p class="error" id="errors" tabindex="-1" role="alert">Musyawarah ini dijadwalkan [^<]*:'
                         r' belum dapat dibuka sebelum hari itu', r.text)  # fmt: skip
        assert "Kembali ke beranda" not in r.text


async def test_the_staff_home_groups_forums_by_year_and_folds_past_closed_ones(site: Site) -> None:
    async with _as(site, "admin") as admin:
        forum_id = await _schedule(admin, "Musrenbang Margahayu beranda", site.kelurahan_opens.isoformat())
        home = (await admin.get("/petugas")).text
        this, past = home.index(f'id="musyawarah-{site.year}"'), home.index('id="musyawarah-2022"')
        assert this < home.index(f'href="/forum/{forum_id}"') < past  # the year at hand first, its forum in it
        closed = home[past:]
        # The three closed forums of RKPD 2022 and the one cancelled: folded (closed <details>), counted, and the
        # year's list linked.
        assert re.search(r"<details>\s*<summary>4 musyawarah sudah ditutup atau dibatalkan</summary>", closed), \
            closed[:1500]
        assert closed.index("<details>") < closed.index(f'href="/forum/{site.history.forums["called_off"]}"')
        assert 'href="/musyawarah?tahun=2022"' in closed
        assert home.index("<details>") > home.index(f'href="/forum/{forum_id}"')


async def test_the_outbox_columns_are_capitalised(site: Site) -> None:
    async with _as(site, "admin") as admin:
        page = (await admin.get("/petugas/pesan")).text
        assert '<th scope="col">Menunggu</th>' in page and '<th scope="col">Terkirim</th>' in page


async def test_a_refused_realisation_form_asks_for_its_photos_again_and_leads_to_the_mistakes(site: Site) -> None:
    async with _as(site, "roads") as staff:
        form = (await staff.get(f"/petugas/realisasi/2022/{LINE}")).text
        assert SUMMARY not in form
        fields = {"_csrf_token": hidden(form, "_csrf_token"), "idempotency_key": hidden(form, "idempotency_key"),
                  "stage": "selesai", "date": "2022-06-01", "progress": "150", "note": "serah terima"}  # fmt: skip
        r = await staff.post(f"/petugas/realisasi/2022/{LINE}", data=fields,
                             files={"foto": ("kerja.jpg", jpeg_with_gps(), "image/jpeg")})  # fmt: skip
        assert r.status_code == 422, r.text[-2000:]
        assert "serah terima</textarea>" in r.text  # typed text kept
        assert 'id="photos-error">pilih foto lagi' in r.text
        assert 'name="foto" id="foto" accept="image/jpeg,image/png,image/webp" multiple aria-invalid="true"' in r.text
        assert SUMMARY in r.text
        assert '<a href="#progress">' in r.text and '<a href="#foto">' in r.text
        # Without a photo, nothing to choose again.
        r = await staff.post(f"/petugas/realisasi/2022/{LINE}", data=fields)
        assert r.status_code == 422 and "pilih foto lagi" not in r.text and '<a href="#progress">' in r.text


async def test_a_bad_consensus_mark_far_down_the_page_is_led_to(client: httpx.AsyncClient, users) -> None:  # noqa: ANN001, F811
    csrf = await _signed_in(client, users["kelurahan"])
    forum_id, _ = await _open_forum(client, await token(client, users["kelurahan"]), rule="weighted-criteria")
    forum = (await client.get(f"/api/v1/forums/{forum_id}")).json()
    item, keys = forum["agenda"][0]["item_id"], [c["key"] for c in forum["criteria"]]
    marks = {f"m_{item}_{k}": "3" for k in keys} | {f"m_{item}_{keys[1]}": "9"}
    r = await client.post(f"/forum/{forum_id}/nilai", data={"_csrf_token": csrf, **marks})
    assert r.status_code == 422
    summary = r.text[r.text.index(SUMMARY):]
    link = summary.index(f'<a href="#m_{item}_{keys[1]}">1. ')
    assert link < summary.index("nilai 1 sampai 5") < summary.index("</div>")
    assert r.text.index('action="/forum/') < r.text.index(SUMMARY)  # inside the failing form, as on /usulan/baru
    # Closing without "Saya paham": led to the checkbox at the bottom.
    r = await client.post(f"/forum/{forum_id}/tutup", data={"_csrf_token": csrf})
    assert r.status_code == 422 and SUMMARY in r.text and '<a href="#understood">' in r.text
