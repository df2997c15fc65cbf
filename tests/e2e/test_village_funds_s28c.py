"""Dana Desa and Dana Kelurahan go only where their villages are (review s28), through `musrenbang setup`, `cycle
open` and a real server, as the reviewer met them:

- Kabupaten Jembrana (51.01: 10 kelurahan, 41 desa) accepted Dana Desa on a Renja line located only in a kelurahan
  and on a kabupaten-wide one (201, then adopted): now 422 on `funding_source`, saying why, nothing written; a
  line in desa alone still takes it, and both village funds are offered (cycle form, line sources).
- Kabupaten Aceh Selatan (11.01: 260 desa, no kelurahan) opened a cycle with `dana_kelurahan` (rc 0) and its staff
  page asked for "Dana Kelurahan per kelurahan": now `cycle open` exits 3 naming the field, nothing written, the
  API and the form answer 422, the page does not ask for it, and its lines are not offered it."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from musrenbang.services.cycles import today
from musrenbang.services.rkpd import offered_funding_sources
from tests.http.city_setup import sign_in
from tests.http.test_pages import hidden
from tests.http.test_staff import PASSWORD, add_user
from tests.server import serving

pytestmark = pytest.mark.slow

YEAR = 2028
JEMBRANA, NEGARA = "51.01", "51.01.01"
KELURAHAN, DESA = "51.01.01.1006", "51.01.01.2001"  # Baler Bale Agung (a kelurahan), Cupel (a desa)
ACEH_SELATAN = "11.01"
LINE = {"origins": [], "renja_reason": "Renstra: jalan lingkungan", "priority_program": 1,
        "sub_kegiatan_code": "1.03.10.2.01.0017", "program": "Program Penyelenggaraan Jalan",
        "kegiatan": "Penyelenggaraan Jalan Kabupaten/Kota", "sub_kegiatan": "Rehabilitasi Jalan",
        "funding_source": "dana_desa", "volume": "300", "unit": "m", "pagu": 100_000_000,
        "output_indicator": "Panjang jalan yang direhabilitasi", "target": "300", "target_unit": "m"}  # fmt: skip


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": url}
    return subprocess.run(["musrenbang", *args], env=env, capture_output=True, text=True, timeout=300)


def programs_file(tmp_path: Path, *, dana_kelurahan: bool) -> Path:
    """One priority program, a calendar whose every window is open today, and Dana Kelurahan if asked."""
    opens, closes = today() - dt.timedelta(days=3), today() + dt.timedelta(days=90)
    windows = "\n".join(f"{stage} = [{opens}, {closes}]" for stage in
                        ("usulan", "kelurahan", "kecamatan", "perangkat_daerah", "kota", "ditetapkan"))  # fmt: skip
    path = tmp_path / f"program-{dana_kelurahan}.toml"
    path.write_text(f'{"dana_kelurahan = 352_000_000" if dana_kelurahan else ""}\n\n[[programs]]\ntitle = "Tes"\n\n'
                    f"[calendar]\n{windows}\n", encoding="utf-8")  # fmt: skip
    return path


async def _count(url: str, where: str = "TRUE") -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(f"SELECT count(*) FROM events WHERE {where}")
    finally:
        await conn.close()


async def _offered(url: str, region: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return list(await offered_funding_sources(conn, region))
    finally:
        await conn.close()


async def _tokens(client: httpx.AsyncClient, users: dict[str, str]) -> dict[str, dict[str, str]]:
    tokens = {}
    for key, username in users.items():
        r = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        tokens[key] = {"Authorization": f"Bearer {r.json()['token']}"}
    return tokens


async def test_dana_desa_only_on_a_line_of_desa_alone_in_jembrana(
    empty_database_url: str, tmp_path: Path
) -> None:
    url = empty_database_url
    done = cli(url, "setup", "--region", JEMBRANA)
    assert done.returncode == 0 and "10 kelurahan, 41 desa" in done.stdout, done.stderr
    opened = cli(url, "cycle", "open", "--year", str(YEAR), "--theme", "Tes", "--programs",
                 str(programs_file(tmp_path, dana_kelurahan=True)))  # fmt: skip
    assert opened.returncode == 0, opened.stderr  # kelurahan and desa both: Dana Kelurahan per kelurahan is set
    assert await _offered(url, JEMBRANA) == ["apbd_kota", "apbd_provinsi", "apbn", "dana_kelurahan", "dana_desa"]
    tag = uuid.uuid4().hex[:6]
    users = {"admin": f"admin-{tag}", "dpupr": f"dpupr-{tag}"}
    add_user(url, users["admin"], "admin")
    add_user(url, users["dpupr"], "opd", "--opd", "DPUPR")
    with serving(url, cycle=False) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            auth = await _tokens(client, users)
            base = f"/api/v1/rkpd/{YEAR}"
            assert (await client.post(f"{base}/receive", headers=auth["admin"])).status_code == 200
            before = await _count(url)
            for places, said in (([KELURAHAN], f"lokasi {KELURAHAN} kelurahan, bukan desa"),
                                 ([DESA, KELURAHAN], f"lokasi {KELURAHAN} kelurahan, bukan desa"),
                                 ([], "bukan untuk seluruh wilayah")):  # fmt: skip
                r = await client.post(f"{base}/lines", json={**LINE, "locations": places}, headers=auth["dpupr"])
                assert r.status_code == 422, (places, r.text)  # was 201, then adopted into the RKPD
                assert list(r.json()["errors"]) == ["funding_source"], r.text
                assert said in r.json()["errors"]["funding_source"], r.text
                assert "Dana Desa" in r.json()["errors"]["funding_source"]
            assert await _count(url) == before  # nothing written
            r = await client.post(f"{base}/lines", json={**LINE, "locations": [DESA]}, headers=auth["dpupr"])
            assert r.status_code == 201, r.text  # a line of desa alone
            bappeda = await sign_in(server.base_url, users["admin"])
            try:
                page = (await bappeda.get("/petugas/siklus")).text
            finally:
                await bappeda.aclose()
            assert 'name="dana_kelurahan"' in page and "Dana Kelurahan per kelurahan" in page


async def test_a_kabupaten_without_kelurahan_sets_no_dana_kelurahan(empty_database_url: str, tmp_path: Path) -> None:
    url = empty_database_url
    done = cli(url, "setup", "--region", ACEH_SELATAN)
    assert done.returncode == 0 and "0 kelurahan, 260 desa" in done.stdout, done.stderr
    before = await _count(url)
    refused = cli(url, "cycle", "open", "--year", str(YEAR), "--theme", "Tes", "--programs",
                  str(programs_file(tmp_path, dana_kelurahan=True)))  # fmt: skip
    assert refused.returncode == 3, refused.stdout + refused.stderr  # was 0
    assert refused.stderr.startswith("error: dana_kelurahan: ") and "tidak mempunyai kelurahan" in refused.stderr
    assert await _count(url) == before
    opened = cli(url, "cycle", "open", "--year", str(YEAR), "--theme", "Tes", "--programs",
                 str(programs_file(tmp_path, dana_kelurahan=False)))  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert "dana_kelurahan" not in await _offered(url, ACEH_SELATAN)  # nor on its lines (the line form's choices)
    tag = uuid.uuid4().hex[:6]
    add_user(url, f"admin-{tag}", "admin")
    with serving(url, cycle=False) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            auth = await _tokens(client, {"admin": f"admin-{tag}"})
            before = await _count(url)
            body = {"year": YEAR + 1, "theme": "Tes", "priority_programs": [{"title": "Jalan desa"}],
                    "dana_kelurahan": 352_000_000}  # fmt: skip
            r = await client.post("/api/v1/cycles", json=body, headers=auth["admin"])
            assert r.status_code == 422, r.text
            assert list(r.json()["errors"]) == ["dana_kelurahan"], r.text
            assert "wilayah ini tidak mempunyai kelurahan" in r.json()["errors"]["dana_kelurahan"]
            bappeda = await sign_in(server.base_url, f"admin-{tag}")
            try:
                page = await bappeda.get("/petugas/siklus")
                assert page.status_code == 200, page.text
                assert 'name="dana_kelurahan"' not in page.text and "Dana Kelurahan" not in page.text  # was asked
                form = re.search(r'<form method="post" action="/petugas/siklus" data-once>.*?</form>', page.text, re.S)
                assert form, "no form to open a cycle"
                fields = dict(re.findall(r'<input (?:type="date" )?name="([^"]+)"[^>]*?value="([^"]*)"', form.group(0)))
                sent = {**fields, "_csrf_token": hidden(page.text, "_csrf_token"), "year": str(YEAR + 1),
                        "theme": "Tes", "programs": "Jalan desa",
                        "dana_kelurahan": "352000000"}  # a form of before, or forged  # fmt: skip
                r = await bappeda.post("/petugas/siklus", data=sent)
                assert r.status_code == 422, r.text
                shown = re.findall(r'class="error"[^>]*>([^<]*)', r.text)
                assert any("wilayah ini tidak mempunyai kelurahan" in m for m in shown), shown  # the field is not
            finally:
                await bappeda.aclose()
            assert await _count(url) == before
