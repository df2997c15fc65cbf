"""The funding sources an RKPD line may name (SIPD's vocabulary). Who the agencies are is the city's to
say: its settings (domain/city.py)."""

from __future__ import annotations

from musrenbang.domain.errors import N_

DANA_DESA = "dana_desa"
DANA_KELURAHAN = "dana_kelurahan"
FUNDING_SOURCES = {
    "apbd_kota": N_("APBD Kabupaten/Kota"),
    "apbd_provinsi": N_("APBD Provinsi"),
    "apbn": N_("APBN"),
    DANA_KELURAHAN: N_("Dana Kelurahan"),
    DANA_DESA: N_("Dana Desa"),
}
"""Every source a line may have been recorded with: what pages name a line's source by, whatever the city."""


def funding_sources(has_desa: bool, has_kelurahan: bool = True) -> dict[str, str]:
    """The sources a new line of this city may choose. Dana Desa is transferred to desa only (UU 6/2014), so a
    city whose villages are all kelurahan (Kota Bekasi) is not offered it: a line paid from it there would
    promise money that never comes. Likewise Dana Kelurahan is for kelurahan only (Permendagri 130/2018): a
    kabupaten whose villages are all desa (Aceh Selatan) is not offered it. Lines recorded with either before
    stay readable (FUNDING_SOURCES)."""
    left_out = {key for key, present in ((DANA_DESA, has_desa), (DANA_KELURAHAN, has_kelurahan)) if not present}
    return {key: label for key, label in FUNDING_SOURCES.items() if key not in left_out}
