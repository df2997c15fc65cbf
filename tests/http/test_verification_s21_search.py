"""Review s21, through a real server of its own (RKPD 2022 and 2023 open, one kelurahan's queue): the
verification queue searches (`?q=`) by tracking code, title or address, together with its filters, keeps
the search in its links and forms, answers every odd search without a server error; and a refused
decision lists its mistakes at the top, each linked to its field, as the other staff forms do."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest

from tests.http.conftest import payload
from tests.http.test_forum_entry import _signed_in
from tests.http.test_review_verification import two_open_years
from tests.http.test_staff import KELURAHAN, token

pytestmark = pytest.mark.slow

MANY = 101
"""Proposals titled "Sumur resapan …": one more than a page of the queue (QUEUE_PAGE)."""


class Queue:
    def __init__(self, base_url: str, facilitator: str, codes: dict[str, str]) -> None:
        self.base_url, self.facilitator, self.codes = base_url, facilitator, codes
        self.csrf = ""  # the signed-in browser's CSRF token


@pytest.fixture(scope="module")
async def queue(server_url: str, template_name: str) -> AsyncIterator[Queue]:
    """A kelurahan with MANY wells waiting (2022), a street light at "Jl. Kenanga" (2023), a drain in
    "Tjikini" (2022) and an accepted well (2022)."""
    async with two_open_years(server_url, template_name,
                              extra_env={"MUSRENBANG_SUBMISSIONS_PER_HOUR": "1000"}) as (base_url, facilitator):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            auth = await token(http, facilitator)

            async def propose(**changes: object) -> str:
                r = await http.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, **changes),
                                    headers={"Idempotency-Key": str(uuid.uuid4()), **auth})  # fmt: skip
                assert r.status_code == 201, r.text
                return str(r.json()["code"])

            for n in range(MANY):
                await propose(year=2022, title=f"Sumur resapan {n}", address="Jl. Melati")
            codes = {
                "light": await propose(year=2023, title="Lampu jalan Gang Mawar", address="Jl. Kenanga no. 7"),
                "drain": await propose(year=2022, title="Perbaikan saluran Tjikini", address="Jl. Melati"),
                "accepted": await propose(year=2022, title="Sumur resapan diterima", address="Jl. Melati"),
            }
            r = await http.post(f"/api/v1/proposals/{codes['accepted']}/verification", headers=auth,
                                json={"decision": "accept"})  # fmt: skip
            assert r.status_code == 200, r.text
        yield Queue(base_url, facilitator, codes)


@pytest.fixture
async def browser(queue: Queue) -> AsyncIterator[httpx.AsyncClient]:
    """The facilitator's browser, signed in."""
    async with httpx.AsyncClient(base_url=queue.base_url, timeout=30) as client:
        queue.csrf = await _signed_in(client, queue.facilitator)
        yield client


def listed(page: str) -> list[str]:
    return re.findall(r'<details class="queue" id="usulan-([0-9A-Z]+)"', page)


def text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


async def test_the_queue_finds_a_proposal_by_its_code_as_typed(queue: Queue, browser: httpx.AsyncClient) -> None:
    """A resident phones with a code: typed as printed, in lower case, with a space or another dash, or
    read out with O for 0, it finds that one proposal, whatever year still open it is for."""
    code = queue.codes["light"]
    typed = [code, f"{code[:4]}-{code[4:]}", f"{code[:4].lower()} {code[4:].lower()}", f"{code[:4]}–{code[4:]}"]
    if "0" in code:
        typed.append(code.replace("0", "O"))
    for q in typed:
        r = await browser.get("/petugas/verifikasi", params={"q": q})
        assert r.status_code == 200, q
        assert listed(r.text) == [code], q
        assert re.search(r"(?<![0-9])1 usulan", text(r.text)), q


async def test_the_queue_finds_by_words_of_the_title_or_the_address(queue: Queue, browser: httpx.AsyncClient) -> None:
    for q in ("gang MAWAR", "lampu", "Kenanga", "jl kenanga no 7"):
        r = await browser.get("/petugas/verifikasi", params={"q": q})
        assert r.status_code == 200 and listed(r.text) == [queue.codes["light"]], q
    found = await browser.get("/petugas/verifikasi", params={"q": "kenanga"})
    assert "Jl. Kenanga no. 7" in text(found.text)  # why it was found: the address is shown
    # The old spelling folded as on /usulan: "cikini" finds "Tjikini".
    r = await browser.get("/petugas/verifikasi", params={"q": "saluran cikini"})
    assert listed(r.text) == [queue.codes["drain"]]
    # What nothing matches says so, the search kept in its box.
    r = await browser.get("/petugas/verifikasi", params={"q": "jembatan gantung"})
    assert r.status_code == 200 and listed(r.text) == []
    assert "Tidak ada usulan yang cocok" in text(r.text)
    assert re.search(r'<input type="search" name="q" id="q" value="jembatan gantung"', r.text)


async def test_the_search_combines_with_status_and_year(queue: Queue, browser: httpx.AsyncClient) -> None:
    accepted, light = queue.codes["accepted"], queue.codes["light"]
    r = await browser.get("/petugas/verifikasi", params={"q": "sumur", "status": "diterima"})
    assert listed(r.text) == [accepted]
    r = await browser.get("/petugas/verifikasi", params={"q": "sumur resapan diterima"})  # waiting ones by default
    assert listed(r.text) == [] and "Tidak ada usulan yang cocok" in text(r.text)
    r = await browser.get("/petugas/verifikasi", params={"q": "lampu", "tahun": "2022"})
    assert listed(r.text) == [] and "Tidak ada usulan yang cocok" in text(r.text)
    r = await browser.get("/petugas/verifikasi", params={"q": "lampu", "tahun": "2023"})
    assert listed(r.text) == [light]
    assert re.search(r'<option value="2023" selected>', r.text)
    r = await browser.get("/petugas/verifikasi", params={"q": "jl melati", "tahun": "2023"})
    assert listed(r.text) == []
    r = await browser.get("/petugas/verifikasi", params={"q": "sumur", "bidang": "kesehatan"})
    assert listed(r.text) == []


async def test_the_search_is_kept_in_the_paging_links_and_the_forms(queue: Queue, browser: httpx.AsyncClient) -> None:
    first = await browser.get("/petugas/verifikasi", params={"q": "Sumur resapan", "tahun": "2022"})
    assert first.status_code == 200
    assert f"{MANY} usulan · halaman 1 dari 2" in text(first.text)
    assert len(listed(first.text)) == 100 and queue.codes["drain"] not in listed(first.text)
    assert 'href="?status=diajukan&amp;tahun=2022&amp;q=Sumur%20resapan&amp;halaman=2"' in first.text
    assert 'action="/petugas/gabung?status=diajukan&amp;tahun=2022&amp;q=Sumur%20resapan"' in first.text
    second = await browser.get("/petugas/verifikasi?status=diajukan&tahun=2022&q=Sumur%20resapan&halaman=2")
    [last] = listed(second.text)
    assert 'href="?status=diajukan&amp;tahun=2022&amp;q=Sumur%20resapan&amp;halaman=1"' in second.text
    action = f'action="/petugas/verifikasi/{last}?status=diajukan&amp;tahun=2022&amp;q=Sumur%20resapan&amp;halaman=2"'
    assert action in second.text
    # A decision made on a searched page returns to that search.
    decided = await browser.post(f"/petugas/verifikasi/{last}?status=diajukan&tahun=2022&q=Sumur%20resapan&halaman=2",
                                 data={"_csrf_token": queue.csrf, "decision": "accept"})  # fmt: skip
    assert decided.status_code == 303
    assert "q=Sumur+resapan" in decided.headers["location"] and "tahun=2022" in decided.headers["location"]


WHOLE = ["", "   ", "\t\n", "\x00", "\u202e"]
"""Searches of nothing (spaces, control characters): the whole queue."""
NOTHING = ["%", "%%", "_", "\\", "\\%", "'", "--", "ü", "Пётр", "💩"]
"""Searches no search key can hold: no proposal, rather than every one."""
ODD = [*WHOLE, *NOTHING, "a%b", "s_mur", '"><script>', "%00", "x" * 5000, "sumur " * 40, "1' OR '1'='1"]


async def test_any_odd_search_answers_sensibly(queue: Queue, browser: httpx.AsyncClient) -> None:
    everything = len(listed((await browser.get("/petugas/verifikasi")).text))
    assert everything == 100  # a full first page
    for q in ODD:
        r = await browser.get(f"/petugas/verifikasi?q={quote(q)}")
        assert r.status_code == 200, (q, r.status_code)
        shown = listed(r.text)
        if q in WHOLE:
            assert len(shown) == everything and "Tidak ada usulan yang cocok" not in text(r.text), repr(q)
        elif q in NOTHING:
            assert shown == [] and "Tidak ada usulan yang cocok" in text(r.text), repr(q)
        box = re.search(r'<input type="search" name="q" id="q" value="([^"]*)"', r.text)
        assert box and len(html.unescape(box[1])) <= 60, repr(q)
    assert "<script>" not in (await browser.get("/petugas/verifikasi?q=%22%3E%3Cscript%3E")).text
    # "%" and "_" are no wildcards: "s_mur" does not find "sumur".
    assert listed((await browser.get("/petugas/verifikasi?q=s_mur")).text) == []
    # A search longer than the box is read as far as the box goes, not refused.
    long = await browser.get("/petugas/verifikasi", params={"q": "sumur resapan 1" + "0" * 200})
    assert long.status_code == 200


def _summary(page: str) -> str:
    found = re.search(r'<div id="errors" class="errors" tabindex="-1" role="group" aria-labelledby="errors-title">'
                      r"(.*?)</div>", page, re.S)  # fmt: skip
    assert found, "no error summary"
    return found[1]


async def test_a_refused_decision_lists_its_mistakes_at_the_top_linked_to_the_fields(
    queue: Queue, browser: httpx.AsyncClient
) -> None:
    code = queue.codes["drain"]
    csrf = queue.csrf
    where = f"/petugas/verifikasi/{code}?status=diajukan&q=cikini"
    r = await browser.post(where, data={"_csrf_token": csrf, "decision": "accept", "agreed_cost": "20.000.000",
                                        "agreed_volume": "120"})  # fmt: skip
    assert r.status_code == 422
    summary = _summary(r.text)
    assert r.text.index('id="errors"') < r.text.index('<form method="get"')  # above everything else
    for name, label in (("agreed_cost", "Biaya disepakati"), ("agreed_volume", "Volume disepakati")):
        assert re.search(rf'<a href="#{name}-{code}">{label}: hanya untuk «Terima dengan perubahan»', summary), name
        assert f'id="{name}-{code}"' in r.text  # the link leads somewhere
    assert listed(r.text) == [code] and 'value="cikini"' in r.text  # the search kept
    # Every field of the decision form: a reason, the decision itself.
    r = await browser.post(where, data={"_csrf_token": csrf, "decision": "reject", "reason": ""})
    assert r.status_code == 422
    assert f'<a href="#reason-{code}">Alasan / yang perlu diperbaiki: tulis alasan penolakan</a>' in _summary(r.text)
    r = await browser.post(where, data={"_csrf_token": csrf, "decision": "tunda"})
    assert r.status_code == 422
    assert f'<a href="#decision-{code}">Keputusan: keputusan tidak dikenal</a>' in _summary(r.text)
    assert re.search(rf'<fieldset id="decision-{code}" aria-describedby="decision-{code}-error">', r.text)
    # Still beside each field as well.
    assert f'<p class="error" id="decision-{code}-error">keputusan tidak dikenal</p>' in r.text


async def test_a_refused_decision_on_a_proposal_decided_meanwhile_is_said_at_the_top(
    queue: Queue, browser: httpx.AsyncClient
) -> None:
    accepted = queue.codes["accepted"]
    r = await browser.post(f"/petugas/verifikasi/{accepted}",
                           data={"_csrf_token": queue.csrf, "decision": "reject",
                                 "reason": "bukan kewenangan kota"})  # fmt: skip
    assert r.status_code == 422
    summary = _summary(r.text)
    assert ('<p class="error" id="errors-title" role="alert">usulan ini sudah diverifikasi: statusnya kini'
            ' «Diterima»; muat ulang halaman untuk melihat keputusannya</p>') in summary
    assert "<a href" not in summary  # no field to go to
