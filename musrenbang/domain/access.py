"""Who may do what: roles and their scope. Pure.

- `admin` (Bappeda): everything.
- `facilitator`: scoped to one kelurahan, or one kecamatan (which covers its kelurahan).
- `opd`: scoped to one agency (its own lines, at city level).
- `auditor`: reads everything, changes nothing.
- `dprd`: a DPRD member, with their daerah pemilihan: enters and revises their own pokok-pikiran.
- `setwan`: the DPRD secretariat: checks the members' pokir for completeness, returns or forwards them.
"""

from __future__ import annotations

import msgspec

from musrenbang.domain.errors import N_, DomainError

ROLES = ("admin", "facilitator", "opd", "auditor", "dprd", "setwan")


class Forbidden(DomainError):
    code = "forbidden"


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    role: str
    region: str | None = None
    opd: str | None = None
    dapil: str | None = None
    """A DPRD member's daerah pemilihan."""


def covers(actor: Actor, region: str) -> bool:
    """Does the actor's scope include `region` (a kelurahan or kecamatan code)?"""
    if actor.role == "admin":
        return True
    if actor.role != "facilitator" or actor.region is None:
        return False
    return region == actor.region or region.startswith(actor.region + ".")


def require_region(actor: Actor, region: str) -> None:
    if not covers(actor, region):
        raise Forbidden(N_("akun ini tidak berwenang untuk wilayah ini"))


def require_role(actor: Actor, *roles: str) -> None:
    if actor.role not in roles:
        raise Forbidden(N_("akun ini tidak berwenang melakukan tindakan ini"))
