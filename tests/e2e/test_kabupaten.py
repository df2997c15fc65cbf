"""A kabupaten, not only Kota Bekasi: a fresh database set up for Kabupaten Bogor (32.01) with `musrenbang
setup`, a cycle opened with `musrenbang cycle open`, then a whole year through the real server — residents
propose in a desa, a Musrenbang Desa and a Musrenbang Kecamatan decide, the agencies map the forwarded
proposals into RKPD lines and Bappeda adopts — through the same pages and API as a kota."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from musrenbang.services.cycles import today
from tests.http.conftest import payload
from tests.http.test_staff import PASSWORD, add_user
from tests.server import Server

BOGOR, KECAMATAN, DESA = "32.01", "32.01.02", "32.01.02.2002"  # Gunungputri, Desa Bojongkulur
YEAR = 2027


def cli(url: str, *args: str) -> str:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": url}
    done = subprocess.run(["musrenbang", *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def programs_file(tmp_path: Path) -> Path:
    """Two priority programs and a calendar whose every window is open today."""
    day = today()
    opens, closes = day - dt.timedelta(days=3), day + dt.timedelta(days=90)
    windows = "\n".join(f"{stage} = [{opens}, {closes}]" for stage in
                        ("usulan", "kelurahan", "kecamatan", "perangkat_daerah", "kota", "ditetapkan"))  # fmt: skip
    path = tmp_path / "program.toml"
    path.write_text(
        '[[programs]]\ntitle = "Infrastruktur desa yang layak"\ntarget = "Jalan desa mantap 80%"\n\n'
        '[[programs]]\ntitle = "Ekonomi perdesaan"\n\n'
        f"[calendar]\n{windows}\n\n[pagu_kecamatan]\n\"{KECAMATAN}\" = 5_000_000_000\n",
        encoding="utf-8",
    )
    return path


async def test_a_kabupaten_runs_a_whole_year_from_desa_to_adopted_rkpd(
    empty_database_url: str, free_port: int, tmp_path: Path
) -> None:
    url = empty_database_url
    said = cli(url, "setup", "--region", BOGOR)
    assert "Kabupaten Bogor (32.01)" in said and "416 desa" in said
    said = cli(url, "cycle", "open", "--year", str(YEAR), "--theme", "Desa maju, kabupaten sejahtera",
               "--programs", str(programs_file(tmp_path)))  # fmt: skip
    assert f"opened RKPD {YEAR} for Kabupaten Bogor" in said
    tag = uuid.uuid4().hex[:6]
    for name, role, *scope in (("admin", "admin"), ("fasilitator", "facilitator", "--region", KECAMATAN),
                               ("dpupr", "opd", "--opd", "DPUPR")):  # fmt: skip
        add_user(url, f"{name}-{tag}", role, *scope)

    server = Server(free_port, database_url=url, cycle=False)
    try:
        server.wait_healthy()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            auth = {}
            for name in ("admin", "fasilitator", "dpupr"):
                r = await client.post("/api/v1/auth/token", json={"username": f"{name}-{tag}", "password": PASSWORD})
                auth[name] = {"Authorization": f"Bearer {r.json()['token']}"}
            await _year_in_the_kabupaten(client, auth)
    finally:
        server.stop()


async def _year_in_the_kabupaten(client: httpx.AsyncClient, auth: dict[str, dict[str, str]]) -> None:
    home = (await client.get("/")).text
    assert "Kabupaten Bogor" in home and "Kota Bekasi" not in home
    [cycle] = (await client.get("/api/v1/cycles")).json()
    assert (cycle["year"], len(cycle["calendar"])) == (YEAR, 6)

    # Residents of Desa Bojongkulur propose (the API and the desa's own page).
    codes = []
    for title, cost in (("Pengerasan jalan desa RT 02", 60_000_000), ("Drainase jalan desa RT 05", 40_000_000)):
        r = await client.post("/api/v1/proposals", json=payload(kelurahan=DESA, title=title, estimated_cost=cost),
                              headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
        assert r.status_code == 201, r.text
        codes.append(r.json()["code"])
        assert (await client.get(f"/api/v1/proposals/{codes[-1]}")).json()["year"] == YEAR
    page = (await client.get(f"/kelurahan/{DESA}")).text
    assert "Desa Bojongkulur" in page and "Pengerasan jalan desa" in page
    outside = await client.post("/api/v1/proposals", json=payload(), headers={"Idempotency-Key": str(uuid.uuid4())})
    assert outside.status_code == 422 and "kelurahan" in outside.json()["errors"]  # a Kota Bekasi kelurahan
    for code in codes:
        r = await client.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"},
                              headers=auth["fasilitator"])  # fmt: skip
        assert r.status_code == 200, r.text

    # Musrenbang Desa, then Musrenbang Kecamatan: both forward what they agree.
    desa = await _forum(client, auth["fasilitator"], "kelurahan", DESA, "Musrenbang Desa Bojongkulur")
    berita = (await client.get(f"/forum/{desa}/berita-acara", headers=auth["fasilitator"])).text
    assert "Musrenbang Desa" in berita and "Bojongkulur" in berita
    kecamatan = await _forum(client, auth["fasilitator"], "kecamatan", KECAMATAN, "Musrenbang Kecamatan Gunungputri")
    berita = (await client.get(f"/forum/{kecamatan}/berita-acara", headers=auth["fasilitator"])).text
    assert "T-D.4" in berita and "Dinas Pekerjaan Umum dan Penataan Ruang" in berita
    assert "Infrastruktur desa yang layak" in berita or "Bojongkulur" in berita

    # Forum Perangkat Daerah and the adoption.
    base = f"/api/v1/rkpd/{YEAR}"
    r = await client.post(f"{base}/receive", headers=auth["admin"])
    assert r.status_code == 200, r.text
    line = {"origins": codes, "priority_program": 1, "sub_kegiatan_code": "1.03.10.2.01.0017",
            "program": "Program Penyelenggaraan Jalan", "kegiatan": "Penyelenggaraan Jalan Kabupaten/Kota",
            "sub_kegiatan": "Rehabilitasi Jalan", "funding_source": "apbd_kota", "volume": "300", "unit": "m",
            "pagu": 100_000_000, "output_indicator": "Panjang jalan desa yang diperkeras", "target": "300",
            "target_unit": "m"}  # fmt: skip
    r = await client.post(f"{base}/lines", json=line, headers=auth["dpupr"])
    assert r.status_code == 201, r.text
    r = await client.post(f"{base}/adopt", json={"note": "Musrenbang Kabupaten Bogor"}, headers=auth["admin"])
    assert r.status_code == 200, r.text
    rkpd = (await client.get(base)).json()
    assert rkpd["status"] == "ditetapkan" and rkpd["items"][0]["agency_name"].startswith("Dinas Pekerjaan Umum")
    assert {o["code"] for o in rkpd["items"][0]["origins"]} == set(codes)
    assert "Kabupaten Bogor" in (await client.get(f"/rkpd/{YEAR}")).text
    equity = (await client.get(f"/rkpd/{YEAR}/pemerataan")).text  # the pagu indikatif the cycle was opened with
    assert "Rp 5.000.000.000" in equity
    late = await client.post("/api/v1/proposals", json=payload(kelurahan=DESA, year=YEAR),
                             headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
    assert late.status_code == 409 and "sudah ditetapkan" in late.json()["message"]
    closed = await client.post("/api/v1/proposals", json=payload(kelurahan=DESA),
                               headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
    assert closed.status_code == 409 and closed.json()["message"] == "pengajuan usulan sedang tutup"


async def _forum(client: httpx.AsyncClient, auth: dict[str, str], level: str, region: str, title: str) -> str:
    """Schedule, open with its own agenda, every delegate approves everything, close."""
    r = await client.post("/api/v1/forums", headers=auth, json={
        "level": level, "region": region, "year": YEAR, "held_on": str(today()), "title": title, "place": "Aula",
        "chair": "Kepala Desa" if level == "kelurahan" else "Camat", "ceiling": 200_000_000, "rule": "greedy",
        "ballot_kind": "approval"})  # fmt: skip
    assert r.status_code == 201, r.text
    forum_id = r.json()["forum_id"]
    delegates = [{"delegate_id": f"d{i}", "name": f"Warga {i}", "gender": "PL"[i % 2]} for i in range(3)]
    assert (await client.post(f"/api/v1/forums/{forum_id}/delegates", json=delegates, headers=auth)).status_code == 200
    opened = await client.post(f"/api/v1/forums/{forum_id}/open", json={}, headers=auth)
    assert opened.status_code == 200, opened.text
    items = [a["item_id"] for a in opened.json()["agenda"]]
    assert len(items) == 2
    ballots = [{"delegate_id": f"d{i}", "approvals": items} for i in range(3)]
    assert (await client.post(f"/api/v1/forums/{forum_id}/ballots", json=ballots, headers=auth)).status_code == 200
    closed = await client.post(f"/api/v1/forums/{forum_id}/close", json={"no_mandate_confirmed": True}, headers=auth)
    assert closed.status_code == 200, closed.text
    return forum_id


pytestmark = pytest.mark.slow
