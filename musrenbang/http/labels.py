"""What the pages call the platform's codes: decision rules, forum levels, staff roles, where a proposal
came from, the scoring criteria. One place, so that the public pages, the staff screens and the Berita Acara
name a thing alike (each label is marked for translation and translated where it is shown)."""

from __future__ import annotations

import re
from typing import Any

from musrenbang.domain import city_forums, values
from musrenbang.domain import forum as forum_rules
from musrenbang.domain.errors import N_, Message, Term

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


_CLOSE_NOTE = re.compile(r"Disepakati pada Musrenbang Kota ([0-9]{4}-[0-9]{2}-[0-9]{2})")
"""The note the Musrenbang Kota's close records with the adoption it makes (domain/rkpd.py), in Indonesian."""


def adoption_note(note: str) -> Message:
    """An adoption's note for `tr`: the one the Musrenbang Kota's close wrote, in the reader's words (the
    forum named as the city names it: Musrenbang Kabupaten in a kabupaten); any other as it was typed.

        >>> adoption_note("Disepakati pada Musrenbang Kota 2021-04-05").template, adoption_note("perubahan pagu")
        ('Disepakati pada %(forum)s %(day)s', 'perubahan pagu')
    """
    found = _CLOSE_NOTE.fullmatch(note)
    if found is None:
        return Message("%(note)s", note=note)  # no text of ours to translate
    return Message(N_("Disepakati pada %(forum)s %(day)s"), forum=Term(city_forums.FORUMS[city_forums.MUSRENBANG_KOTA]),
                   day=found.group(1))  # fmt: skip


TIER_LABELS = {"kecamatan": N_("kecamatan"), "kota": N_("kota")}
"""A level in a sentence ("diteruskan ke tingkat kecamatan"); the kota's is the kabupaten's in a kabupaten."""
REGION_LABELS = {"kecamatan": N_("Kecamatan"), "kelurahan": N_("Kelurahan"), "desa": N_("Desa")}
"""What a region of the city is, before its name (Kecamatan Pekutatan, Desa Medewi)."""


def region_kind(code: str) -> str:
    """A region code's kind: kecamatan (51.01.03), kelurahan (51.01.01.1006) or desa (51.01.03.2004);
    the city itself (51.01) as a kabupaten or kota."""
    parts = code.count(".")
    if parts >= 3:
        return values.village_level(code)
    return "kecamatan" if parts == 2 else values.city_level(code)


VILLAGE_LABELS = {"kelurahan": N_("Kelurahan"), "desa": N_("Desa"), "both": N_("Kelurahan/Desa")}
"""The place a resident proposes in, by what the city has: Kota Bekasi only kelurahan, a kabupaten often both."""
VILLAGE_PROMPTS = {"kelurahan": N_("— pilih kelurahan —"), "desa": N_("— pilih desa —"),
                   "both": N_("— pilih kelurahan/desa —")}  # fmt: skip
VILLAGE_SEARCH = {"kelurahan": "", "desa": N_("Cari desa…"), "both": N_("Cari kelurahan/desa…")}
"""The picker's filter box (web/static/app.js; empty: its own "Cari kelurahan…")."""
VILLAGE_STAFF = {
    "kelurahan": N_("Nama dan nomor telepon hanya dipakai petugas kelurahan untuk menghubungi Anda tentang usulan"
                    " ini. Keduanya tidak pernah ditampilkan di situs ini atau dibagikan."),
    "desa": N_("Nama dan nomor telepon hanya dipakai petugas desa untuk menghubungi Anda tentang usulan ini."
               " Keduanya tidak pernah ditampilkan di situs ini atau dibagikan."),
    "both": N_("Nama dan nomor telepon hanya dipakai petugas kelurahan atau desa untuk menghubungi Anda tentang"
               " usulan ini. Keduanya tidak pernah ditampilkan di situs ini atau dibagikan."),
}
"""The proposal form's privacy note, naming whose staff read the proposer's name and phone."""


def village_kind(kecamatan: list[dict[str, Any]]) -> str:
    """Which villages a form's picker lists (`reference.kecamatan_with_kelurahan`): "kelurahan" (Kota Bekasi,
    and before the regions are loaded), "desa", or "both".

        >>> village_kind([{"kelurahan": [{"tingkat": "kelurahan"}, {"tingkat": "desa"}]}])
        'both'
    """
    kinds = {v.get("tingkat") for k in kecamatan for v in k["kelurahan"]}
    if "desa" not in kinds:
        return "kelurahan"
    return "both" if "kelurahan" in kinds else "desa"


CITY_WORDS: dict[str, dict[str, str]] = {
    "kabupaten": {
        "Musrenbang Kota": N_("Musrenbang Kabupaten"),
        "Musrenbang Kota: RKPD %(year)s": N_("Musrenbang Kabupaten: RKPD %(year)s"),
        "Forum Perangkat Daerah dan Musrenbang Kota": N_("Forum Perangkat Daerah dan Musrenbang Kabupaten"),
        "Jadwalkan kedua forum, tutup Forum Perangkat Daerah setelah semua usulan diputuskan, lalu tutup Musrenbang"
        " Kota: penutupannya menetapkan RKPD. Berita acara masing-masing dapat dicetak.":
            N_("Jadwalkan kedua forum, tutup Forum Perangkat Daerah setelah semua usulan diputuskan, lalu tutup"
               " Musrenbang Kabupaten: penutupannya menetapkan RKPD. Berita acara masing-masing dapat dicetak."),
        "RKPD ditetapkan saat Musrenbang Kota ditutup (di atas). Perubahan sesudahnya (perubahan RKPD) ditetapkan"
        " di sini.":
            N_("RKPD ditetapkan saat Musrenbang Kabupaten ditutup (di atas). Perubahan sesudahnya (perubahan RKPD)"
               " ditetapkan di sini."),
        "Menutup Musrenbang Kota sekaligus menetapkan RKPD.": N_("Menutup Musrenbang Kabupaten sekaligus menetapkan"
                                                                  " RKPD."),
        "Tutup Musrenbang Kota dan tetapkan RKPD": N_("Tutup Musrenbang Kabupaten dan tetapkan RKPD"),
        "Ditetapkan di Musrenbang Kota (revisi %(n)s).": N_("Ditetapkan di Musrenbang Kabupaten (revisi %(n)s)."),
        "RKPD tahun ini belum ditetapkan di Musrenbang Kota. Daftar ini masih dapat berubah.":
            N_("RKPD tahun ini belum ditetapkan di Musrenbang Kabupaten. Daftar ini masih dapat berubah."),
        "Batas penyampaian: %(day)s (seminggu sebelum Musrenbang Kota).":
            N_("Batas penyampaian: %(day)s (seminggu sebelum Musrenbang Kabupaten)."),
        "Belum diundangkan dengan Peraturan Wali Kota/Bupati.": N_("Belum diundangkan dengan Peraturan Bupati."),
        "Tingkat kota": N_("Tingkat kabupaten"),
        "Tingkat kota/kabupaten": N_("Tingkat kabupaten"),
        "Forum tingkat kota yang sudah ditutup": N_("Forum tingkat kabupaten yang sudah ditutup"),
        "Belum ada forum tingkat kota yang ditutup.": N_("Belum ada forum tingkat kabupaten yang ditutup."),
        "Hanya selama belum ada usulan, pokok pikiran, musyawarah atau catatan tingkat kota di dalamnya. Tahunnya"
        " dapat dibuka lagi sesudahnya.":
            N_("Hanya selama belum ada usulan, pokok pikiran, musyawarah atau catatan tingkat kabupaten di dalamnya."
               " Tahunnya dapat dibuka lagi sesudahnya."),
        "Seluruh kota": N_("Seluruh kabupaten"),
        "seluruh kota": N_("seluruh kabupaten"),
        "kota": N_("kabupaten"),
        "Musrenbang adalah musyawarah tahunan tempat warga mengusulkan apa yang dibutuhkan lingkungannya. Usulan"
        " dibahas di kelurahan atau desa, kecamatan dan kabupaten/kota, lalu yang disepakati masuk ke RKPD, rencana"
        " kerja tahunan Pemerintah %(city)s.":
            N_("Musrenbang adalah musyawarah tahunan tempat warga mengusulkan apa yang dibutuhkan lingkungannya."
               " Usulan dibahas di desa atau kelurahan, kecamatan dan kabupaten, lalu yang disepakati masuk ke RKPD,"
               " rencana kerja tahunan Pemerintah %(city)s."),
        "Penetapan RKPD %(year)s, pelaksanaan baris-barisnya, dan nasib usulan warga di tingkat kota":
            N_("Penetapan RKPD %(year)s, pelaksanaan baris-barisnya, dan nasib usulan warga di tingkat kabupaten"),
        "APBD Kabupaten/Kota": N_("APBD Kabupaten"),
        # the domain's messages
        "Musrenbang Kota diadakan setelah Forum Perangkat Daerah":
            N_("Musrenbang Kabupaten diadakan setelah Forum Perangkat Daerah"),
        "Forum Perangkat Daerah diadakan sebelum Musrenbang Kota":
            N_("Forum Perangkat Daerah diadakan sebelum Musrenbang Kabupaten"),
        "tutup dulu Forum Perangkat Daerah: Musrenbang Kota membahas hasilnya":
            N_("tutup dulu Forum Perangkat Daerah: Musrenbang Kabupaten membahas hasilnya"),
        "musyawarah tingkat kota adalah Forum Perangkat Daerah dan Musrenbang Kota: jadwalkan di halaman RKPD tahun"
        " itu":
            N_("musyawarah tingkat kabupaten adalah Forum Perangkat Daerah dan Musrenbang Kabupaten: jadwalkan di"
               " halaman RKPD tahun itu"),
        "batas penyampaian pokok pikiran DPRD untuk RKPD %(year)d sudah lewat (%(day)s, seminggu sebelum Musrenbang"
        " Kota)":
            N_("batas penyampaian pokok pikiran DPRD untuk RKPD %(year)d sudah lewat (%(day)s, seminggu sebelum"
               " Musrenbang Kabupaten)"),
        "Musrenbang Kota tahun ini dijadwalkan: RKPD ditetapkan dengan menutupnya":
            N_("Musrenbang Kabupaten tahun ini dijadwalkan: RKPD ditetapkan dengan menutupnya"),
        "RKPD belum ditetapkan di Musrenbang Kota: belum ada daftar untuk diundangkan":
            N_("RKPD belum ditetapkan di Musrenbang Kabupaten: belum ada daftar untuk diundangkan"),
        "ada perubahan sejak penetapan terakhir: tetapkan dulu perubahannya di Musrenbang Kota":
            N_("ada perubahan sejak penetapan terakhir: tetapkan dulu perubahannya di Musrenbang Kabupaten"),
        "tanggal tidak boleh sebelum RKPD ini ditetapkan di Musrenbang Kota (%(day)s)":
            N_("tanggal tidak boleh sebelum RKPD ini ditetapkan di Musrenbang Kabupaten (%(day)s)"),
        "tanggal peraturan tidak boleh sebelum RKPD ini ditetapkan di Musrenbang Kota (%(day)s)":
            N_("tanggal peraturan tidak boleh sebelum RKPD ini ditetapkan di Musrenbang Kabupaten (%(day)s)"),
        "siklus RKPD %(year)d tidak dapat dibatalkan: sudah ada %(proposals)d usulan, %(forums)d musyawarah dan"
        " %(city)d catatan tingkat kota di dalamnya":
            N_("siklus RKPD %(year)d tidak dapat dibatalkan: sudah ada %(proposals)d usulan, %(forums)d musyawarah"
               " dan %(city)d catatan tingkat kabupaten di dalamnya"),
    },
    "kota": {
        "Musrenbang adalah musyawarah tahunan tempat warga mengusulkan apa yang dibutuhkan lingkungannya. Usulan"
        " dibahas di kelurahan atau desa, kecamatan dan kabupaten/kota, lalu yang disepakati masuk ke RKPD, rencana"
        " kerja tahunan Pemerintah %(city)s.":
            N_("Musrenbang adalah musyawarah tahunan tempat warga mengusulkan apa yang dibutuhkan lingkungannya."
               " Usulan dibahas di kelurahan atau desa, kecamatan dan kota, lalu yang disepakati masuk ke RKPD,"
               " rencana kerja tahunan Pemerintah %(city)s."),
        "APBD Kabupaten/Kota": N_("APBD Kota"),
    },
}
"""What a kabupaten's pages say where the shared text names the city level as a kota (or hedges,
"kabupaten/kota"), and a kota's where it hedges: a text as templates, labels and the domain's messages write
it (its msgid) -> the words of this kind of city, asked of the catalog in its place (`i18n.for_city`). So each
text keeps one msgid wherever it is written, and a kabupaten reads "Musrenbang Kabupaten" in both languages
on every page, its Berita Acara and feeds too. The stored codes (`musrenbang_kota`, `apbd_kota`) and the
addresses (`/rkpd/{year}/musrenbang-kota`) stay as they are."""
