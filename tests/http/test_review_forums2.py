"""Review through a real server: a city forum's participant with a `|` in the name or `represents` (the
schedule form's separator) is refused by the form and the JSON API alike, one recorded before is shown so
that a re-save keeps its fields; and a plural message's count is grouped as every figure on the site. The city
tests run in order on one history (tests/http/city_setup.py)."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import AsyncIterator

import asyncpg
import pytest

from musrenbang.domain.events import ForumParticipant, RkpdForumScheduled
from musrenbang.eventlog.store import Append, EventStore, Metadata
from musrenbang.reference import load_regions
from tests.http.city_setup import City, city_site, form_of
from tests.http.conftest import event_count
from tests.http.test_pages import hidden
from tests.waiting import eventually

pytestmark = pytest.mark.slow

PAGE, API = "/petugas/rkpd/2022", "/api/v1/rkpd/2022"
ACTION = PAGE + "/forum/forum_pd"
SCHEDULE = {"held_on": "2021-03-10", "place": "Aula Bappeda", "chair": "Sekretaris Daerah", "agenda": ["Pembukaan"],
            "participants": [{"name": "Perwakilan DBMSDA", "kind": "agency", "represents": "DBMSDA"}]}  # fmt: skip
TYPED = "Perwakilan DBMSDA | opd | DBMSDA\nH. Ahmad Fauzi | dprd | Dapil 1\nIbu Sari | kecamatan | Kecamatan Bekasi"


@pytest.fixture(scope="module")
async def city(server_url: str, template_name: str) -> AsyncIterator[City]:
    async with city_site(server_url, template_name, {"admin": ("admin",)}, tokens=("admin",)) as c:
        r = await c.api.post(f"{API}/receive", headers=c.tokens["admin"])
        assert r.status_code == 200, r.text
        yield c


def _form(page: str, participants: str) -> dict[str, str]:
    """The Forum PD's schedule form as the page shows it (its key, the CSRF token), with `participants`."""
    form = form_of(page, ACTION)
    shown = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    return {"_csrf_token": hidden(page, "_csrf_token"), **shown, "held_on": "2021-03-10", "starts_at": "09:00",
            "place": "Aula Bappeda", "chair": "Sekretaris Daerah", "agenda": "Pembukaan",
            "participants": participants}  # fmt: skip


def _participants_shown(page: str) -> str:
    found = re.search(r'<textarea name="participants" id="forum_pd-participants"[^>]*>(.*?)</textarea>',
                      form_of(page, ACTION), re.S)  # fmt: skip
    assert found
    return html.unescape(found.group(1))


async def _shown(city: City) -> list[tuple[str, str, str]]:
    r = await city.api.get(f"{API}/forums/forum_pd")
    return [(p["name"], p["kind"], p["represents"]) for p in r.json()["participants"]] if r.status_code == 200 else []


async def test_the_api_refuses_a_separator_in_a_name_or_represents(city: City) -> None:
    before = await event_count(city.pool)
    for person, said in (({"name": "Budi | Santoso", "kind": "dprd"}, "nama tidak boleh memuat tanda |"),
                         ({"name": "Budi", "kind": "dprd", "represents": "Dapil | 1"},
                          "isian mewakili tidak boleh memuat tanda |")):  # fmt: skip
        body = {**SCHEDULE, "participants": [*SCHEDULE["participants"], person]}
        r = await city.api.post(f"{API}/forums/forum_pd", json=body, headers=city.tokens["admin"])
        assert r.status_code == 422, r.text
        assert r.json()["errors"]["participants"] == f"peserta ke-2: {said}", r.text
    assert await event_count(city.pool) == before
    assert (await city.api.get(f"{API}/forums/forum_pd")).status_code == 404  # nothing scheduled


async def test_the_form_refuses_it_and_a_normal_list_round_trips(city: City) -> None:
    admin = await city.as_("admin")
    page = (await admin.get(PAGE)).text
    before = await event_count(city.pool)
    for typed in ("Budi | Santoso | dprd | Dapil 1", "Budi | dprd | Dapil | 1"):
        r = await admin.post(ACTION, data=_form(page, f"Perwakilan DBMSDA | opd | DBMSDA\n{typed}"))
        assert r.status_code == 422, r.text
        assert "peserta ke-2: tulis nama | jenis | mewakili, tanpa tanda | di dalam nama" in r.text
        assert typed in _participants_shown(r.text)  # what was typed is kept
    assert await event_count(city.pool) == before
    r = await admin.post(ACTION, data=_form(page, TYPED))
    assert r.status_code == 303, r.text
    assert _participants_shown((await admin.get(PAGE)).text) == TYPED
    assert await _shown(city) == [("Perwakilan DBMSDA", "agency", "DBMSDA"), ("H. Ahmad Fauzi", "dprd", "Dapil 1"),
                                  ("Ibu Sari", "kecamatan", "Kecamatan Bekasi")]  # fmt: skip


async def test_one_recorded_before_is_shown_so_that_a_resave_keeps_its_fields(city: City) -> None:
    """Recorded before the rules refused it: a reschedule from the form as shown once sent its parts into the
    wrong fields (here the kind, refused); shown with ¦, it keeps them."""
    old = ForumParticipant(name="Budi | Santoso", kind="dprd", represents="Dapil | 1")
    await _record_directly(city.pool, old)
    await eventually(lambda: _has(city, "Budi | Santoso"), "the old schedule in the read model")
    admin = await city.as_("admin")
    page = (await admin.get(PAGE)).text
    shown = _participants_shown(page)
    assert shown == "Perwakilan DBMSDA | opd | DBMSDA\nBudi ¦ Santoso | dprd | Dapil ¦ 1"
    r = await admin.post(ACTION, data=_form(page, shown))
    assert r.status_code == 303, r.text
    assert await _shown(city) == [("Perwakilan DBMSDA", "agency", "DBMSDA"), ("Budi ¦ Santoso", "dprd", "Dapil ¦ 1")]


async def _record_directly(pool: asyncpg.Pool, participant: ForumParticipant) -> None:
    store = EventStore(pool)
    event = RkpdForumScheduled(year=2022, forum="forum_pd", held_on=dt.date(2021, 3, 10), place="Aula Bappeda",
                               chair="Sekretaris Daerah", agenda=("Pembukaan",),
                               participants=(ForumParticipant(name="Perwakilan DBMSDA", kind="agency",
                                                              represents="DBMSDA"), participant))  # fmt: skip
    head = await store.head("rkpd-2022")
    await store.append(Append("rkpd-2022", head, [event]), metadata=Metadata(actor="uji", role="admin"))


async def _has(city: City, name: str) -> bool:
    return any(p[0] == name for p in await _shown(city))


async def test_a_plural_count_is_grouped_as_every_figure(city: City) -> None:
    """`/wilayah` counts the kelurahan and desa in the table (two kabupaten of Aceh loaded beside the city):
    "1638 wilayah ditemukan" beside figures grouped everywhere else."""
    async with city.pool.acquire() as conn:
        for kabupaten in ("11.07", "11.08"):
            await load_regions(conn, kabupaten)
        total = await conn.fetchval("SELECT count(*) FROM regions WHERE tingkat IN ('kelurahan', 'desa')")
    assert total > 999
    assert f"{total:,}".replace(",", ".") + " wilayah ditemukan" in (await city.api.get("/wilayah")).text
    english = (await city.api.get("/wilayah?lang=en")).text
    assert re.search(rf"{total:,} \w+ found".replace(",", "."), english), english  # as every figure on the site
