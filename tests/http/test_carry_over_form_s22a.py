"""Session 22's review of "Usulkan lagi" (`/usulan/baru?lanjutan=KODE`, http/proposal_form.py) through a
real server (the fixture of tests/http/test_pokir.py: RKPD 2024 taking proposals, the 2022 history
adopted): a proposal that cannot be proposed again is said so before the form is shown, by the rule the
submission applies, not after the resident filled everything in and gave the secret."""

from __future__ import annotations

import re

from tests import history
from tests.http import test_pokir
from tests.http.test_pages import FORM_FIELDS, code_on, hidden, send_form
from tests.http.test_pokir import YEAR

dprd = test_pokir.dprd  # the module's own copy of its history and server


async def test_a_proposal_that_cannot_be_proposed_again_is_refused_before_the_form(dprd) -> None:  # noqa: ANN001
    """The form said "Usulan ini belum terakomodasi tahun itu" and came filled in for a proposal in the
    RKPD, one already proposed again and a DPRD pokir: the 409 came only once it was sent."""
    client, pool, _ = dprd
    rows = await pool.fetch("SELECT code, source, status, carried_to FROM proposals WHERE year = $1", history.YEAR)
    in_rkpd = next(r["code"] for r in rows if r["status"] == "masuk_rkpd" and r["carried_to"] is None)
    carried = next(r for r in rows if r["carried_to"] is not None)
    pokir = next(r["code"] for r in rows if r["source"] == "pokir")
    for code, says in ((in_rkpd, "sudah diakomodasi: hanya usulan yang tidak terakomodasi"),
                       (carried["code"], f"sudah diusulkan lagi sebagai {carried['carried_to']}"),
                       (pokir, "pokok pikiran DPRD diajukan lagi oleh anggotanya")):  # fmt: skip
        page = await client.get("/usulan/baru", params={"lanjutan": code, "tahun": YEAR, "lang": "id"})
        assert page.status_code == 409, (code, page.text[:300])
        assert 'id="tidak-dapat-diusulkan-lagi"' in page.text and f"Usulan {code} (RKPD {history.YEAR})" in page.text
        assert says in page.text, code
        assert 'name="carried_from"' not in page.text and "belum terakomodasi tahun itu" not in page.text
        assert 'action="/usulan/baru"' not in page.text and f'href="/lacak/{code}"' in page.text
        english = await client.get("/usulan/baru", params={"lanjutan": code, "tahun": YEAR, "lang": "en"})
        assert english.status_code == 409 and 'id="tidak-dapat-diusulkan-lagi"' in english.text
    rejected = next(r["code"] for r in rows if r["status"] == "ditolak" and r["carried_to"] is None)
    form = await client.get("/usulan/baru", params={"lanjutan": rejected, "tahun": YEAR, "lang": "id"})
    assert form.status_code == 200 and f'name="carried_from" value="{rejected}"' in form.text
    assert "belum terakomodasi tahun itu" in form.text and 'id="tidak-dapat-diusulkan-lagi"' not in form.text


async def test_a_resident_without_the_old_secret_can_send_the_form_as_a_new_proposal(dprd) -> None:  # noqa: ANN001
    """The "Usulkan lagi" button is on every tracking page, but only the proposer's secret (shown once, a
    year ago) links the new proposal to the old: anyone else, or a proposer who lost it, was refused again, the
    form keeping the link, with no way to send what they typed but a fresh form. (Moved from
    test_review_residents.py, whose proposal of the same year can no longer be proposed again at all.)"""
    client, pool, _ = dprd
    rejected = ("SELECT code, kelurahan FROM proposals WHERE year = $1 AND status = 'ditolak'"
                " AND carried_to IS NULL AND source <> 'pokir' ORDER BY code LIMIT 1")  # fmt: skip
    row = await pool.fetchrow(rejected, history.YEAR)
    earlier = row["code"]
    page = (await client.get("/usulan/baru", params={"lanjutan": earlier, "tahun": YEAR})).text
    assert hidden(page, "carried_from") == earlier
    assert " required" not in re.search(r'<input [^>]*id="revision_secret"[^>]*>', page)[0]  # sent empty
    assert 'name="tanpa_lanjutan"' in page
    tokens = {"_csrf_token": hidden(page, "_csrf_token"), "idempotency_key": hidden(page, "idempotency_key")}
    fields = {**FORM_FIELDS, "kelurahan": row["kelurahan"], "year": hidden(page, "year"), "carried_from": earlier,
              "revision_secret": ""}  # fmt: skip
    refused = await send_form(client, tokens, fields)
    assert refused.status_code == 422
    assert "kode rahasia tidak cocok dengan usulan ini" in refused.text
    assert 'name="tanpa_lanjutan"' in refused.text
    # Session 25: the language switch of a page answering the form is the same carry-over form, and that of
    # the result is the proposal's page (both were an empty form, the link to the earlier proposal, or the
    # code, lost).
    assert f'class="lang" href="/usulan/baru?lanjutan={earlier}&amp;tahun={YEAR}&amp;lang=en"' in refused.text
    sent = await send_form(client, tokens, {**fields, "tanpa_lanjutan": "1"})
    assert sent.status_code == 200, re.findall(r'class="error"[^>]*>([^<]*)', sent.text)
    code = code_on(sent.text)
    assert f'class="lang" href="/lacak/{code}?lang=en" hreflang="en" data-leaves-secret=' in sent.text
    assert code != earlier
    assert await pool.fetchval("SELECT carried_to FROM proposals WHERE code = $1", earlier) is None
    made = (await client.get(f"/api/v1/proposals/{code}")).json()
    assert [h["code"] for h in made["history"]] == [code]


async def test_a_past_years_pokir_are_found_by_the_dapil_they_were_entered_under(dprd) -> None:  # noqa: ANN001
    """Redistricting renamed a daerah pemilihan: the pokir page's filter offered today's names only, and
    the 2022 pokir, entered under the old name, could not be chosen (review s22). The filter offers the
    names the year's pokir carry too. (Last in this file: it changes this module's copy's settings.)"""
    import msgspec

    from musrenbang.domain.city import ConfigureCity
    from musrenbang.eventlog.store import EventStore, Metadata
    from musrenbang.services import city as city_service
    from tests.waiting import eventually

    client, pool, _ = dprd
    entered = await pool.fetchval("SELECT dapil FROM pokir WHERE year = $1 ORDER BY code LIMIT 1", history.YEAR)
    store = EventStore(pool)
    now = await city_service.current(store)
    renamed = f"{entered} (baru)"
    dapil = tuple(msgspec.structs.replace(d, name=renamed) if d.name == entered else d for d in now.dapil)
    command = ConfigureCity(
        region=now.region, name=now.name, planning_agency=now.planning_agency,
        planning_agency_short=now.planning_agency_short, agencies=now.agencies, bidang_agency=now.bidang_agency,
        bounds=now.bounds, timezone=now.timezone, dapil=dapil,
    )  # fmt: skip
    assert await city_service.configure(store, command, Metadata(actor="admin", role="admin")) is not None

    async def filter_renamed() -> str | None:
        page = (await client.get(f"/pokir/{history.YEAR}")).text
        return page if renamed in page else None

    page = await eventually(filter_renamed, "the renamed dapil on the pokir page")
    assert f'<option value="{entered}"' in page, page[page.find("<select"):page.find("</select>")]
    chosen = await client.get(f"/pokir/{history.YEAR}", params={"dapil": entered})
    assert chosen.status_code == 200 and "Pokok pikiran" in chosen.text
    code = await pool.fetchval("SELECT code FROM pokir WHERE year = $1 AND dapil = $2 LIMIT 1", history.YEAR, entered)
    assert code in chosen.text
