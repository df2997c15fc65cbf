"""Session 19's review of the pokir and audit pages, through a real server (the fixture of
tests/http/test_pokir.py: RKPD 2024 and 2025 open, the 2022 history adopted)."""

from __future__ import annotations

import re
import uuid

import httpx

from musrenbang.services import cycles
from tests import history
from tests.http import test_pokir
from tests.http.city_setup import sign_in
from tests.http.conftest import payload
from tests.http.test_pokir import LATE_YEAR, POKIR, YEAR, _events
from tests.http.test_review_stale_decisions import new_pokir_form
from tests.waiting import eventually

dprd = test_pokir.dprd  # the module's own copy of its history and server


async def test_the_sources_of_a_year_without_lines_yet_is_a_page_not_a_404(dprd) -> None:  # noqa: ANN001
    """The RKPD list and the pokir page link to "Asal pagu" from the first day of a cycle; it answered 404
    until the first line was drafted."""
    client, _, _ = dprd
    assert f'href="/rkpd/{LATE_YEAR}/sumber"' in (await client.get(f"/pokir/{LATE_YEAR}")).text
    page = await client.get(f"/rkpd/{LATE_YEAR}/sumber")
    assert page.status_code == 200 and 'id="belum-ada-baris"' in page.text
    api = await client.get(f"/api/v1/rkpd/{LATE_YEAR}/sources")
    assert api.status_code == 200 and api.json()["totals"]["total"] == 0 and api.json()["kecamatan"] == []
    assert (await client.get("/rkpd/2031/sumber")).status_code == 404  # no such cycle
    assert (await client.get("/api/v1/rkpd/2031/sources")).status_code == 404


async def test_the_audit_page_lists_the_heads_of_the_closed_city_forums(dprd) -> None:  # noqa: ANN001
    """Their Berita Acara print a head hash as every forum's does, but `/audit` listed only the kelurahan and
    kecamatan forums and the adoptions: an auditor could not find the Forum Perangkat Daerah's."""
    client, _, ctx = dprd
    auditor = await sign_in(str(client.base_url), f"auditor-{ctx['tag']}")
    try:
        audit = await auditor.get("/audit")
        assert audit.status_code == 200
        for page in ("forum-perangkat-daerah", "musrenbang-kota"):
            printed = (await client.get(f"/rkpd/{history.YEAR}/{page}")).text
            heads = set(re.findall(r"/periksa/([0-9a-f]{64})", printed))
            assert heads, page
            assert heads <= set(re.findall(r"/periksa/([0-9a-f]{64})", audit.text)), page
            assert f'href="/rkpd/{history.YEAR}/{page}"' in audit.text
    finally:
        await auditor.aclose()


async def test_a_pokir_form_shows_every_mistake_at_once(dprd) -> None:  # noqa: ANN001
    """An empty title, reses day and place came back as "title: wajib diisi" alone; once the title was
    fixed, the reses' two mistakes in a second round."""
    client, pool, ctx = dprd
    member = await sign_in(str(client.base_url), f"member-{ctx['tag']}")
    try:
        fields = await new_pokir_form(member, title="", reses_on="", reses_place="")
        before = await _events(pool)
        refused = await member.post("/petugas/pokir/baru", data=fields)
        assert refused.status_code == 422
        for field in ("title", "reses_on", "reses_place"):
            assert f'id="{field}-error"' in refused.text, field
        assert await _events(pool) == before
        api = await client.post("/api/v1/pokir", json={**POKIR, "title": "", "reses_place": " "},
                                headers={**ctx["auth"]["member"], "Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
        assert api.status_code == 422 and {"title", "reses_place"} <= set(api.json()["errors"]), api.text
    finally:
        await member.aclose()


async def test_pokir_pages_speak_of_the_secretariat_and_name_the_place(dprd) -> None:  # noqa: ANN001
    """A pokir waiting for the secretariat was "menunggu verifikasi" (no verifier sees it), a revision of one
    not returned said "dikembalikan oleh verifikator", and the place the secretariat checks against the
    member's dapil was a bare code."""
    client, _, ctx = dprd
    code = (await test_pokir._submit(client, ctx["auth"]["member"], title="Pokir dengan nama tempat")).json()["code"]
    setwan = await sign_in(str(client.base_url), f"setwan-{ctx['tag']}")
    try:
        page = (await setwan.get(f"/petugas/pokir/{code}")).text
        assert "menunggu pemeriksaan Sekretariat DPRD" in page and "menunggu verifikasi" not in page
        place = (await client.get(f"/kelurahan/{POKIR['kelurahan']}")).text
        name = re.search(r"<h1>([^<]+)</h1>", place)
        assert name and name[1].split(" ", 1)[-1] in page, (name, page[page.index("Lokasi"):][:300])
        listed = (await setwan.get("/petugas/pokir", params={"tahun": POKIR["year"]})).text
        assert "menunggu verifikasi" not in listed
    finally:
        await setwan.aclose()
    revise = await client.post(f"/api/v1/pokir/{code}/revise", headers=ctx["auth"]["member"],
                               json={k: v for k, v in POKIR.items() if k != "year"})  # fmt: skip
    assert revise.status_code == 409 and "dikembalikan Sekretariat DPRD" in revise.json()["message"], revise.text


async def test_a_proposal_whose_rkpd_line_was_dropped_can_be_proposed_again(dprd) -> None:  # noqa: ANN001
    """A line dropped in its budget year ("refocusing APBD") left its origins "Masuk RKPD" for good: not
    offered again, and a carry-over refused as "sudah diakomodasi", although nothing will be built."""
    client, pool, ctx = dprd
    row = await pool.fetchrow(
        "SELECT code, rkpd_line, kelurahan FROM proposals WHERE year = $1 AND status = 'masuk_rkpd'"
        " AND kecamatan = $2 AND rkpd_line IS NOT NULL AND carried_to IS NULL ORDER BY code LIMIT 1",
        history.YEAR, history.KECAMATAN,
    )  # fmt: skip
    assert row is not None
    code, line = row["code"], row["rkpd_line"]
    facilitator = {**ctx["auth"]["facilitator"]}

    async def carry() -> httpx.Response:
        return await client.post("/api/v1/proposals", json=payload(kelurahan=row["kelurahan"], year=YEAR,
                                                                    carried_from=code),
                                 headers={**facilitator, "Idempotency-Key": str(uuid.uuid4())})  # fmt: skip

    assert "Usulkan lagi" not in (await client.get(f"/lacak/{code}")).text
    assert (await carry()).status_code == 409
    dropped = await client.post(f"/api/v1/rkpd/{history.YEAR}/lines/{line}/milestones", headers=ctx["auth"]["admin"],
                                json={"stage": "batal", "date": cycles.today().isoformat(),
                                      "note": "refocusing APBD"})  # fmt: skip
    assert dropped.status_code == 201, dropped.text

    async def told() -> str | None:
        page = (await client.get(f"/lacak/{code}")).text
        return page if 'id="kegiatan-batal"' in page else None

    await eventually(told, "the tracking page saying the line was dropped")
    carried = await carry()
    assert carried.status_code == 201, carried.text
    assert (await client.get(f"/api/v1/proposals/{carried.json()['code']}")).json()["carried_from"] == code
