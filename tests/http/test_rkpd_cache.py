"""The RKPD list, its JSON and the lineage pages served from bytes cached by the read models' state (issue 15,
part 4), through a real server on its own copy of the history (tests/history.py: RKPD 2022 adopted): ETag and 304, one
compression, a write shows on the very next read, every line reachable page by page, languages kept apart,
and nothing for one reader (staff, the "may be behind" notice) in what everyone is sent.

The tests that change the list come last: the module shares one server."""

from __future__ import annotations

import gzip
import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import msgspec
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.eventlog.store import EventStore
from musrenbang.http import rkpd_pages
from musrenbang.http.render import rupiah
from musrenbang.http.rkpd_api import rkpd_out
from tests import history
from tests.cycles import open_test_cycle
from tests.http.city_setup import sign_in
from tests.http.conftest import payload
from tests.http.test_staff import PASSWORD, add_user
from tests.server import serving

pytestmark = pytest.mark.slow

PAGE = f"/rkpd/{history.YEAR}"
JSON = f"/api/v1/rkpd/{history.YEAR}"
EQUITY = f"/rkpd/{history.YEAR}/pemerataan"
SOURCES = f"/rkpd/{history.YEAR}/sumber"
LINE = {
    "priority_program": 1, "sub_kegiatan_code": "1.03.10.2.01.0017", "program": "Program Penyelenggaraan Jalan",
    "kegiatan": "Penyelenggaraan Jalan Kabupaten/Kota", "sub_kegiatan": "Pemeliharaan Berkala Jalan",
    "funding_source": "apbd_kota", "volume": "2", "unit": "km", "pagu": 400_000_000, "origins": [],
    "output_indicator": "Panjang jalan yang dipelihara", "target": "2", "target_unit": "km",
    "renja_reason": "pemeliharaan jalan kota menurut Renstra", "locations": [history.KELURAHAN_B],
    "reason": "perubahan RKPD: pemeliharaan jalan",
}  # fmt: skip


class City(msgspec.Struct):
    base_url: str
    pool: asyncpg.Pool
    auth: dict[str, dict[str, str]]
    usernames: dict[str, str]


@pytest.fixture(scope="module")
async def city(server_url: str, template_name: str) -> AsyncIterator[City]:
    async with history.database(server_url, template_name) as (url, _):
        tag = uuid.uuid4().hex[:6]
        usernames = {"roads": f"roads-{tag}", "admin": f"admin-{tag}"}
        add_user(url, usernames["roads"], "opd", "--opd", "DBMSDA")
        add_user(url, usernames["admin"], "admin")
        with serving(url) as server:
            pool = await create_pool(url, min_size=1, max_size=2)
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                auth = {}
                for name, username in usernames.items():
                    r = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
                    auth[name] = {"Authorization": f"Bearer {r.json()['token']}"}
            yield City(server.base_url, pool, auth, usernames)
            await pool.close()


@pytest.fixture
async def web(city: City) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=city.base_url, timeout=30) as c:
        yield c


async def raw(city: City, path: str, **headers: str) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (no decoding of Content-Encoding)."""
    async with httpx.AsyncClient(base_url=city.base_url, timeout=30) as c, c.stream("GET", path, headers=headers) as r:
        body = b"".join([chunk async for chunk in r.aiter_raw()])
    return r, body


async def test_proposals_of_another_year_leave_a_years_equity_and_sources_cached(
    city: City, web: httpx.AsyncClient
) -> None:
    """Keyed by the read models' checkpoints, the equity view of every past year was rendered again for each
    new proposal (0.3 s a render at a million events, in the January peak); keyed by what the year's view
    is a function of, a proposal for another year leaves it as it is, and its validator answers 304."""
    await open_test_cycle(EventStore(city.pool), 2023)  # the next year taking proposals
    before = {path: await web.get(path) for path in (EQUITY, SOURCES)}
    assert {r.status_code for r in before.values()} == {200}
    r = await web.post("/api/v1/proposals", json=payload(kelurahan=history.KELURAHAN_B, year=2023),
                       headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
    assert r.status_code == 201, r.text  # answered once the proposals read model has it
    assert await city.pool.fetchval("SELECT count(*) FROM proposals WHERE year = 2023") >= 1
    for path, shown in before.items():
        again = await web.get(path, headers={"If-None-Match": shown.headers["etag"]})
        assert again.status_code == 304, path


@pytest.mark.parametrize("path", [PAGE, JSON, EQUITY, SOURCES])
async def test_an_unchanged_list_is_304_to_its_etag_and_compressed_once(city: City, path: str) -> None:
    first, gz = await raw(city, path, **{"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
    etag = first.headers["etag"]
    # A proxy may keep the list and ask again; a first view that also sets the CSRF token is the browser's alone.
    assert etag.startswith('W/"') and first.headers["cache-control"] == ("no-cache" if path == JSON else
                                                                         "private, no-cache")  # fmt: skip
    assert "Accept-Encoding" in first.headers["vary"]
    plain = gzip.decompress(gz)  # one gzip layer, not two
    assert plain.startswith(b"<!doctype html>") if path != JSON else plain.startswith(b'{"year":2022')
    # A client that does not take gzip gets the same bytes uncompressed, under the same validator.
    identity, body = await raw(city, path, **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in identity.headers and body == plain and identity.headers["etag"] == etag
    # Sent back: 304 with no body; a validator of another state (or garbage) gets the list.
    again, body = await raw(city, path, **{"If-None-Match": etag, "Accept-Encoding": "gzip"})
    assert again.status_code == 304 and body == b"" and again.headers["etag"] == etag
    other, body = await raw(city, path, **{"If-None-Match": 'W/"0123", "garbage', "Accept-Encoding": "identity"})
    assert other.status_code == 200 and body == plain


async def test_lineage_pages_are_304_to_their_etag(city: City) -> None:
    for path in await _lineage_paths(city):
        first, gz = await raw(city, path, **{"Accept-Encoding": "gzip"})
        assert first.status_code == 200 and first.headers["content-encoding"] == "gzip", path
        assert gzip.decompress(gz).startswith(b"<!doctype html>")
        again, body = await raw(city, path, **{"If-None-Match": first.headers["etag"], "Accept-Encoding": "gzip"})
        assert again.status_code == 304 and body == b"", path
    missing, _ = await raw(city, "/telusur/usulan/ZZZZZZZZ")
    assert missing.status_code == 404  # an unknown code is not cached as a page


async def _lineage_paths(city: City) -> list[str]:
    """The lineage pages of the first adopted line and of a proposal in it."""
    line = await city.pool.fetchval("SELECT line_id FROM rkpd_lines WHERE year = $1 ORDER BY line_id LIMIT 1",
                                    history.YEAR)  # fmt: skip
    code = await city.pool.fetchval("SELECT code FROM proposals WHERE rkpd_line = $1 ORDER BY code LIMIT 1", line)
    return [f"/telusur/rkpd/{history.YEAR}/{line}", f"/telusur/usulan/{code}"]


async def test_the_json_is_what_the_list_encodes_to_by_default(city: City, web: httpx.AsyncClient) -> None:
    """Field names and values unchanged: the cached bytes are the encoding of `rkpd_out` now."""
    served = (await web.get(JSON)).json()
    assert served == msgspec.json.decode(msgspec.json.encode(await rkpd_out(city.pool, history.YEAR)))
    assert set(served) == {"year", "status", "revision", "changed_since_adoption", "head", "total_pagu", "items",
                           "enactment"}  # fmt: skip
    assert (await web.get("/api/v1/rkpd/2031")).status_code == 404  # no cycle that year: nothing cached either


async def test_languages_are_kept_apart(city: City) -> None:
    async with httpx.AsyncClient(base_url=city.base_url, timeout=30) as english:
        r = await english.get(f"{PAGE}?lang=en")  # remembered in a cookie, as on every page
        assert r.status_code == 200 and 'lang="en"' in r.text and "lang=en" in r.headers["set-cookie"]
        assert "Cookie" in r.headers["vary"]
        en_etag = r.headers["etag"]
        assert 'lang="en"' in (await english.get(PAGE)).text  # by the cookie, from the cache
    async with httpx.AsyncClient(base_url=city.base_url, timeout=30) as indonesian:
        r = await indonesian.get(PAGE)
        assert 'lang="id"' in r.text and "Daftar yang disepakati" in r.text and r.headers["etag"] != en_etag
        assert (await indonesian.get(PAGE, headers={"If-None-Match": en_etag})).status_code == 200


async def test_nothing_for_one_reader_is_cached_for_everyone(city: City) -> None:
    # Staff signed in ask first (rendered during their request); what they get is what anyone gets.
    staff = await sign_in(city.base_url, city.usernames["admin"])
    try:
        fresh = f"{PAGE}?halaman=1"
        mine = await staff.get(fresh, headers={"Accept-Encoding": "identity"})
        assert mine.status_code == 200
    finally:
        await staff.aclose()
    anyone, body = await raw(city, fresh, **{"Accept-Encoding": "identity"})
    assert body == mine.content and anyone.headers["etag"] == mine.headers["etag"]
    for personal in (city.usernames["admin"], "/keluar", "/petugas", "_csrf_token"):
        assert personal.encode() not in body, personal
    assert "set-cookie" not in anyone.headers or "session" not in anyone.headers["set-cookie"]
    # A reader whose last write may not be applied yet is told so, on a page of its own (keyed apart, so
    # the notice never reaches anyone else, and cached, since anyone can send the notice's cookie).
    behind = await raw(city, fresh, **{"Cookie": "tertinggal=1", "Accept-Encoding": "identity"})
    assert b'id="behind"' in behind[1] and "private" in behind[0].headers["cache-control"]
    assert behind[0].headers["etag"] != anyone.headers["etag"]
    kept = await raw(city, fresh, **{"Cookie": "tertinggal=1", "If-None-Match": behind[0].headers["etag"]})
    assert kept[0].status_code == 304
    again = await raw(city, fresh, **{"Accept-Encoding": "identity"})
    assert b'id="behind"' not in again[1] and again[1] == body


async def test_a_write_shows_on_the_next_read_and_moves_the_validator(city: City, web: httpx.AsyncClient) -> None:
    page, listed, equity = await web.get(PAGE), await web.get(JSON), await web.get(EQUITY)
    sources = await web.get(SOURCES)
    lineages = {path: await web.get(path) for path in await _lineage_paths(city)}
    assert "Tidak ada perubahan sejak disepakati" in page.text
    r = await web.post(f"{JSON}/lines", json=LINE, headers=city.auth["roads"])
    assert r.status_code == 201, r.text
    line_id = r.json()["line_id"]
    # A draft change: the adopted list stands, the page says it changed (the JSON says so too).
    changed = await web.get(PAGE, headers={"If-None-Match": page.headers["etag"]})
    assert changed.status_code == 200 and "Ada perubahan sejak disepakati" in changed.text
    assert changed.headers["etag"] != page.headers["etag"]
    assert (await web.get(JSON, headers={"If-None-Match": listed.headers["etag"]})).json()["changed_since_adoption"]
    r = await web.post(f"{JSON}/adopt", json={"note": "baris Renja", "confirm_over_pagu": True},
                       headers=city.auth["admin"])  # Rp 400 juta over Bekasi Timur's pagu: confirmed (s27)
    assert r.status_code == 200, r.text
    # The equity view (cached by its read models' checkpoints) counts the new line's pagu where it serves.
    after = await web.get(EQUITY, headers={"If-None-Match": equity.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != equity.headers["etag"]
    assert _total(after.text) == _total(equity.text) + LINE["pagu"]
    # So does the sources page, under the agencies' own plans (renja).
    moved = await web.get(SOURCES, headers={"If-None-Match": sources.headers["etag"]})
    assert moved.status_code == 200 and moved.headers["etag"] != sources.headers["etag"]
    renja = (await web.get(f"/api/v1/rkpd/{history.YEAR}/sources")).json()["totals"]["renja"]
    assert rupiah(renja) in moved.text and rupiah(renja) not in sources.text
    # The lineage pages (cached by the checkpoints of lineage, proposals and city) show the new adoption.
    for path, before in lineages.items():
        now = await web.get(path, headers={"If-None-Match": before.headers["etag"]})
        assert now.status_code == 200 and now.headers["etag"] != before.headers["etag"], path
        assert now.text.count("step-rkpd-adopted") == before.text.count("step-rkpd-adopted") + 1, path
    adopted = await web.get(JSON)
    assert line_id in [i["id"] for i in adopted.json()["items"]]
    assert f'id="baris-{line_id}"' in (await web.get(PAGE)).text


def _total(equity_html: str) -> int:
    """The equity view's pagu (every source, the city-wide row's too), from its table's total row."""
    cells = re.search(r'<td class="num" id="jumlah-pagu">Rp ([\d.]+)<', equity_html)
    return int(cells[1].replace(".", ""))


async def test_every_line_is_reached_page_by_page_once(city: City, web: httpx.AsyncClient) -> None:
    have = len((await web.get(JSON)).json()["items"])
    for n in range(rkpd_pages.PAGE_SIZE + 2 - have):
        line = {**LINE, "priority_program": 1 + n % 2, "pagu": 1_000_000 + n, "sub_kegiatan": f"Pemeliharaan {n}"}
        r = await web.post(f"{JSON}/lines", json=line, headers=city.auth["roads"])
        assert r.status_code == 201, r.text
    r = await web.post(f"{JSON}/adopt", json={"note": "halaman kedua", "confirm_over_pagu": True},
                       headers=city.auth["admin"])  # over a pagu: confirmed (s27)
    assert r.status_code == 200, r.text
    data = (await web.get(JSON)).json()
    assert len(data["items"]) > rkpd_pages.PAGE_SIZE
    seen: list[str] = []
    subtotals, program_totals, path = [], [], PAGE
    while True:
        page = await web.get(path)
        assert page.status_code == 200
        seen += re.findall(r'<tr id="baris-([^"]+)">', page.text)
        subtotals += re.findall(r'<tr class="subtotal"><td colspan="5">[^<]*</td><td class="num">Rp ([\d.]+)<',
                                page.text)  # fmt: skip
        program_totals += re.findall(r'program-total"><td colspan="5">[^<]*</td><td class="num">Rp ([\d.]+)<',
                                     page.text)  # fmt: skip
        after = re.search(r'<a href="(\?halaman=\d+)" rel="next">', page.text)
        if after is None:
            break
        path = PAGE + after[1]
    assert seen == [i["id"] for i in data["items"]]  # each once, in the list's order
    # Each agency's subtotal once per priority program (on the page where its lines there end).
    assert len(subtotals) == len({(i["priority_program"], i["agency"]) for i in data["items"]})
    assert sum(int(x.replace(".", "")) for x in subtotals) == data["total_pagu"]
    assert sum(int(x.replace(".", "")) for x in program_totals) == data["total_pagu"]
    # The summary on the first page links every agency to the page of its first line.
    first = (await web.get(PAGE)).text
    for agency in {i["agency"] for i in data["items"]}:
        line = next(i for i in data["items"] if i["agency"] == agency)
        assert f'href="?halaman={rkpd_pages.page_of(line["no"])}#baris-{line["id"]}"' in first
    for missing in ("?halaman=0", "?halaman=3", "?halaman=dua", "?halaman=-1", "?halaman=99999999"):
        assert (await web.get(PAGE + missing)).status_code == 404, missing
