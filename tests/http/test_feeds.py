"""The Atom feeds (http/feeds.py) over the complete cycle of tests/history.py: the query module and the
document builder against its database, and the three feed functions in a small in-process application
(the public routes that dispatch `.atom` to them belong to the pages' own modules)."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath

from musrenbang.config import Settings
from musrenbang.db.connect import create_pool
from musrenbang.http import feeds
from musrenbang.http.i18n import load_catalogs
from musrenbang.projections import Projection, all_projections
from musrenbang.projections import feeds as feed_views
from tests import history
from tests.server import Server

BASE = "https://musrenbang.contoh.go.id"
A = "{http://www.w3.org/2005/Atom}"
WORDS = feeds.Words("id", lambda message: message, lambda code: code)


@pytest.fixture
async def city(city_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(city_database, min_size=1, max_size=3)
    yield pool
    await pool.close()


@pytest.fixture
async def web(city: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """The three feed functions behind routes of their own, as the public pages will call them."""

    @get("/kelurahan/{kode:str}")
    async def kelurahan(request: Request, kode: FromPath[str]) -> Response:
        return await feeds.kelurahan_feed(request, city, kode)

    @get("/kecamatan/{kode:str}")
    async def kecamatan(request: Request, kode: FromPath[str]) -> Response:
        return await feeds.kecamatan_feed(request, city, kode)

    @get("/rkpd/{year:int}")
    async def rkpd(request: Request, year: FromPath[int]) -> Response:
        return await feeds.rkpd_feed(request, city, year)

    app = Litestar(route_handlers=[kelurahan, kecamatan, rkpd], state=State({
        "settings": Settings.from_env({"MUSRENBANG_PUBLIC_URL": BASE}), "catalogs": load_catalogs()}))  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://feeds.test") as client:
        yield client


def parsed(body: bytes) -> ET.Element:
    root = ET.fromstring(body)
    assert root.tag == f"{A}feed"
    return root


def entries(root: ET.Element) -> list[dict[str, str]]:
    return [{"id": e.findtext(f"{A}id", ""), "title": e.findtext(f"{A}title", ""),
             "updated": e.findtext(f"{A}updated", ""), "content": e.findtext(f"{A}content", ""),
             "link": e.find(f"{A}link").get("href", "")}  # type: ignore[union-attr]
            for e in root.findall(f"{A}entry")]  # fmt: skip


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def national(phone: str) -> str:
    """A phone number's digits without the country or trunk prefix."""
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if digits.startswith("62") else digits.lstrip("0")


async def codes_in(pool: asyncpg.Pool, column: str, value: str) -> set[str]:
    return {r["code"] for r in await pool.fetch(f"SELECT code FROM proposals WHERE {column} = $1", value)}


async def test_a_kelurahan_feed_is_atom_of_its_proposals_changes_newest_first(
    web: httpx.AsyncClient, city: asyncpg.Pool
) -> None:
    r = await web.get(f"/kelurahan/{history.KELURAHAN_A}.atom")
    assert r.status_code == 200 and r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root = parsed(r.content)
    assert root.findtext(f"{A}id") == f"{BASE}/kelurahan/{history.KELURAHAN_A}.atom"
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{A}link")}
    assert links == {"self": f"{BASE}/kelurahan/{history.KELURAHAN_A}.atom",
                     "alternate": f"{BASE}/kelurahan/{history.KELURAHAN_A}"}  # fmt: skip
    found = entries(root)
    assert 10 < len(found) <= feed_views.LIMIT
    own = await codes_in(city, "kelurahan", history.KELURAHAN_A)
    assert {e["link"].removeprefix(f"{BASE}/lacak/") for e in found} <= own
    assert all(e["link"].startswith(f"{BASE}/lacak/") for e in found)
    assert len({e["id"] for e in found}) == len(found)
    assert all(re.fullmatch(r"tag:musrenbang\.contoh\.go\.id,\d{4}-\d\d-\d\d:usulan/[0-9A-Z]{8}/\d+", e["id"])
               for e in found)  # fmt: skip
    times = [moment(e["updated"]) for e in found]
    assert times == sorted(times, reverse=True)
    assert moment(root.findtext(f"{A}updated", "")) == times[0]
    contents = " | ".join(e["content"] for e in found)
    assert "Pelaksanaan 40%" in contents  # the line's milestone, on the timeline of the proposals it came from
    again = entries(parsed((await web.get(f"/kelurahan/{history.KELURAHAN_A}.atom")).content))
    assert [e["id"] for e in again] == [e["id"] for e in found]  # stable


async def test_every_kind_of_change_is_worded_as_the_tracking_page_words_it(city: asyncpg.Pool) -> None:
    async with city.acquire() as conn:
        changes = await feed_views.region_changes(conn, kelurahan=history.KELURAHAN_A, limit=500)
    texts = [e.content for e in feeds.entries(changes, WORDS, BASE)]
    for wording in ("Usulan diajukan\n", "Dikembalikan untuk diperbaiki: lengkapi",
                    "Usulan diperbaiki oleh pengusul dan diajukan kembali", "Foto ditambahkan",
                    "Ditolak: bukan kewenangan", "Digabungkan ke usulan", "1 usulan serupa bergabung ke sini:",
                    "Diterima dengan perubahan: biaya disepakati Rp 8.000.000 — harga", "Lolos verifikasi dan diterima",
                    "Dibahas di Musrenbang Kelurahan, peringkat", "disepakati dan diteruskan",
                    "Diterima di Forum Perangkat Daerah, ditangani DBMSDA",
                    "Dialihkan ke DISPERKIMTAN — jalan lingkungan",
                    "Tidak diakomodasi oleh DISPERKIMTAN — sudah dianggarkan 2021", "Baris RKPD DBMSDA-001 ditarik",
                    "Masuk rancangan RKPD sebagai Rehabilitasi Jalan oleh DBMSDA: pagu Rp 50.000.000",
                    "Perubahan RKPD ditetapkan (revisi 2)", "Diusulkan lagi untuk RKPD 2023 sebagai",
                    "APBD: Rp 48.000.000, 20 Desember 2021 — efisiensi harga satuan"):  # fmt: skip
        assert any(wording in t for t in texts), wording
    assert not [c.kind for c in changes if feeds.describe(c.kind, c.details, WORDS) == c.kind], "a kind unworded"


async def test_a_kecamatan_feed_covers_its_villages_and_unknown_places_are_not_found(
    web: httpx.AsyncClient, city: asyncpg.Pool
) -> None:
    r = await web.get(f"/kecamatan/{history.KECAMATAN}.atom")
    assert r.status_code == 200
    linked = {e["link"].removeprefix(f"{BASE}/lacak/") for e in entries(parsed(r.content))}
    assert linked & await codes_in(city, "kelurahan", history.KELURAHAN_A)
    assert linked & await codes_in(city, "kelurahan", history.KELURAHAN_B)
    for url in (f"/kecamatan/{history.KELURAHAN_A}", f"/kelurahan/{history.KECAMATAN}", "/kelurahan/99.99.99.9999",
                "/kecamatan/<script>", "/rkpd/1999"):  # fmt: skip
        assert (await web.get(url)).status_code == 404, url


async def test_the_rkpd_feed_has_its_adoptions_milestones_and_city_level_decisions(web: httpx.AsyncClient) -> None:
    r = await web.get(f"/rkpd/{history.YEAR}")
    assert r.status_code == 200
    root = parsed(r.content)
    assert root.findtext(f"{A}title") == f"Kabar RKPD {history.YEAR}"
    found = entries(root)
    adoptions = [e for e in found if e["link"] == f"{BASE}/rkpd/{history.YEAR}"]
    assert [e["title"] for e in adoptions] == [f"RKPD {history.YEAR} diundangkan (revisi 2)",
                                               f"RKPD {history.YEAR} ditetapkan (revisi 2)",
                                               f"RKPD {history.YEAR} ditetapkan (revisi 1)"]  # fmt: skip
    assert history.REGULATION in adoptions[0]["content"]  # the regulation that set it, once
    assert "total pagu Rp 50.000.000 — perubahan pagu" in adoptions[1]["content"]
    line = [e for e in found if e["link"] == f"{BASE}/telusur/rkpd/{history.YEAR}/DBMSDA-002"]
    assert [e["content"] for e in line] == ["Pelaksanaan 40%: Rp 19.000.000, 2 Mei 2022 — galian saluran selesai",
                                            "APBD: Rp 48.000.000, 20 Desember 2021 — efisiensi harga satuan"]
    assert all(e["title"].startswith("Rehabilitasi Jalan — ") for e in line)
    proposals = [e for e in found if "/lacak/" in e["link"]]
    assert any("Tidak diakomodasi oleh DISPERKIMTAN" in e["content"] for e in proposals)
    # the adoption and the milestones are entries of their own, not repeated for each proposal they touch
    assert not any("RKPD ditetapkan" in e["content"] for e in proposals)
    assert not any("Pelaksanaan" in e["content"] for e in proposals)
    times = [moment(e["updated"]) for e in found]
    assert times == sorted(times, reverse=True) and moment(root.findtext(f"{A}updated", "")) == times[0]
    assert len({e["id"] for e in found}) == len(found)


async def test_a_reader_with_the_current_copy_gets_304(web: httpx.AsyncClient) -> None:
    url = f"/kecamatan/{history.KECAMATAN}.atom"
    first = await web.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('W/"')
    assert (await web.get(url, headers={"If-None-Match": etag})).status_code == 304
    assert (await web.get(url, headers={"If-None-Match": 'W/"other"'})).status_code == 200
    assert (await web.get(url, headers={"If-Modified-Since": modified})).status_code == 304
    assert (await web.get(url, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})).status_code == 200


async def test_a_feed_reads_in_english_with_lang_en(web: httpx.AsyncClient) -> None:
    root = parsed((await web.get(f"/kelurahan/{history.KELURAHAN_B}.atom?lang=en")).content)
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert any("Proposal submitted" in e["content"] for e in entries(root))
    assert all(" for RKPD " in e["content"] and "untuk RKPD" not in e["content"] for e in entries(root))
    self_link = next(link.get("href") for link in root.findall(f"{A}link") if link.get("rel") == "self")
    assert self_link == f"{BASE}/kelurahan/{history.KELURAHAN_B}.atom?lang=en"


async def test_markup_and_ampersands_in_titles_are_text_not_markup(city: asyncpg.Pool) -> None:
    tricky = 'Jalan & <b>saluran</b> "RT 01" ]]> \x01selesai'
    async with city.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:  # a title no proposal of the history has, never committed
            code = await conn.fetchval(
                "UPDATE proposals SET title = $1 WHERE code = (SELECT min(code) FROM proposals WHERE kelurahan = $2)"
                " RETURNING code",
                tricky, history.KELURAHAN_A,
            )  # fmt: skip
            changes = await feed_views.region_changes(conn, kelurahan=history.KELURAHAN_A)
        finally:
            await tx.rollback()
    feed = feeds.Feed(id=f"{BASE}/x.atom", title="a & b <c>", subtitle="", self_link=f"{BASE}/x.atom?a=1&b=2",
                      page_link=BASE, author="Musrenbang", lang="id", since=feed_views.EPOCH)  # fmt: skip
    body = feeds.atom(feed, feeds.entries(changes, WORDS, BASE))
    assert b"<b>" not in body and b"&lt;b&gt;" in body and b"\x01" not in body
    root = parsed(body)
    assert root.findtext(f"{A}title") == "a & b <c>"
    titles = [e["title"] for e in entries(root) if e["link"] == f"{BASE}/lacak/{code}"]
    assert titles and all(t.startswith('Jalan & <b>saluran</b> "RT 01" ]]> selesai — ') for t in titles)


async def test_no_feed_holds_personal_data(web: httpx.AsyncClient) -> None:
    people = [*history.PROPOSERS, ("sri.lestari@contoh.id", "")]
    words = {w.casefold() for name, _ in people for w in [name, *name.split()] if len(w) >= 7}
    phones = {national(phone) for _, phone in people if phone}
    for url in (f"/kelurahan/{history.KELURAHAN_A}.atom", f"/kelurahan/{history.KELURAHAN_B}.atom",
                f"/kecamatan/{history.KECAMATAN}.atom", f"/rkpd/{history.YEAR}", f"/rkpd/{history.NEXT_YEAR}"):
        for lang in ("id", "en"):
            body = (await web.get(url, params={"lang": lang})).text
            assert not [w for w in words if w in body.casefold()], url
            assert not [p for p in phones if p in re.sub(r"\D", "", body)], url


def test_the_feeds_module_is_a_query_module_not_a_projection() -> None:
    assert "feeds" not in {p.name for p in all_projections()}
    assert not [v for v in vars(feed_views).values() if isinstance(v, type) and issubclass(v, Projection)]


def test_an_empty_feed_is_still_valid_atom_dated_by_when_it_began() -> None:
    began = dt.datetime(2022, 1, 3, 8, 30, tzinfo=dt.UTC)
    feed = feeds.Feed(id=f"{BASE}/kelurahan/1.atom", title="t", subtitle="s", self_link=BASE, page_link=BASE,
                      author="", lang="id", since=began)  # fmt: skip
    root = parsed(feeds.atom(feed, []))
    assert root.findtext(f"{A}updated") == "2022-01-03T08:30:00Z" and not root.findall(f"{A}entry")
    assert root.findtext(f"{A}author/{A}name") == "Musrenbang"


async def test_a_place_with_no_proposals_has_a_feed_dated_by_the_first_cycle(
    web: httpx.AsyncClient, city: asyncpg.Pool
) -> None:
    """Atom requires `updated`; an empty feed said 1970, which readers show as the feed's last change."""
    async with city.acquire() as conn:
        set_up = await conn.fetchval("SELECT min(started_at) FROM cycles")
        quiet = await conn.fetchval(
            "SELECT r.kode FROM regions r WHERE r.tingkat = 'kelurahan' AND r.kode LIKE $1 || '%'"
            " AND NOT EXISTS (SELECT 1 FROM proposals p WHERE p.kelurahan = r.kode) ORDER BY r.kode LIMIT 1",
            history.KECAMATAN,
        )  # fmt: skip
        opened = await conn.fetchval("SELECT started_at FROM cycles WHERE year = $1", history.YEAR)
        assert await feed_views.year_started(conn, history.YEAR) == opened
        assert await feed_views.year_started(conn, 1999) is None
    assert set_up is not None and quiet is not None
    answer = await web.get(f"/kelurahan/{quiet}.atom")
    root = parsed(answer.content)
    assert not root.findall(f"{A}entry")
    assert moment(root.findtext(f"{A}updated", "")) == set_up.replace(microsecond=0)
    assert answer.headers["last-modified"] != "Thu, 01 Jan 1970 00:00:00 GMT"


# --- through the real server, where the pages' routes dispatch `.atom` here -----------------------------


@pytest.mark.slow
async def test_the_public_routes_serve_the_feeds(city_server: Server) -> None:
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        for path, linked in ((f"/kelurahan/{history.KELURAHAN_A}.atom", "/lacak/"),
                             (f"/kecamatan/{history.KECAMATAN}.atom", "/lacak/"),
                             (f"/rkpd/{history.YEAR}.atom", f"/telusur/rkpd/{history.YEAR}/DBMSDA-002")):  # fmt: skip
            r = await client.get(path)
            assert r.status_code == 200 and r.headers["content-type"] == feeds.MEDIA_TYPE, path
            root = parsed(r.content)
            assert root.findtext(f"{A}id", "").endswith(path)
            assert any(linked in e["link"] for e in entries(root)), path
            assert (await client.get(path, headers={"If-None-Match": r.headers["etag"]})).status_code == 304
        for path in ("/kelurahan/32.75.01.atom", f"/kecamatan/{history.KELURAHAN_A}.atom", "/rkpd/1999.atom"):
            assert (await client.get(path)).status_code == 404, path
