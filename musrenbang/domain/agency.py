"""The city's agencies (perangkat daerah) and the funding sources of an RKPD line. Pure reference data.

Each agency lists the government affairs (urusan / bidang urusan, the `U.BB` head of a program code in the
Permendagri 90/2019 nomenclature) it carries out, so a sub-kegiatan code entered for it can be checked.
`BIDANG_AGENCY` is who takes a proposal of a bidang first at the Forum Perangkat Daerah; the agency
can pass it on.
"""

from __future__ import annotations

import msgspec

from musrenbang.domain.errors import N_


class Agency(msgspec.Struct, frozen=True):
    code: str
    name: str
    urusan: tuple[str, ...]


AGENCIES: dict[str, Agency] = {
    a.code: a
    for a in (
        Agency("DISDIK", "Dinas Pendidikan", ("1.01",)),
        Agency("DINKES", "Dinas Kesehatan", ("1.02",)),
        Agency("DBMSDA", "Dinas Bina Marga dan Sumber Daya Air", ("1.03",)),
        Agency("DISPERKIMTAN", "Dinas Perumahan, Kawasan Permukiman dan Pertanahan", ("1.04", "2.10")),
        Agency("SATPOLPP", "Satuan Polisi Pamong Praja", ("1.05",)),
        Agency("BPBD", "Badan Penanggulangan Bencana Daerah", ("1.05",)),
        Agency("DINSOS", "Dinas Sosial", ("1.06",)),
        Agency("DISNAKER", "Dinas Tenaga Kerja", ("2.07",)),
        Agency("DPPPA", "Dinas Pemberdayaan Perempuan dan Perlindungan Anak", ("2.08",)),
        Agency("DKPPP", "Dinas Ketahanan Pangan, Pertanian dan Perikanan", ("2.09", "3.25", "3.27")),
        Agency("DLH", "Dinas Lingkungan Hidup", ("2.11",)),
        Agency("DISHUB", "Dinas Perhubungan", ("2.15",)),
        Agency("DISKOMINFO", "Dinas Komunikasi, Informatika, Statistik dan Persandian", ("2.16", "2.20", "2.21")),
        Agency("DINKOPUKM", "Dinas Koperasi dan Usaha Kecil Menengah", ("2.17",)),
        Agency("DISPORA", "Dinas Kepemudaan dan Olahraga", ("2.19",)),
        Agency("DISBUDPAR", "Dinas Kebudayaan dan Pariwisata", ("2.22", "3.26")),
        Agency("DISDAGPERIN", "Dinas Perdagangan dan Perindustrian", ("3.30", "3.31")),
        Agency("SETDA", "Sekretariat Daerah", ("4.01",)),
    )
}

BIDANG_AGENCY = {
    "infrastruktur": "DBMSDA",
    "ekonomi": "DINKOPUKM",
    "pendidikan": "DISDIK",
    "kesehatan": "DINKES",
    "sosial_budaya": "DINSOS",
    "lingkungan_hidup": "DLH",
    "pemerintahan": "SETDA",
}

FUNDING_SOURCES = {
    "apbd_kota": N_("APBD Kota"),
    "apbd_provinsi": N_("APBD Provinsi"),
    "apbn": N_("APBN"),
    "dana_kelurahan": N_("Dana Kelurahan"),
}


def name_of(code: str) -> str:
    agency = AGENCIES.get(code)
    return agency.name if agency else code
