"""A review of the verification queue and merging through the real server: a decision or merge form sent
twice (double tap, retry) is answered as the first time and recorded once; a stale tab is told what
happened to the proposal meanwhile; an agreed cost is never dropped unsaid; rows that no longer wait offer
no decision that would only be refused; a merge's mistakes are tied to its choices for screen readers."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.eventlog.store import EventStore
from tests.conftest import _throwaway_database
from tests.cycles import open_test_cycle
from tests.http.conftest import payload
from tests.http.test_forum_entry import _signed_in
from tests.http.test_staff import KELURAHAN, add_user, new_proposal, token, users  # noqa: F401  (a fixture)
from tests.server import serving


async def _count(pool: asyncpg.Pool, code: str, event_type: str) -> int:
    return await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1 AND event_type = $2",
                               f"proposal-{code}", event_type)  # fmt: skip


async def _status(client: httpx.AsyncClient, code: str) -> str:
    return (await client.get(f"/api/v1/proposals/{code}")).json()["status"]


def _errors(page: str) -> list[str]:
    return re.findall(r'<p class="error"[^>]*>([^<]*)', page)


async def test_a_decision_sent_twice_is_answered_as_the_first_time_and_recorded_once(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    """A double tap on "Simpan keputusan", or a retry after a lost answer: the second answer was the queue
    with "usulan ini sudah diverifikasi" (422) for what had just been saved; two taps at the same
    instant, a 409 error page."""
    csrf = await _signed_in(client, users["kelurahan"])
    code, twin = await new_proposal(client), await new_proposal(client)
    form = {"_csrf_token": csrf, "decision": "accept_with_changes", "agreed_cost": "20.000.000",
            "reason": "harga satuan  2022"}  # fmt: skip
    first = await client.post(f"/petugas/verifikasi/{code}?bidang=infrastruktur", data=form)
    again = await client.post(f"/petugas/verifikasi/{code}?bidang=infrastruktur", data=form)
    assert (first.status_code, again.status_code) == (303, 303), _errors(again.text)
    assert again.headers["location"] == "/petugas/verifikasi?bidang=infrastruktur"
    assert "diterima dengan perubahan" in (await client.get(again.headers["location"])).text
    assert await _count(app_pool, code, "proposal.accepted") == 1
    both = await asyncio.gather(*(client.post(f"/petugas/verifikasi/{twin}", data=form) for _ in range(2)))
    assert [r.status_code for r in both] == [303, 303], [_errors(r.text) for r in both]
    assert await _count(app_pool, twin, "proposal.accepted") == 1
    # Another decision from a tab shown before is still refused, and writes nothing.
    other = await client.post(f"/petugas/verifikasi/{code}", data={**form, "agreed_cost": "19.000.000"})
    [said] = _errors(other.text)
    assert other.status_code == 422 and said.startswith("usulan ini sudah diverifikasi"), said
    # What was decided is said (a review: the stale tab was told only that something was).
    assert "statusnya kini «Diterima dengan perubahan»" in said, said
    rejected = await client.post(f"/petugas/verifikasi/{code}", data={"_csrf_token": csrf, "decision": "reject",
                                                                      "reason": "bukan kewenangan kota"})  # fmt: skip
    assert rejected.status_code == 422
    assert await _count(app_pool, code, "proposal.accepted") == 1 and await _status(client, code) != "ditolak"


async def test_a_merge_sent_twice_is_answered_as_the_first_time_and_recorded_once(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    """The second "Gabungkan" answered 422 "usulan … tidak dapat digabungkan lagi" for the merge it had
    just made."""
    csrf = await _signed_in(client, users["kelurahan"])
    target, dupe, other, late = [await new_proposal(client, beneficiaries=n) for n in (100, 10, 20, 30)]
    form = {"_csrf_token": csrf, "into": target, "codes": [target, dupe], "reason": "usulan sama"}
    first = await client.post("/petugas/gabung", data=form)
    again = await client.post("/petugas/gabung", data=form)
    assert (first.status_code, again.status_code) == (303, 303), _errors(again.text)
    assert "1 usulan digabungkan ke" in (await client.get(again.headers["location"])).text
    both = await asyncio.gather(*(client.post("/petugas/gabung", data={**form, "codes": [other]}) for _ in range(2)))
    assert [r.status_code for r in both] == [303, 303], [_errors(r.text) for r in both]
    for code in (dupe, other):
        assert await _count(app_pool, code, "proposal.merged") == 1
    assert await _count(app_pool, target, "proposal.merged_in") == 2
    public = (await client.get(f"/api/v1/proposals/{target}")).json()
    assert public["beneficiaries"] == 130 and sorted(public["merged_from"]) == sorted([dupe, other])
    # Merged already, but along with one that is not: that is a new merge, refused as before.
    mixed = await client.post("/petugas/gabung", data={**form, "codes": [dupe, late]})
    assert mixed.status_code == 422 and f"usulan {dupe} tidak dapat digabungkan lagi" in _errors(mixed.text)
    assert await _status(client, late) == "diajukan"


async def test_deciding_a_proposal_merged_meanwhile_says_where_it_went(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    """A tab opened before a colleague merged the proposal was told "usulan ini sudah diverifikasi": it
    never was, and the operator did not learn where to decide it."""
    csrf = await _signed_in(client, users["kelurahan"])
    target, dupe = await new_proposal(client), await new_proposal(client)
    merged = await client.post("/api/v1/proposals/merge", headers=await token(client, users["kecamatan"]),
                               json={"into": target, "codes": [dupe], "reason": "sama"})  # fmt: skip
    assert merged.status_code == 200
    stale = await client.post(f"/petugas/verifikasi/{dupe}", data={"_csrf_token": csrf, "decision": "accept"})
    assert stale.status_code == 422
    assert f"usulan {dupe} sudah digabungkan ke {target}: putuskan usulan itu" in _errors(stale.text)
    assert await _count(app_pool, dupe, "proposal.accepted") == 0


async def test_an_agreed_cost_with_another_decision_is_refused_not_dropped(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    """ "Terima" with an agreed cost typed in was saved as a plain acceptance: the cost the operator agreed
    with the proposer vanished without a word (and through the API too)."""
    csrf = await _signed_in(client, users["kelurahan"])
    code = await new_proposal(client)
    form = {"_csrf_token": csrf, "decision": "accept", "agreed_cost": "20.000.000", "agreed_volume": "120"}
    r = await client.post(f"/petugas/verifikasi/{code}", data=form)
    assert r.status_code == 422
    for field in ("agreed_cost", "agreed_volume"):
        assert f'aria-describedby="{field}-{code}-error"' in r.text
        assert re.search(rf'id="{field}-{code}-error">hanya untuk «Terima dengan perubahan»', r.text)
    assert 'value="20.000.000"' in r.text  # kept as typed
    auth = await token(client, users["kelurahan"])
    api = await client.post(f"/api/v1/proposals/{code}/verification", headers=auth,
                            json={"decision": "reject", "reason": "salah", "agreed_cost": 1_000_000})  # fmt: skip
    assert api.status_code == 422 and "agreed_cost" in api.json()["errors"], api.text
    # Over the bound, the API said "biaya harus lebih dari nol"; the rules' own message names the bound.
    api = await client.post(f"/api/v1/proposals/{code}/verification", headers=auth, json={
        "decision": "accept_with_changes", "reason": "x", "agreed_cost": 60_000_000_000})  # fmt: skip
    assert api.status_code == 422 and "paling banyak Rp 50.000.000.000" in api.json()["errors"]["agreed_cost"]
    assert await _status(client, code) == "diajukan"
    ok = await client.post(f"/petugas/verifikasi/{code}", data={**form, "decision": "accept_with_changes",
                                                                "reason": "harga satuan 2022"})  # fmt: skip
    assert ok.status_code == 303
    public = (await client.get(f"/api/v1/proposals/{code}")).json()
    assert (public["agreed_cost"], public["agreed_volume"]) == (20_000_000, "120")


async def test_rows_no_longer_waiting_offer_no_decision_and_no_merge(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
) -> None:
    """Filtered to "Diterima" or "Ditolak", every row still had a decision form, and rejected or merged
    rows a merge table: each only ever answered "sudah diverifikasi" / "tidak dapat digabungkan lagi"."""
    csrf = await _signed_in(client, users["kelurahan"])
    accepted = await new_proposal(client)
    rejected = [await new_proposal(client) for _ in range(2)]
    await client.post(f"/petugas/verifikasi/{accepted}", data={"_csrf_token": csrf, "decision": "accept"})
    for code in rejected:
        await client.post(f"/petugas/verifikasi/{code}", data={"_csrf_token": csrf, "decision": "reject",
                                                               "reason": "di luar kewenangan kota"})  # fmt: skip
    shown = (await client.get("/petugas/verifikasi?status=diterima")).text
    assert f'id="usulan-{accepted}"' in shown and f'action="/petugas/verifikasi/{accepted}' not in shown
    shown = (await client.get("/petugas/verifikasi?status=ditolak")).text
    row = shown[shown.index(f'id="usulan-{rejected[0]}"') :].split("</details>", 1)[0]
    assert "Ditolak" in row and "di luar kewenangan kota" in row and "<form" not in row
    assert 'action="/petugas/gabung' not in shown
    waiting = (await client.get("/petugas/verifikasi")).text
    assert 'action="/petugas/gabung' in waiting and "Simpan keputusan" in waiting


async def test_a_merge_mistake_is_tied_to_the_choices_it_is_about(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
) -> None:
    """ "pilih usulan tujuan penggabungan" was a paragraph after the table, tied to no field: a screen
    reader on a checkbox or a radio button never heard it."""
    csrf = await _signed_in(client, users["kelurahan"])
    codes = [await new_proposal(client) for _ in range(2)]
    r = await client.post("/petugas/gabung", data={"_csrf_token": csrf, "codes": codes, "reason": "sama"})
    assert r.status_code == 422
    assert '<p class="error" id="merge-picks-error">pilih usulan tujuan penggabungan</p>' in r.text
    assert f'value="{codes[0]}" aria-label' in r.text
    box = re.search(rf'<input type="checkbox" name="codes" value="{codes[0]}"[^>]*>', r.text)
    assert box and "checked" in box[0] and 'aria-describedby="merge-picks-error"' in box[0]


async def test_nobody_acts_on_another_kelurahan_through_the_pages(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    """A facilitator of another kelurahan who knows (or guesses) the codes: 403, nothing written; odd
    filters answer without a server error."""
    csrf = await _signed_in(client, users["other"])
    target, dupe = await new_proposal(client), await new_proposal(client)
    decided = await client.post(f"/petugas/verifikasi/{dupe}", data={"_csrf_token": csrf, "decision": "accept"})
    merged = await client.post("/petugas/gabung", data={"_csrf_token": csrf, "into": target, "codes": [dupe],
                                                        "reason": "sama"})  # fmt: skip
    assert (decided.status_code, merged.status_code) == (403, 403)
    assert await _count(app_pool, dupe, "proposal.accepted") + await _count(app_pool, dupe, "proposal.merged") == 0
    for query in ("status=%00", "bidang=a%00b", "status=" + "x" * 20_000, "status=%D9%A3", "bidang=%F0%9F%92%A9"):
        r = await client.get(f"/petugas/verifikasi?{query}")
        assert r.status_code in (200, 400), (query, r.status_code)


async def test_history_stays_readable_along_a_chain_of_merges(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
) -> None:
    """A merged into B, then B into C: every original keeps its page and its link onward, nothing
    deleted, and the beneficiaries of all three add up once."""
    auth = await token(client, users["kelurahan"])
    a, b, c = [await new_proposal(client, beneficiaries=n, title=f"Rantai gabung {n}") for n in (1, 20, 300)]
    for into, dupe in ((b, a), (c, b)):
        r = await client.post("/api/v1/proposals/merge", headers=auth, json={"into": into, "codes": [dupe],
                                                                             "reason": "sama"})  # fmt: skip
        assert r.status_code == 200, r.text
    assert (await client.get(f"/api/v1/proposals/{c}")).json()["beneficiaries"] == 321
    for code, onward in ((a, b), (b, c)):
        public = (await client.get(f"/api/v1/proposals/{code}")).json()
        assert public["status"] == "digabungkan" and public["merged_into"] == onward and public["title"]
        assert f"/lacak/{onward}" in (await client.get(f"/lacak/{code}")).text
    cycle = await client.post("/api/v1/proposals/merge", headers=auth, json={"into": a, "codes": [c], "reason": "x"})
    assert cycle.status_code == 409


@contextlib.asynccontextmanager
async def two_open_years(server_url: str, template_name: str, **options: object) -> AsyncIterator[tuple[str, str]]:
    """A server of its own (other tests' proposals must keep going to 2022) on a database with RKPD 2022 and
    2023 both open and a facilitator of KELURAHAN: its address and the facilitator's username. `options`:
    the server's (tests/server.serving)."""
    async with _throwaway_database(server_url, template_name) as url:
        pool = await create_pool(url, min_size=1, max_size=2)
        try:
            for year in (2022, 2023):
                await open_test_cycle(EventStore(pool), year)
        finally:
            await pool.close()
        facilitator = f"fasilitator-{uuid.uuid4().hex[:6]}"
        add_user(url, facilitator, "facilitator", "--region", KELURAHAN)
        with serving(url, **options) as server:
            yield server.base_url, facilitator


@pytest.fixture(scope="module")
async def two_years(server_url: str, template_name: str) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """`two_open_years`: its address and the facilitator's bearer header."""
    async with (two_open_years(server_url, template_name) as (base_url, facilitator),
                httpx.AsyncClient(base_url=base_url, timeout=30) as http):  # fmt: skip
        yield base_url, await token(http, facilitator)


async def test_a_need_carried_into_the_next_year_is_not_merged_in_the_old_one(
    two_years: tuple[str, dict[str, str]],
) -> None:
    """A 2022 proposal returned and proposed again for 2023 could still be merged in 2022, as a duplicate
    (its need then counted in both years) or as the target (duplicates merged into a proposal nobody
    works on any more)."""
    base_url, auth = two_years
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:

        async def propose(**changes: object) -> str:
            r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, **changes),
                                  headers={"Idempotency-Key": str(uuid.uuid4()), **auth})  # fmt: skip
            assert r.status_code == 201, r.text
            return r.json()["code"]

        returned, other = await propose(year=2022), await propose(year=2022)
        r = await client.post(f"/api/v1/proposals/{returned}/verification", headers=auth,
                              json={"decision": "return", "reason": "lengkapi lokasi"})  # fmt: skip
        assert r.status_code == 200, r.text
        later = await propose(year=2023, carried_from=returned)
        for into, codes in ((other, [returned]), (returned, [other])):
            r = await client.post("/api/v1/proposals/merge", headers=auth,
                                  json={"into": into, "codes": codes, "reason": "sama"})  # fmt: skip
            assert r.status_code == 409 and f"sudah diusulkan lagi sebagai {later}" in r.text, r.text
        assert (await client.get(f"/api/v1/proposals/{other}")).json()["status"] == "diajukan"
        assert (await client.get(f"/api/v1/proposals/{returned}")).json()["merged_into"] is None


async def test_a_title_without_spaces_wraps_on_a_phone(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
) -> None:
    """A title typed as one long word (addresses joined by slashes, say) made the queue, and the merge
    table with it, wider than a 360 px screen: it now wraps anywhere, as a proposal's text does."""
    await _signed_in(client, users["kelurahan"])
    title = "Saluran/" + "JlMelati-JlMawar-JlAnggrek-" * 4
    codes = [await new_proposal(client, title=title) for _ in range(2)]
    page = (await client.get("/petugas/verifikasi")).text
    assert re.search(rf'id="usulan-{codes[0]}">\s*<summary><strong class="prose">{title}</strong>', page)
    assert f'<td><span class="prose">{title}</span> <small>{codes[1]}' in page


@pytest.fixture(scope="module")
async def crowded(server_url: str, template_name: str) -> AsyncIterator[tuple[str, str]]:
    """A server of its own whose kelurahan has 101 proposals waiting (other tests' queues stay short); its
    address and the facilitator's username."""
    async with _throwaway_database(server_url, template_name) as url:
        facilitator = f"fasilitator-{uuid.uuid4().hex[:6]}"
        add_user(url, facilitator, "facilitator", "--region", KELURAHAN)
        with serving(url, extra_env={"MUSRENBANG_SUBMISSIONS_PER_HOUR": "1000"}) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
                auth = await token(http, facilitator)
                for n in range(101):
                    r = await http.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, title=f"Usulan {n}"),
                                        headers={"Idempotency-Key": str(uuid.uuid4()), **auth})  # fmt: skip
                    assert r.status_code == 201, r.text
            yield server.base_url, facilitator


async def test_a_long_queue_is_paged_not_cut_at_300(crowded: tuple[str, str]) -> None:
    """The queue showed the first 300 proposals and said "300 usulan": the rest could not be reached. It
    now says how many wait and pages them, and a decision made on page 2 returns to page 2."""
    base_url, facilitator = crowded
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        csrf = await _signed_in(client, facilitator)
        first = await client.get("/petugas/verifikasi")
        assert first.status_code == 200 and "101 usulan · halaman 1 dari 2" in first.text
        assert first.text.count('<details class="queue"') == 100 and "halaman=2" in first.text
        second = await client.get("/petugas/verifikasi?status=diajukan&halaman=2")
        [code] = re.findall(r'<details class="queue" id="usulan-([0-9A-Z]+)"', second.text)
        assert code not in first.text
        decided = await client.post(f"/petugas/verifikasi/{code}?status=diajukan&halaman=2",
                                    data={"_csrf_token": csrf, "decision": "accept"})  # fmt: skip
        assert decided.status_code == 303 and "halaman=2" in decided.headers["location"]
        emptied = await client.get(decided.headers["location"])  # page 2 is gone: the last page is shown
        assert emptied.text.count('<details class="queue"') == 100 and f"usulan-{code}" not in emptied.text
        after = await client.get("/petugas/verifikasi")
        assert "100 usulan" in after.text and "halaman 1 dari" not in after.text
