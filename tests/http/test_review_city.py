"""Review of Bappeda's city screens (`/petugas/rkpd/{year}`: the Forum Perangkat Daerah and Musrenbang Kota
forms, adoption) through a real server on a database of its own (tests/http/city_setup.py). The tests run in
order on one history: who may act, a schedule form sent again after Back, a tab left open while an agency
changed the list, a double tap on adoption, a note too long shown beside its field."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.http.city_setup import City, city_site, form_of
from tests.http.conftest import event_count
from tests.http.test_pages import hidden

pytestmark = pytest.mark.slow

PAGE = "/petugas/rkpd/2022"
API = "/api/v1/rkpd/2022"
DRAINS = ("Perbaikan saluran RW 01", "Perbaikan saluran RW 02")
LINE = {"priority_program": 3, "sub_kegiatan_code": "1.03.03.2.01.0005",
        "program": "Program Pengelolaan Sumber Daya Air", "kegiatan": "Pengelolaan Sistem Drainase",
        "sub_kegiatan": "Rehabilitasi Saluran Drainase Lingkungan",
        "funding_source": "apbd_kota", "volume": "200", "unit": "meter", "pagu": 18_000_000,
        "output_indicator": "Panjang saluran", "target": "200", "target_unit": "meter"}  # fmt: skip


@pytest.fixture(scope="module")
async def city(server_url: str, template_name: str) -> AsyncIterator[City]:
    accounts = {"admin": ("admin",), "auditor": ("auditor",), "facilitator": ("facilitator", "--region", "32.75.01"),
                "dbmsda": ("opd", "--opd", "DBMSDA")}  # fmt: skip
    async with city_site(server_url, template_name, accounts, tokens=("admin", "dbmsda")) as c:
        yield c


def _fields(page: str, action: str, **typed: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action` (CSRF, key, the version shown), with what is typed."""
    form = form_of(page, action)
    hidden_fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    return {"_csrf_token": hidden(page, "_csrf_token"), **hidden_fields, **typed}


SCHEDULE = {"held_on": "2021-03-10", "starts_at": "09:00", "place": "Aula Bappeda", "chair": "Sekretaris Daerah",
            "participants": "Perwakilan DBMSDA | opd | DBMSDA\nH. Ahmad | dprd | Dapil 1",
            "agenda": "Pembukaan\nPembahasan"}  # fmt: skip


async def test_only_bappeda_acts_on_the_city_review_page(city: City) -> None:
    auditor = await city.as_("auditor")
    shown = await auditor.get(PAGE)
    assert shown.status_code == 200 and 'method="post"' not in shown.text.split("<main")[1].split("</main>")[0]
    for who in ("facilitator", "dbmsda"):
        assert (await (await city.as_(who)).get(PAGE)).status_code == 403, who
    before = await event_count(city.pool)
    csrf = hidden((await auditor.get("/petugas")).text, "_csrf_token")
    for path in ("/terima", "/tetapkan", "/forum/forum_pd", "/forum/forum_pd/tutup"):
        r = await auditor.post(PAGE + path, data={"_csrf_token": csrf, **SCHEDULE, "minutes": "x"})
        assert r.status_code == 403, (path, r.status_code)
    assert await event_count(city.pool) == before


async def test_a_schedule_form_sent_again_after_back_keeps_what_was_typed(city: City) -> None:
    admin = await city.as_("admin")
    review = await admin.get(PAGE)
    assert (
        await admin.post(PAGE + "/terima", data={"_csrf_token": hidden(review.text, "_csrf_token")})
    ).status_code == 303
    review = await admin.get(PAGE)
    action = PAGE + "/forum/forum_pd"
    sent = _fields(review.text, action, **SCHEDULE)
    assert (await admin.post(action, data=sent)).status_code == 303
    before = await event_count(city.pool)
    # Back, the place changed, sent again with the same form (its key): said so beside the form, the new
    # place kept, nothing recorded (was the bare error page, everything typed lost).
    again = await admin.post(action, data={**sent, "place": "Ruang Rapat Lantai 3"})
    assert again.status_code == 409, again.text
    assert 'value="Ruang Rapat Lantai 3"' in again.text and "sudah terkirim sebelumnya" in again.text
    assert await event_count(city.pool) == before
    resent = await admin.post(action, data=_fields(again.text, action, **{**SCHEDULE, "place": "Ruang Rapat Lantai 3"}))
    assert resent.status_code == 303  # the page it showed carries a new key: sending it reschedules on purpose
    shown = (await city.api.get(f"{API}/forums/forum_pd")).json()
    assert shown["place"] == "Ruang Rapat Lantai 3"


async def test_a_stale_tab_does_not_close_the_forum_over_a_list_it_never_showed(city: City) -> None:
    agency, admin_api = city.tokens["dbmsda"], city.tokens["admin"]
    drains = [city.codes[t] for t in DRAINS]
    r = await city.api.post(f"{API}/lines", json={**LINE, "origins": drains}, headers=agency)
    assert r.status_code == 201, r.text
    for title, code in city.codes.items():
        if title not in DRAINS:
            r = await city.api.post(f"{API}/proposals/{code}/decline", json={"reason": "sudah dianggarkan"},
                                    headers=admin_api)  # fmt: skip
            assert r.status_code == 200, r.text
    admin = await city.as_("admin")
    tab = await admin.get(PAGE)
    assert "Rp 18.000.000" in tab.text
    r = await city.api.put(f"{API}/lines/DBMSDA-001", json={**LINE, "origins": drains, "pagu": 950_000_000},
                           headers=agency)  # fmt: skip
    assert r.status_code == 200, r.text
    action = PAGE + "/forum/forum_pd/tutup"
    before = await event_count(city.pool)
    stale = await admin.post(action, data=_fields(tab.text, action, minutes="Disepakati bersama."))
    assert stale.status_code == 409, stale.text  # was 303: the Berita Acara froze Rp 950 juta nobody saw
    assert "berubah sejak halaman ini dibuka" in stale.text and "Disepakati bersama." in stale.text
    assert "Rp 950.000.000" in stale.text
    assert await event_count(city.pool) == before
    closed = await admin.post(action, data=_fields(stale.text, action, minutes="Disepakati bersama."))
    assert closed.status_code == 303, closed.text
    ba = (await city.api.get(f"{API}/forums/forum_pd")).json()["berita_acara"]
    assert ba["total_pagu"] == 950_000_000


async def _tapped_twice(client: httpx.AsyncClient, action: str, data: dict[str, str]) -> None:
    """The same form sent twice (a double tap, or a retry after a slow answer): both answered as the first."""
    first = await client.post(action, data=data)
    second = await client.post(action, data=data)
    assert (first.status_code, second.status_code) == (303, 303), second.text


async def _adoptions(city: City) -> int:
    return int(await city.pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'rkpd.adopted'"))


async def test_closing_musrenbang_kota_twice_adopts_once(city: City) -> None:
    admin = await city.as_("admin")
    review = await admin.get(PAGE)
    action = PAGE + "/forum/musrenbang_kota"
    kota = {**SCHEDULE, "held_on": "2021-03-31", "place": "Gedung Juang"}
    assert (await admin.post(action, data=_fields(review.text, action, **kota))).status_code == 303
    review = await admin.get(PAGE)
    ticked = _fields(review.text, action + "/tutup", minutes="RKPD disepakati.", confirm_over_pagu="1")  # over a pagu
    await _tapped_twice(admin, action + "/tutup", ticked)
    assert await _adoptions(city) == 1


async def test_a_stale_tab_does_not_adopt_a_change_it_never_showed(city: City) -> None:
    agency = city.tokens["dbmsda"]
    drains = [city.codes[t] for t in DRAINS]
    change = {**LINE, "origins": drains, "pagu": 900_000_000, "reason": "harga satuan turun"}
    assert (await city.api.put(f"{API}/lines/DBMSDA-001", json=change, headers=agency)).status_code == 200
    admin = await city.as_("admin")
    tab = await admin.get(PAGE)
    assert "Tetapkan lagi" in tab.text
    change["pagu"], change["reason"] = 4_000_000_000, "tambah ruas"
    assert (await city.api.put(f"{API}/lines/DBMSDA-001", json=change, headers=agency)).status_code == 200
    action = PAGE + "/tetapkan"
    before = await event_count(city.pool)
    stale = await admin.post(action, data=_fields(tab.text, action, note="perubahan pertama"))
    assert stale.status_code == 409, stale.text  # was 303: revision 2 adopted Rp 4 miliar nobody saw
    assert "berubah sejak halaman ini dibuka" in stale.text and "perubahan pertama" in stale.text
    assert await event_count(city.pool) == before


async def test_adopting_again_twice_is_recorded_once_and_answered_as_the_first(city: City) -> None:
    admin = await city.as_("admin")
    review = await admin.get(PAGE)
    action = PAGE + "/tetapkan"
    ticked = _fields(review.text, action, note="perubahan RKPD", confirm_over_pagu="1")  # Rp 4 miliar: over a pagu
    await _tapped_twice(admin, action, ticked)  # was 409 the 2nd time
    assert await _adoptions(city) == 2


async def test_a_note_too_long_is_shown_beside_its_field(city: City) -> None:
    agency = city.tokens["dbmsda"]
    drains = [city.codes[t] for t in DRAINS]
    change = {**LINE, "origins": drains, "pagu": 20_000_000, "reason": "koreksi"}
    assert (await city.api.put(f"{API}/lines/DBMSDA-001", json=change, headers=agency)).status_code == 200
    admin = await city.as_("admin")
    review = await admin.get(PAGE)
    action = PAGE + "/tetapkan"
    before = await event_count(city.pool)
    note = "catatan panjang " * 100
    r = await admin.post(action, data=_fields(review.text, action, note=note))
    assert r.status_code == 422, r.text
    assert 'aria-describedby="note-error"' in r.text and 'id="note-error"' in r.text and note.strip() in r.text
    assert await event_count(city.pool) == before


async def test_the_outbox_says_in_indonesian_what_each_message_is_about(city: City) -> None:
    for purpose in ("not_in_rkpd", "under_way"):
        await city.pool.execute(
            "INSERT INTO outbox (id, dedupe, purpose, channel, address, title, body, link) VALUES"
            " ($1, $2, $3, 'sms', '+6281234500000', 'Kabar usulan', 'Usulan Anda tidak masuk RKPD.', '/lacak/X')",
            uuid.uuid4(), str(uuid.uuid4()), purpose,
        )  # fmt: skip
    for who in ("auditor", "facilitator", "dbmsda"):
        assert (await (await city.as_(who)).get("/petugas/pesan")).status_code == 403, who
    shown = await (await city.as_("admin")).get("/petugas/pesan")
    assert shown.status_code == 200
    table = shown.text.split('id="belum-terkirim"')[1]
    assert "tidak masuk RKPD" in table and "mulai dikerjakan" in table  # was the keys: not_in_rkpd, under_way
    assert "not_in_rkpd" not in table and "under_way" not in table
    assert "+6281234500000" not in table  # addresses masked
