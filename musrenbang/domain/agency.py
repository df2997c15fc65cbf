"""The funding sources an RKPD line may name (SIPD's vocabulary). Who the agencies are is the city's to
say: its settings (domain/city.py)."""

from __future__ import annotations

from musrenbang.domain.errors import N_

FUNDING_SOURCES = {
    "apbd_kota": N_("APBD Kabupaten/Kota"),
    "apbd_provinsi": N_("APBD Provinsi"),
    "apbn": N_("APBN"),
    "dana_kelurahan": N_("Dana Kelurahan"),
    "dana_desa": N_("Dana Desa"),
}
