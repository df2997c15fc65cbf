"""Pokok-pikiran DPRD (pokir): what a DPRD member heard at their reses, brought into the RKPD.

Permendagri 86/2017 (Pasal 178): the DPRD's pokir are problems and needs from the reses, delivered in
writing to Bappeda at the latest one week before the Musrenbang RKPD (here: the Musrenbang Kota window of
the cycle's calendar), checked by the DPRD secretariat for completeness, and taken up by the agencies at
the Forum Perangkat Daerah like the kecamatan forums' proposals (not through kelurahan verification).

A pokir is a proposal (domain/proposal.py) with `source` "pokir" and its `PokirFrom`: the same fields a
resident fills in, plus the member and the reses. Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Mapping

import msgspec

from musrenbang.domain import bounds, values
from musrenbang.domain.city import City
from musrenbang.domain.cycle import Cycle
from musrenbang.domain.errors import N_, DomainError, Message, ValidationFailed
from musrenbang.domain.events import PokirFrom
from musrenbang.domain.proposal import DIAJUKAN, DITERUSKAN_SETWAN, Proposal

DAYS_BEFORE_KOTA = 7
"""Pokir reach Bappeda at the latest one week before the Musrenbang RKPD (Permendagri 86/2017, Pasal 178)."""


class Member(msgspec.Struct, frozen=True, kw_only=True):
    """A DPRD member as their account says (`musrenbang user add --role dprd`)."""

    username: str
    name: str
    faction: str
    dapil: str


def deadline(cycle: Cycle) -> dt.date | None:
    """The last day a member may submit or revise a pokir for the cycle: a week before its Musrenbang
    Kota opens (None: a cycle without a calendar, open until its RKPD is adopted)."""
    window = cycle.calendar.get("kota")
    return window.opens - dt.timedelta(days=DAYS_BEFORE_KOTA) if window is not None else None


def check_open(cycle: Cycle, today: dt.date, *, year: int, forum_pd_closed: bool, revising: bool = False) -> None:
    """Whether a member may submit a pokir for `year`'s cycle today (`revising`: correct one the secretariat
    returned, which may still be done after the deadline, for the Forum Perangkat Daerah to have it). Never
    once the Forum Perangkat Daerah closed: the agencies take pokir up there, nowhere else. `year` names a
    cycle not opened (`cycle` is then empty), as a proposal's refusal does (services/cycles.py)."""
    if not cycle.exists:
        raise DomainError(Message(N_("siklus RKPD %(year)d belum dibuka"), year=year))
    if cycle.adopted:
        raise DomainError(Message(N_("RKPD %(year)d sudah ditetapkan: pokok pikiran tidak diterima lagi"),
                                  year=cycle.year))  # fmt: skip
    if forum_pd_closed:
        raise DomainError(Message(N_("Forum Perangkat Daerah RKPD %(year)d sudah ditutup: pokok pikiran tidak"
                                     " diterima lagi"), year=cycle.year))  # fmt: skip
    last = deadline(cycle)
    if not revising and last is not None and today > last:
        raise DomainError(Message(N_("batas penyampaian pokok pikiran DPRD untuk RKPD %(year)d sudah lewat (%(day)s,"
                                     " seminggu sebelum Musrenbang Kota)"), year=cycle.year,
                                  day=values.long_date(last)))  # fmt: skip


def check_answered(pokir: Mapping[str, Proposal], received: Container[str]) -> None:
    """Before a city forum closes or the RKPD is adopted, every pokir of the year has its answer: checked by
    the secretariat (none waiting), and each forwarded one taken up by the agencies (then decided like the
    forums' proposals). A returned one its member did not correct stops there, with the reason."""
    waiting = sorted(code for code, p in pokir.items() if p.status == DIAJUKAN)
    if waiting:
        raise DomainError(Message(N_("%(n)d pokok pikiran DPRD masih menunggu pemeriksaan Sekretariat DPRD,"
                                     " misalnya %(code)s"), n=len(waiting), code=waiting[0]))  # fmt: skip
    unreceived = sorted(code for code, p in pokir.items() if p.status == DITERUSKAN_SETWAN and code not in received)
    if unreceived:
        raise DomainError(Message(N_("%(n)d pokok pikiran DPRD sudah diteruskan tetapi belum diterima Forum Perangkat"
                                     " Daerah, misalnya %(code)s: terima dulu"), n=len(unreceived),
                                  code=unreceived[0]))  # fmt: skip


def pokir_from(member: Member, reses_on: dt.date | None, reses_place: str, *, year: int,
               today: dt.date) -> PokirFrom:  # fmt: skip
    """The member and reses as the log records them: a reses held, not to come, in the year before the
    RKPD's or the one before that (the DPRD's three reses a year feed the next year's plan)."""
    checks = bounds.Checks()
    checks.check("member", bounds.identifier, member.username)
    name = checks.text("member_name", member.name, bounds.NAME, required=True)
    faction = checks.text("faction", member.faction, bounds.NAME)
    dapil = checks.text("dapil", member.dapil, 60, required=True)
    place = checks.text("reses_place", reses_place, bounds.NAME, required=True)
    if reses_on is None:
        checks.fail("reses_on", N_("tanggal reses wajib diisi"))
    elif checks.check("reses_on", bounds.date, reses_on) is None:
        pass
    elif reses_on > today:
        checks.fail("reses_on", N_("tanggal reses tidak boleh di masa depan"))
    elif reses_on.year < year - 2:
        checks.fail("reses_on", Message(N_("reses untuk RKPD %(year)d diadakan paling awal tahun %(first)d"),
                                        year=year, first=year - 2))  # fmt: skip
    checks.done()
    if reses_on is None:  # reported above: for the type checker
        raise ValidationFailed({"reses_on": N_("tanggal reses wajib diisi")})
    return PokirFrom(member=member.username, member_name=name, faction=faction, dapil=dapil, reses_on=reses_on,
                     reses_place=place)  # fmt: skip


def check_place(city: City, dapil: str, kelurahan: str) -> None:
    """A member brings pokir from their own daerah pemilihan (when the city's settings say which kecamatan
    each has)."""
    if not city.dapil:
        return
    known = next((d for d in city.dapil if d.name == dapil), None)
    if known is None:
        raise DomainError(Message(N_("daerah pemilihan %(dapil)s tidak ada dalam pengaturan kota"), dapil=dapil))
    if values.kecamatan_of(kelurahan) not in known.kecamatan:
        raise ValidationFailed({"kelurahan": Message(N_("kelurahan ini di luar daerah pemilihan %(dapil)s"),
                                                     dapil=dapil)})  # fmt: skip
