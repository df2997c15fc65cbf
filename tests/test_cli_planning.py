"""`musrenbang setup` and `musrenbang cycle …` as an operator meets them: one-line errors with exit 3 for
what a person can fix, and nothing recorded when refused."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import asyncpg

import musrenbang.reference

EXAMPLE = Path(musrenbang.reference.__file__).parent / "siklus_contoh.toml"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["musrenbang", *args], env=env, capture_output=True, text=True, timeout=120)


async def test_setup_refuses_what_it_cannot_use_and_keeps_its_region(
    empty_database_url: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**cli_env, "MUSRENBANG_DATABASE_URL": empty_database_url}
    unknown = run(env, "setup", "--region", "99.99")
    assert unknown.returncode == 3 and unknown.stderr.startswith("error:"), unknown.stderr
    empty = run(env, "setup", "--region", "")  # it blamed pemerintah_daerah.toml for naming no region
    assert empty.returncode == 3 and empty.stderr.startswith("error: --region is empty"), empty.stderr
    broken = tmp_path / "rusak.toml"
    broken.write_text('name = "Kota Contoh"\n[[agencies]\ncode = ', encoding="utf-8")
    bad = run(env, "setup", "--region", "32.75", "--settings", str(broken))
    assert bad.returncode == 3 and "rusak.toml" in bad.stderr, bad.stderr
    done = run(env, "setup", "--region", "32.75")
    assert done.returncode == 0, done.stderr
    assert "Kota Bekasi (32.75): 12 kecamatan, 56 kelurahan, 0 desa" in done.stdout
    assert "days counted in WIB" in done.stdout
    other = run(env, "setup", "--region", "32.01")
    assert other.returncode == 3 and "32.75" in other.stderr, other.stderr
    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM events WHERE event_type = 'city.configured'") == 1
        assert await conn.fetchval("SELECT count(*) FROM regions WHERE kode LIKE '32.01%'") == 0
    finally:
        await conn.close()


def test_a_cycle_is_opened_listed_and_its_window_moved_with_a_reason(cli_env: dict[str, str], tmp_path: Path) -> None:
    """The example (RKPD 2028, planned in 2027) moved to a year whose windows are all still to come whenever
    this runs (a window already closed may not be moved)."""
    year = dt.date.today().year + 3
    programs = tmp_path / "siklus.toml"
    programs.write_text(re.sub(r"\b(2026|2027)-", lambda m: f"{int(m[1]) + year - 2028}-", EXAMPLE.read_text()))
    assert run(cli_env, "setup").returncode == 0
    opened = run(cli_env, "cycle", "open", "--year", str(year), "--theme", "Pemulihan ekonomi", "--programs",
                 str(programs))  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert f"opened RKPD {year} for Kota Bekasi" in opened.stdout
    assert f"usulan            {year - 2}-12-01 .. {year - 1}-01-15" in opened.stdout
    assert "note:" not in opened.stderr  # its stages are still to come
    again = run(cli_env, "cycle", "open", "--year", str(year), "--theme", "Lagi", "--programs", str(programs))
    assert again.returncode == 3 and "sudah dibuka" in again.stderr
    # To the kelurahan stage's last day at the latest (s27: later, no forum could take them up).
    window = ["cycle", "window", "--year", str(year), "--stage", "usulan", "--closes", f"{year - 1}-01-29"]
    no_reason = run(cli_env, *window, "--reason", " ")
    assert no_reason.returncode == 3, no_reason.stderr
    moved = run(cli_env, *window, "--reason", "banjir awal tahun")
    assert moved.returncode == 0, moved.stderr
    listed = run(cli_env, "cycle", "list")
    assert listed.returncode == 0 and f"RKPD {year}" in listed.stdout
    assert f"usulan            {year - 2}-12-01 .. {year - 1}-01-29" in listed.stdout


def test_a_city_in_another_time_zone_counts_its_days_there(empty_database_url: str, cli_env: dict[str, str]) -> None:
    env = {**cli_env, "MUSRENBANG_DATABASE_URL": empty_database_url}
    done = run(env, "setup", "--region", "51.71")  # Kota Denpasar, Bali
    assert done.returncode == 0, done.stderr
    assert "Kota Denpasar (51.71)" in done.stdout and "days counted in WITA" in done.stdout


def test_a_cycle_opened_with_a_calendar_long_over_says_so(cli_env: dict[str, str], tmp_path: Path) -> None:
    """RKPD 2024 opened in 2026 without a [calendar]: the common chain's months (December 2022 to June
    2023) are taken as given (a past year may be recorded after the fact), and the operator is told that
    nobody can propose or hold a forum in it, and how to move it."""
    programs = tmp_path / "siklus.toml"
    programs.write_text("[[programs]]\ntitle = \"Pemulihan ekonomi\"\n")
    assert run(cli_env, "setup").returncode == 0
    opened = run(cli_env, "cycle", "open", "--year", "2024", "--theme", "Tema 2024", "--programs", str(programs))
    assert opened.returncode == 0, opened.stderr
    assert "every stage of RKPD 2024's calendar ended by 2023-06-30" in opened.stderr, opened.stderr
    assert "musrenbang cycle window" in opened.stderr


def test_a_settings_change_names_the_accounts_it_strands(cli_env: dict[str, str], tmp_path: Path) -> None:
    """An agency's code changed (DBMSDA to DBMPR) and a dapil renamed: the accounts scoped to them can no
    longer act for anything the new settings name, and setup says which (review s22: it said nothing, and
    a member's pokir were then refused with no hint why). Accounts already disabled are left out."""
    bekasi = Path(musrenbang.reference.__file__).parent / "kota_bekasi.toml"
    assert run(cli_env, "setup").returncode == 0
    for username, scope in (("opd.lama", ("--role", "opd", "--opd", "DBMSDA")),
                            ("dprd.lama", ("--role", "dprd", "--dapil", "Bekasi 1", "--name", "Anggota Lama")),
                            ("opd.pensiun", ("--role", "opd", "--opd", "DBMSDA"))):  # fmt: skip
        added = subprocess.run(["musrenbang", "user", "add", "--username", username, *scope], env=cli_env,
                               input="kata-sandi-yang-panjang\n", capture_output=True, text=True,
                               timeout=120)  # fmt: skip
        assert added.returncode == 0, added.stderr
    assert run(cli_env, "user", "disable", "opd.pensiun").returncode == 0
    changed = tmp_path / "kota.toml"
    changed.write_text(bekasi.read_text().replace('"DBMSDA"', '"DBMPR"').replace('"Bekasi 1"', '"Bekasi I"'))
    done = run(cli_env, "setup", "--settings", str(changed))
    assert done.returncode == 0, done.stderr
    assert "opd.lama (DBMSDA)" in done.stderr and "dprd.lama (Bekasi 1)" in done.stderr, done.stderr
    assert "opd.pensiun" not in done.stderr
    again = run(cli_env, "setup", "--settings", str(changed))  # nothing removed this time: nothing to say
    assert again.returncode == 0 and "note:" not in again.stderr, again.stderr
