"""RW and RT are optional where the proposal's place is a desa (review s29: a kabupaten's desa residents could
not submit truthfully: many desa have no RW/RT, Bali's banjar, Aceh's dusun), and still required in a
kelurahan. Through a real server on a database set up for Kabupaten Jembrana (51.01), which has both: Desa
Medewi (51.01.03.2001) and Kelurahan Baler Bale Agung (51.01.01.1006). The JSON API, the resident's form,
the revision of a returned proposal, the tracking page, the kelurahan/desa page and the staff queue."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.demo import RKPD_2022_PROGRAMS, RKPD_2022_THEME
from musrenbang.domain.cycle import StartCycle
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections import forums as forum_views
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.reference import city_settings
from musrenbang.services import accounts, cycles
from musrenbang.services.bootstrap import prepare
from tests.conftest import _throwaway_database
from tests.cycles import open_calendar
from tests.http.conftest import payload
from tests.http.test_pages import FORM_FIELDS, code_on, hidden
from tests.http.test_staff import PASSWORD
from tests.rkpd_site import text
from tests.server import Server, serving

pytestmark = pytest.mark.slow

JEMBRANA, MEDEWI, BALER_BALE_AGUNG = "51.01", "51.01.03.2001", "51.01.01.1006"
YEAR = 2027  # taking proposals now (planned during 2026); this module's own database
META = Metadata(actor="bappeda", role="admin")
ADMIN = f"admin-{uuid.uuid4().hex[:6]}"
RT_WITHOUT_RW = "RT tidak dapat diisi tanpa RW: isi nomor RW, atau kosongkan RT juga"


@dataclasses.dataclass
class Site:
    server: Server
    url: str


async def _build(url: str) -> None:
    pool = await create_pool(url, min_size=1, max_size=3)
    try:
        store = EventStore(pool)
        async with pool.acquire() as conn:
            await prepare(conn, store, city_settings(JEMBRANA))
        cycles.use_timezone("WIB")  # prepare took Jembrana's (WITA) for this process: the other tests' is Bekasi's
        async with pool.acquire() as conn:
            await accounts.add_user(conn, ADMIN, PASSWORD, "admin", None, None)
        await cycles.open_cycle(store, StartCycle(year=YEAR, region=JEMBRANA, theme=RKPD_2022_THEME,
                                                  priority_programs=RKPD_2022_PROGRAMS,
                                                  calendar=open_calendar(year=YEAR)), META)  # fmt: skip
        await ProjectionRunner(pool, all_projections()).catch_up_all()
    finally:
        await pool.close()


@pytest.fixture(scope="module")
async def site(server_url: str) -> AsyncIterator[Site]:
    async with _throwaway_database(server_url, None) as url:
        await _build(url)
        with serving(url, cycle=False, extra_env={"MUSRENBANG_SUBMISSIONS_PER_HOUR": "1000"}) as server:
            yield Site(server, url)


@pytest.fixture
async def web(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.server.base_url, timeout=30) as client:
        yield client


@pytest.fixture
async def db(site: Site) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(site.url, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def events(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM events")


async def admin_headers(web: httpx.AsyncClient) -> dict[str, str]:
    got = await web.post("/api/v1/auth/token", json={"username": ADMIN, "password": PASSWORD})
    assert got.status_code == 200, got.text
    return {"Authorization": f"Bearer {got.json()['token']}"}


def body(title: str, **changes: object) -> dict[str, object]:
    """A proposal of this module's year; `rw`/`rt` None: left out of the body."""
    sent = payload(year=YEAR, title=title, **changes)
    return {k: v for k, v in sent.items() if v is not None}


async def submit(web: httpx.AsyncClient, sent: dict[str, object]) -> httpx.Response:
    return await web.post("/api/v1/proposals", json=sent, headers={"Idempotency-Key": str(uuid.uuid4())})


def location(page: str) -> str:
    """The tracking page's "Lokasi" line, as read."""
    found = re.search(r"<dt>Lokasi</dt><dd>(.*?)</dd>", page, re.S)
    assert found, page[:500]
    return text(found.group(1))


async def test_a_desa_proposal_without_rw_and_rt_is_taken_and_reads_naturally(web: httpx.AsyncClient,
                                                                               db: asyncpg.Pool) -> None:  # fmt: skip
    title = f"Senderan jalan banjar {uuid.uuid4().hex[:5]}"
    made = await submit(web, body(title, kelurahan=MEDEWI, rw=None, rt=None,
                                                         address="Banjar Medewi Kaja"))  # fmt: skip
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    got = (await web.get(f"/api/v1/proposals/{code}")).json()
    assert (got["rw"], got["rt"], got["kelurahan"]) == (None, None, MEDEWI)
    assert (await submit(web, body(f"{title} null", kelurahan=MEDEWI, rw=None, rt=None)
                           | {"rw": None, "rt": None})).status_code == 201  # null as well as left out
    track = await web.get(f"/lacak/{code}")
    assert track.status_code == 200
    assert location(track.text) == "Banjar Medewi Kaja"
    place = text((await web.get(f"/kelurahan/{MEDEWI}")).text)
    assert title in place and "None" not in place and "RW ·" not in place
    queue = (await web.get("/petugas/verifikasi", headers=await admin_headers(web))).text
    summary = re.search(rf"<small>([^<]*· {code})</small>", queue)
    assert summary and text(summary.group(1)) == f"RKPD {YEAR} · Medewi · Rp 25.000.000 · {code}", summary
    candidate = re.search(rf"<small>({code} ·[^<]*)</small>", queue)  # the merge form's list
    assert candidate and text(candidate.group(1)) == f"{code} · Medewi", candidate
    lineage = text((await web.get(f"/telusur/usulan/{code}")).text)
    assert title in lineage and "None" not in lineage and " RW " not in lineage
    async with db.acquire() as conn:  # the Berita Acara's table T-D.4 names the place, with no RW to name
        [row] = await forum_views.kecamatan_priorities(conn, YEAR, [(code, 1, "1", "m")], lambda bidang: "DPUPR")
    assert row["place"] == "Medewi"


async def test_a_desa_proposal_may_name_its_rw_only(web: httpx.AsyncClient) -> None:
    made = await submit(web, body(f"Balai banjar {uuid.uuid4().hex[:5]}", kelurahan=MEDEWI,
                                                         rw=4, rt=None, address="Banjar Tengah"))  # fmt: skip
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    assert ((await web.get(f"/api/v1/proposals/{code}")).json()["rt"]) is None
    assert location((await web.get(f"/lacak/{code}")).text) == "RW 4, Banjar Tengah"
    bounded = await submit(web, body("Balai banjar lain", kelurahan=MEDEWI, rw=100))
    assert bounded.status_code == 422 and bounded.json()["errors"]["rw"] == "nomor RW antara 1 dan 99"


async def test_rw_and_rt_are_still_required_in_a_kelurahan_and_rt_needs_its_rw(
    web: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    before = await events(db)
    kelurahan = await submit(web, body("Saluran kelurahan", kelurahan=BALER_BALE_AGUNG,
                                                              rw=None, rt=None))  # fmt: skip
    assert kelurahan.status_code == 422, kelurahan.text
    assert kelurahan.json()["errors"] == {"rw": "wajib diisi", "rt": "wajib diisi"}
    only_rt = await submit(web, body("Saluran desa", kelurahan=MEDEWI, rw=None, rt=2))
    assert only_rt.status_code == 422, only_rt.text
    assert only_rt.json()["errors"] == {"rw": RT_WITHOUT_RW}
    null_rw = await submit(web, body("Saluran kelurahan", kelurahan=BALER_BALE_AGUNG,
                                                            rt=2) | {"rw": None})  # fmt: skip
    assert null_rw.status_code == 422 and null_rw.json()["errors"] == {"rw": "wajib diisi"}
    assert await events(db) == before
    fine = await submit(web, body("Saluran kelurahan", kelurahan=BALER_BALE_AGUNG))
    assert fine.status_code == 201, fine.text
    assert location((await web.get(f"/lacak/{fine.json()['code']}")).text) == "RW 5 / RT 3, Jl. Melati, depan masjid"


async def _form(web: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    page = await web.get("/usulan/baru", params={"tahun": YEAR})
    assert page.status_code == 200, page.text[:300]
    return page.text, {"_csrf_token": hidden(page.text, "_csrf_token"),
                       "idempotency_key": hidden(page.text, "idempotency_key"), "year": str(YEAR)}  # fmt: skip


def _input(page: str, name: str) -> str:
    found = re.search(rf'<input [^>]*name="{name}"[^>]*>', page)
    assert found, name
    return found.group(0)


async def test_the_form_takes_a_desa_proposal_without_rw_and_rt(web: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    page, tokens = await _form(web)
    assert " required" not in _input(page, "rw") and " required" not in _input(page, "rt")  # a desa may be chosen
    assert "kosongkan bila desa tidak memakai RW/RT" in page
    title = f"Perbaikan jalan subak {uuid.uuid4().hex[:5]}"
    fields = {**FORM_FIELDS, "kelurahan": MEDEWI, "rw": "", "rt": "", "title": title, "address": "Subak Medewi"}
    before = await events(db)
    refused = await web.post("/usulan/baru", data={**tokens, **fields, "kelurahan": BALER_BALE_AGUNG})
    assert refused.status_code == 422
    assert 'id="rw-error">wajib diisi<' in refused.text and 'id="rt-error">wajib diisi<' in refused.text
    alone = await web.post("/usulan/baru", data={**tokens, **fields, "rt": "3"})
    assert alone.status_code == 422 and f'id="rw-error">{RT_WITHOUT_RW}<' in alone.text
    assert await events(db) == before
    sent = await web.post("/usulan/baru", data={**tokens, **fields})
    assert sent.status_code == 200, re.findall(r'class="error"[^>]*>([^<]*)', sent.text)
    code = code_on(sent.text)
    row = await db.fetchrow("SELECT rw, rt, kelurahan FROM proposals WHERE code = $1", code)
    assert (row["rw"], row["rt"], row["kelurahan"]) == (None, None, MEDEWI)
    assert location((await web.get(f"/lacak/{code}")).text) == "Subak Medewi"


async def test_a_returned_desa_proposal_is_revised_without_rw_and_rt(web: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    made = await submit(web, body(f"Pura banjar {uuid.uuid4().hex[:5]}", kelurahan=MEDEWI,
                                                         rw=2, rt=1, address="Banjar Medewi Kelod"))  # fmt: skip
    assert made.status_code == 201, made.text
    code, secret = made.json()["code"], made.json()["revision_secret"]
    returned = await web.post(f"/api/v1/proposals/{code}/verification", headers=await admin_headers(web),
                              json={"decision": "return", "reason": "Desa ini tidak memakai RW/RT: kosongkan"})
    assert returned.status_code == 200, returned.text
    form = await web.get(f"/lacak/{code}/perbaiki")
    assert form.status_code == 200
    assert " required" not in _input(form.text, "rw")
    assert "Kosongkan RW dan RT bila desa tidak memakai RW/RT." in form.text  # a desa's own hint, not the region's
    fields = {name: hidden(form.text, name) for name in ("_csrf_token", "idempotency_key", "kelurahan")}
    typed = {**FORM_FIELDS, **fields, "revision_secret": secret, "rw": "", "rt": "5", "address": "Banjar Medewi"}
    before = await events(db)
    alone = await web.post(f"/lacak/{code}/perbaiki", data=typed)
    assert alone.status_code == 422 and RT_WITHOUT_RW in alone.text
    assert await events(db) == before
    revised = await web.post(f"/lacak/{code}/perbaiki", data={**typed, "rt": ""}, follow_redirects=False)
    assert revised.status_code == 303, re.findall(r'class="error"[^>]*>([^<]*)', revised.text)
    assert location((await web.get(f"/lacak/{code}")).text) == "Banjar Medewi"
    api = (await web.get(f"/api/v1/proposals/{code}")).json()
    assert (api["rw"], api["rt"], api["revision"]) == (None, None, 1)


async def test_the_kelurahan_revision_form_still_requires_rw(web: httpx.AsyncClient) -> None:
    made = await submit(web, body(f"Got kelurahan {uuid.uuid4().hex[:5]}",
                                                         kelurahan=BALER_BALE_AGUNG))  # fmt: skip
    assert made.status_code == 201, made.text
    code, secret = made.json()["code"], made.json()["revision_secret"]
    returned = await web.post(f"/api/v1/proposals/{code}/verification", headers=await admin_headers(web),
                              json={"decision": "return", "reason": "Lengkapi alamat"})
    assert returned.status_code == 200, returned.text
    form = await web.get(f"/lacak/{code}/perbaiki")
    assert " required" in _input(form.text, "rw") and "tidak memakai RW/RT" not in form.text
    revised = await web.post(f"/api/v1/proposals/{code}/revision",
                             json={k: v for k, v in body("Got kelurahan diperbaiki", kelurahan=BALER_BALE_AGUNG,
                                                         rw=None).items() if k not in ("proposer", "year")}
                             | {"revision_secret": secret})  # fmt: skip
    assert revised.status_code == 422 and revised.json()["errors"] == {"rw": "wajib diisi"}
