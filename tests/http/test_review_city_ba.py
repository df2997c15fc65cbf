"""The city-level Berita Acara pages of a year whose forum has not closed say why there is no Berita Acara
(as a kelurahan's or kecamatan's does), through the real server; a year that is no cycle stays a plain 404."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.http.city_setup import City, city_site

pytestmark = pytest.mark.slow

WHY = "Berita Acara belum ada: musyawarah ini belum ditutup. Berita Acara dibuat saat musyawarah ditutup."
PAGES = ("/rkpd/2022/forum-perangkat-daerah", "/rkpd/2022/musrenbang-kota")
SCHEDULE = {
    "held_on": "2021-03-10", "place": "Aula Bappelitbangda", "chair": "Sekretaris Daerah",
    "participants": [{"name": "Perwakilan DBMSDA", "kind": "agency", "represents": "DBMSDA"}],
    "agenda": ["Pembukaan"],
}  # fmt: skip


@pytest.fixture(scope="module")
async def city(server_url: str, template_name: str) -> AsyncIterator[City]:
    async with city_site(server_url, template_name, {"admin": ("admin",)}, tokens=("admin",)) as c:
        yield c


async def test_a_forum_not_closed_yet_says_why_there_is_no_berita_acara(city: City) -> None:
    assert await city.pool.fetchval("SELECT count(*) FROM cycles WHERE year = 2022") == 1
    for path in PAGES:  # the year is a cycle; neither forum is scheduled yet
        r = await city.api.get(path)
        assert r.status_code == 404, path
        assert WHY in r.text, (path, r.text[:2000])
    for path in ("/rkpd/2031/forum-perangkat-daerah", "/rkpd/2031/musrenbang-kota"):  # no such cycle
        r = await city.api.get(path)
        assert r.status_code == 404 and WHY not in r.text, path
    # Scheduled, not closed: the page shows the schedule and says the Berita Acara comes with the close.
    r = await city.api.post("/api/v1/rkpd/2022/receive", headers=city.tokens["admin"])
    assert r.status_code == 200, r.text
    r = await city.api.post("/api/v1/rkpd/2022/forums/forum_pd", json=SCHEDULE, headers=city.tokens["admin"])
    assert r.status_code == 200, r.text
    page = await city.api.get(PAGES[0])
    assert page.status_code == 200 and 'id="belum-ditutup"' in page.text and "Aula Bappelitbangda" in page.text
    still = await city.api.get(PAGES[1])
    assert still.status_code == 404 and WHY in still.text
