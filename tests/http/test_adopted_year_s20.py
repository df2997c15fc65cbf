"""Review s20, through a real server on its own copy of the history (tests/history.py: RKPD 2022 adopted,
2023 taking proposals): proposals still waiting for verification when their year's RKPD is adopted read as
closed (tracking page, API, counts, verification queue) and may be proposed again for a later year; the
verification queue filters by year and names each proposal's year; reason codes are never shown raw; and a
mistyped tracking code gets the lookup form again."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain import proposal as p
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.services.proposals import ProposalService
from tests import history
from tests.http.city_setup import sign_in
from tests.http.conftest import payload
from tests.http.test_staff import PASSWORD, add_user
from tests.server import serving

pytestmark = pytest.mark.slow

ADOPTED = history.YEAR  # 2022: adopted with proposals still waiting for verification
META = Metadata(actor="fasilitator", role="facilitator")
REASONS = ["belum_diverifikasi", "belum_diverifikasi", "belum_diperbaiki", "belum_dimusyawarahkan"]
"""Why each of `Site.pending` is closed at the adoption (domain/proposal.CLOSED_AT_ADOPTION)."""
LATER = history.NEXT_YEAR  # 2023: taking proposals


class Site:
    def __init__(self, base_url: str, pool: asyncpg.Pool, pending: list[str], open_one: str, over_ceiling: str,
                 users: dict[str, str]) -> None:  # fmt: skip
        self.base_url, self.pool, self.pending, self.open_one = base_url, pool, pending, open_one
        self.over_ceiling, self.users = over_ceiling, users


async def _submit(proposals: ProposalService, year: int, title: str) -> str:
    content = await proposals.validate(p.ProposalInput(
        kelurahan=history.KELURAHAN_A, rw="6", rt="2", kind="fisik", bidang="infrastruktur", title=title,
        problem="Masalah yang cukup panjang", solution="Penyelesaian yang jelas", beneficiaries="30", volume="5",
        unit="meter", estimated_cost="6 juta", address="Jl. Uji Tertunda",
    ), year=year)  # fmt: skip
    submitted = await proposals.submit(content, p.validate_proposer("Yanti Sulastri Harahap", "0812-3300-4400"),
                                       idempotency_key=f"s20-{uuid.uuid4()}", request_fingerprint=title,
                                       year=year)  # fmt: skip
    return submitted.code


@pytest.fixture(scope="module")
async def site(server_url: str, template_name: str) -> AsyncIterator[Site]:
    """The history with two more 2022 proposals submitted after its forums and left waiting for
    verification when RKPD 2022 is adopted; 2023's carried proposal waits in a year still open."""
    pending: list[str] = []
    pokir = history._pokir

    async def pokir_and_pending(pool: asyncpg.Pool, store: EventStore, proposals: ProposalService) -> str:
        code = await pokir(pool, store, proposals)
        pending.extend([await _submit(proposals, ADOPTED, f"Usulan tertunda {n}") for n in range(2)])
        # Returned and never corrected; accepted and never taken to a forum (the forums are over).
        pending.extend([await _submit(proposals, ADOPTED, title) for title in ("Usulan dikembalikan",
                                                                               "Usulan diterima")])  # fmt: skip
        await proposals.verify(p.VerifyProposal(code=pending[2], decision="return", reason="lengkapi foto"), META)
        await proposals.verify(p.VerifyProposal(code=pending[3], decision="accept"), META)
        for n, followed in enumerate(pending):  # a follower each, told of the closure
            await pool.execute(
                "INSERT INTO subscriptions (id, subject, channel, address, link, kind, token, confirmed)"
                " VALUES ($1, $2, 'email', $3, $4, 'follower', $5, true)",
                uuid.uuid4(), followed, f"pengikut{n}@contoh.id", f"/lacak/{followed}", uuid.uuid4().hex,
            )  # fmt: skip
        return code

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(history, "_pokir", pokir_and_pending)
        async with history.database(server_url, template_name) as (url, built):
            patch.undo()
            tag = uuid.uuid4().hex[:6]
            users = {"admin": f"admin-{tag}", "kelurahan": f"kel-{tag}"}
            add_user(url, users["admin"], "admin")
            add_user(url, users["kelurahan"], "facilitator", "--region", history.KELURAHAN_A)
            pool = await create_pool(url, min_size=1, max_size=3)
            try:
                with serving(url) as server:
                    yield Site(server.base_url, pool, pending, built.carried, built.codes[6], users)
            finally:
                await pool.close()


@pytest.fixture
async def web(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.base_url, timeout=30) as client:
        yield client


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- 1. waiting for verification when the year was adopted: closed ---------------------------------------


async def test_a_proposal_still_waiting_at_adoption_reads_as_closed(site: Site, web: httpx.AsyncClient) -> None:
    for code in site.pending:
        page = await web.get(f"/lacak/{code}")
        assert page.status_code == 200
        seen = text(page.text)
        assert "menunggu verifikasi" not in seen, code
        assert "Tidak diproses sampai RKPD ditetapkan" in seen
        assert f"tidak diproses sampai RKPD {ADOPTED} ditetapkan" in seen
        assert (f"RKPD {ADOPTED} ditetapkan sebelum usulan ini diproses" in seen  # its timeline says when
                or f"RKPD {ADOPTED} ditetapkan: usulan ini ditutup tanpa keputusan (" in seen)  # returned, accepted
        api = (await web.get(f"/api/v1/proposals/{code}")).json()
        assert api["status"] == p.TIDAK_DIPROSES and api["year"] == ADOPTED
        assert api["timeline"][-1]["kind"] == "rkpd.adopted"
        assert api["timeline"][-1]["details"]["unprocessed"] is True
    # Each says why it was not processed: waiting for verification, returned and not corrected, accepted and
    # never taken to a forum (review s20: the last two read "Diterima"/"Dikembalikan" for ever).
    for code, reason in zip(site.pending, REASONS, strict=True):
        api = (await web.get(f"/api/v1/proposals/{code}")).json()
        assert (api["status"], api["status_reason"]) == (p.TIDAK_DIPROSES, reason)
        assert api["timeline"][-1]["details"]["reason"] == reason
    seen = text((await web.get(f"/lacak/{site.pending[2]}")).text)
    assert f"dikembalikan untuk diperbaiki dan belum diperbaiki ketika RKPD {ADOPTED} ditetapkan" in seen
    assert "Perbaiki usulan" not in seen  # nothing can be revised in an adopted year
    seen = text((await web.get(f"/lacak/{site.pending[3]}")).text)
    assert f"lolos verifikasi, tetapi belum dibahas di musyawarah ketika RKPD {ADOPTED} ditetapkan" in seen
    lineage = text((await web.get(f"/telusur/usulan/{site.pending[3]}")).text)
    assert "lolos verifikasi, tetapi belum dibahas di musyawarah ketika RKPD tahunnya ditetapkan" in lineage
    # The kelurahan's feed says it too, not only "RKPD ditetapkan" (review s20).
    feed = (await web.get(f"/kelurahan/{history.KELURAHAN_A}.atom")).text
    assert f"RKPD {ADOPTED} ditetapkan sebelum usulan ini diproses" in feed
    assert (f"RKPD {ADOPTED} ditetapkan: usulan ini ditutup tanpa keputusan (dikembalikan untuk diperbaiki dan"
            " belum diperbaiki ketika RKPD ditetapkan)") in feed  # not "before it was processed": it was returned
    revise = text((await web.get(f"/lacak/{site.pending[2]}/perbaiki")).text)
    assert f"RKPD {ADOPTED} sudah ditetapkan: usulan ini ditutup tanpa keputusan" in revise
    assert "tidak sedang dikembalikan" not in revise  # it was returned; the year is what closed it
    lineage = text((await web.get(f"/telusur/usulan/{site.pending[0]}")).text)
    assert "Tidak diproses sampai RKPD ditetapkan." in lineage and "Masih dalam proses" not in lineage
    # The open year's proposal still waits.
    assert (await web.get(f"/api/v1/proposals/{site.open_one}")).json()["status"] == p.DIAJUKAN


async def test_the_followers_of_a_proposal_closed_unprocessed_are_told_once(site: Site) -> None:
    """The adoption closes them without an event of their own: its service queues the message, in the
    adoption's transaction, once per proposal and year (the second adoption, a revision, tells nothing more)."""
    rows = await site.pool.fetch(
        "SELECT s.subject, o.body, o.dedupe, o.event_id FROM outbox o JOIN subscriptions s ON s.id = o.subscription"
        " WHERE o.purpose = 'unprocessed' ORDER BY s.subject")  # fmt: skip
    assert sorted(r["subject"] for r in rows) == sorted(site.pending)
    adoption = await site.pool.fetchval(
        "SELECT event_id FROM events WHERE event_type = 'rkpd.adopted' AND (data->>'year')::int = $1"
        " AND (data->>'revision')::int = 1", ADOPTED)  # fmt: skip
    assert {r["event_id"] for r in rows} == {adoption} and {r["dedupe"] for r in rows} == {f"unprocessed:{ADOPTED}"}
    body = {r["subject"]: r["body"] for r in rows}
    assert body[site.pending[0]].startswith(f"RKPD {ADOPTED} ditetapkan ketika usulan {site.pending[0]} belum"
                                            " diverifikasi: usulan ditutup tanpa keputusan.")  # fmt: skip
    assert "belum dibahas di musyawarah" in body[site.pending[3]] and "dapat diusulkan lagi" in body[site.pending[3]]
    assert all(len(b) <= 300 for b in body.values())


def _footer(html: str) -> list[str]:
    foot = re.search(r"<tfoot>(.*?)</tfoot>", html, re.S)
    assert foot is not None
    return re.findall(r'<td class="num"[^>]*>([^<]*)</td>', foot.group(1))


async def test_the_kecamatan_counts_none_waiting_in_an_adopted_year(site: Site, web: httpx.AsyncClient) -> None:
    page = await web.get(f"/kecamatan/{history.KECAMATAN}?tahun={ADOPTED}")
    assert page.status_code == 200
    cells = _footer(page.text)
    columns = list(p.OUTCOMES)
    assert cells[1 + columns.index("menunggu")] == "0"
    assert cells[1 + columns.index("tidak_diproses")] == str(len(site.pending))


async def test_the_verification_queue_leaves_out_adopted_years_and_names_the_year(site: Site) -> None:
    browser = await sign_in(site.base_url, site.users["kelurahan"])
    try:
        queue = await browser.get("/petugas/verifikasi")
        assert queue.status_code == 200
        for code in site.pending:
            assert code not in queue.text
        assert site.open_one in queue.text
        assert f"RKPD {LATER}" in text(queue.text)
        assert 'name="tahun"' in queue.text
        closed = await browser.get(f"/petugas/verifikasi?status={p.TIDAK_DIPROSES}&tahun={ADOPTED}")
        assert closed.status_code == 200
        for code in site.pending:
            assert code in closed.text
            assert f'action="/petugas/verifikasi/{code}' not in closed.text  # nothing to decide
        assert site.open_one not in closed.text
        assert f"RKPD {ADOPTED}" in text(closed.text)
        every = await browser.get("/petugas/verifikasi?tahun=semua")
        assert site.open_one in every.text
        # Digits to str.isdigit that int() refuses answered 500 (review s20): the years still open instead.
        odd = await browser.get("/petugas/verifikasi?tahun=%C2%B9%C2%B2%C2%B3%C2%B4")
        assert odd.status_code == 200 and site.open_one in odd.text
    finally:
        await browser.aclose()


async def test_a_proposal_closed_unprocessed_can_be_proposed_again(site: Site, web: httpx.AsyncClient) -> None:
    earlier = site.pending[-1]
    page = await web.get(f"/lacak/{earlier}")
    assert f"/usulan/baru?lanjutan={earlier}&amp;tahun={LATER}" in page.text
    auth = {"Authorization": "Bearer " + (await web.post(
        "/api/v1/auth/token", json={"username": site.users["kelurahan"], "password": PASSWORD})).json()["token"]}
    r = await web.post("/api/v1/proposals", json=payload(kelurahan=history.KELURAHAN_A, year=LATER,
                                                         carried_from=earlier),
                       headers={**auth, "Idempotency-Key": str(uuid.uuid4()), "X-Forwarded-For": "10.20.0.20"})
    assert r.status_code == 201, r.text
    again = (await web.get(f"/api/v1/proposals/{r.json()['code']}")).json()
    assert [(h["year"], h["code"], h["outcome"]) for h in again["history"]] == [
        (ADOPTED, earlier, p.TIDAK_DIPROSES), (LATER, r.json()["code"], p.DIAJUKAN)]


async def test_the_migration_closes_what_the_projection_applied_before_it(site: Site) -> None:
    """A database whose proposals projection applied the adoption before these releases: migrations 0044
    (unverified) and 0045 (returned, accepted; the reasons) give it what the projection now derives, status,
    reason and timeline entry alike."""
    for code, was in zip(site.pending, ("diajukan", "diajukan", "dikembalikan", "diterima"), strict=True):
        async with site.pool.acquire() as conn:
            with pytest.raises(_RolledBack):
                await _migrated_again(conn, code, was)


async def _migrated_again(conn: asyncpg.Connection, code: str, was: str) -> None:
    async with conn.transaction():
        before = await conn.fetchrow("SELECT status, status_reason, updated_at FROM proposals WHERE code = $1", code)
        steps = await conn.fetch("SELECT seq, at, kind, details::text FROM proposal_timeline WHERE code = $1"
                                 " ORDER BY seq", code)  # fmt: skip
        # As the projection left it before 0044 (and a row 0044 closed, before 0045: no reason).
        await conn.execute("UPDATE proposals SET status = $2, status_reason = NULL WHERE code = $1", code, was)
        await conn.execute("DELETE FROM proposal_timeline WHERE code = $1 AND kind = 'rkpd.adopted'"
                           " AND details ? 'unprocessed'", code)  # fmt: skip
        for name in ("0044_proposals_unprocessed_at_adoption.sql", "0045_proposals_closed_at_adoption.sql"):
            await conn.execute((Path(__file__).parents[2] / "migrations" / name).read_text())
        after = await conn.fetchrow("SELECT status, status_reason, updated_at FROM proposals WHERE code = $1", code)
        again = await conn.fetch("SELECT seq, at, kind, details::text FROM proposal_timeline WHERE code = $1"
                                 " ORDER BY seq", code)  # fmt: skip
        assert tuple(after) == tuple(before) and [tuple(s) for s in again] == [tuple(s) for s in steps]
        raise _RolledBack


class _RolledBack(Exception):
    """Everything the test changed is taken back: the module's server goes on with the database as it was."""


# --- 3. reason codes are labelled ---------------------------------------------------------------------


async def test_a_reason_code_is_shown_in_words(site: Site, web: httpx.AsyncClient) -> None:
    page = await web.get(f"/lacak/{site.over_ceiling}")
    assert page.status_code == 200
    assert "over_ceiling" not in text(page.text)
    assert "Alasan: tidak muat dalam sisa pagu" in text(page.text)
    browser = await sign_in(site.base_url, site.users["admin"])
    try:
        queue = await browser.get(f"/petugas/verifikasi?status=tidak_terakomodasi&tahun={history.YEAR}")
        assert site.over_ceiling in queue.text
        assert "over_ceiling" not in queue.text
        assert "tidak muat dalam sisa pagu" in queue.text
    finally:
        await browser.aclose()


# --- 4. a mistyped tracking code ----------------------------------------------------------------------


def _mistyped(code: str) -> str:
    alphabet = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
    last = next(c for c in alphabet if c != code[-1])
    return code[:-1] + last


async def test_a_mistyped_code_gets_the_lookup_form_again(site: Site, web: httpx.AsyncClient) -> None:
    wrong = _mistyped(site.open_one)
    assert (await web.get(f"/api/v1/proposals/{wrong}")).status_code == 404
    typed = f"{wrong[:4]}-{wrong[4:]}".lower()
    looked = await web.get(f"/lacak?kode={typed}")
    assert looked.status_code == 404
    assert f'value="{typed}"' in looked.text
    assert "kode tidak ditemukan — periksa lagi" in looked.text
    assert 'href="/lacak/lupa"' in looked.text
    direct = await web.get(f"/lacak/{wrong}")
    assert direct.status_code == 404
    assert f'value="{wrong}"' in direct.text and 'href="/lacak/lupa"' in direct.text
    assert "kode tidak ditemukan — periksa lagi" in direct.text
    found = await web.get(f"/lacak?kode={site.open_one.lower()}")
    assert found.status_code == 303 and found.headers["location"] == f"/lacak/{site.open_one}"
