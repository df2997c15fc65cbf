"""`musrenbang user add --help`, review s29b: the help names the city's own settings, not Kota Bekasi's codes
as if every city had them (it sent a kabupaten's operator to musrenbang/reference/kota_bekasi.toml and gave
"Bekasi 1" as the example of a dapil)."""

from __future__ import annotations

from click.testing import CliRunner

from musrenbang.cli import main


def test_user_add_help_is_for_any_city() -> None:
    done = CliRunner().invoke(main, ["user", "add", "--help"], terminal_width=200)
    assert done.exit_code == 0, done.output
    text = " ".join(done.output.split())
    assert "Bekasi" not in text and "kota_bekasi" not in text, text
    assert "An agency code from the city settings (opd accounts), e.g. DBMSDA." in text, text
    assert "A daerah pemilihan from the city settings (dprd accounts)." in text, text
    assert "Kelurahan, desa or kecamatan code (facilitators)." in text, text
