"""What the pages call the platform's codes: decision rules, forum levels, staff roles, where a proposal
came from, the scoring criteria. One place, so that the public pages, the staff screens and the Berita Acara
name a thing alike (each label is marked for translation and translated where it is shown)."""

from __future__ import annotations

from musrenbang.domain import forum as forum_rules
from musrenbang.domain import values
from musrenbang.domain.errors import N_

RULE_LABELS = {
    "weighted-criteria": N_("penilaian kriteria berbobot (nilai 1–5 per kriteria)"),
    "greedy": N_("suara persetujuan, diisi berurutan sampai pagu habis"),
    "greedy-no-skip": N_("suara persetujuan, diisi berurutan dan berhenti di usulan pertama yang tidak muat"),
    "greedy-threshold": N_("suara persetujuan dengan ambang minimum, diisi berurutan sampai pagu habis"),
    "greedy-exclusive": N_("suara persetujuan, diisi berurutan; usulan yang saling meniadakan dengan usulan"
                           " terpilih dilewati"),
    "equalshares": N_("bagian anggaran yang sama untuk setiap pemilih (Method of Equal Shares)"),
    "equalshares/add1": N_("bagian anggaran yang sama untuk setiap pemilih (Method of Equal Shares)"),
    "equalshares-comparison": N_("bagian anggaran yang sama untuk setiap pemilih (Method of Equal Shares),"
                                 " dibandingkan dengan pengisian berurutan"),
    "equalshares/add1-comparison": N_("bagian anggaran yang sama untuk setiap pemilih (Method of Equal Shares),"
                                      " dibandingkan dengan pengisian berurutan"),
}
LEVEL_LABELS = {
    "kelurahan": N_("Musrenbang Kelurahan"),
    "desa": N_("Musrenbang Desa"),
    "kecamatan": N_("Musrenbang Kecamatan"),
    "kota": N_("Musrenbang Kota"),
}
ROLE_LABELS = {"admin": N_("Bappeda"), "facilitator": N_("fasilitator"), "opd": N_("perangkat daerah"),
               "auditor": N_("auditor"), "dprd": N_("anggota DPRD"), "setwan": N_("Sekretariat DPRD")}  # fmt: skip
SOURCE_LABELS = {"warga": N_("warga"), "pokir": N_("pokok pikiran DPRD"), "opd": N_("perangkat daerah")}
CRITERIA = {c.key: c.label for c in forum_rules.DEFAULT_CRITERIA}


def forum_level(level: str, region: str) -> str:
    """A kelurahan-level forum held in a desa is a Musrenbang Desa."""
    return "desa" if level == "kelurahan" and values.village_level(region) == "desa" else level
