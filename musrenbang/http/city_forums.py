"""The city level's forums (issue 14, part 4): the Forum Perangkat Daerah and the Musrenbang Kota of a year
(domain/city_forums.py).

- JSON: `POST /api/v1/rkpd/{year}/forums/{forum}` schedules (again, before the close: reschedules),
  `POST .../close` closes with the minutes (closing `musrenbang_kota` adopts the RKPD), both Bappeda only;
  `GET .../forums/{forum}` is public: schedule, participants, agenda, status and, once closed, the Berita
  Acara. `forum` is `forum_pd` or `musrenbang_kota`.
- Public, printable: `/rkpd/{year}/forum-perangkat-daerah` and `/rkpd/{year}/musrenbang-kota`, the Berita
  Acara with the closing event's hash, the newest seal and a QR code to `/periksa/{hash}`.
- The staff forms live on `/petugas/rkpd/{year}` (city_pages.py); the form fields are read here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.response import Template

from musrenbang.domain import city_forums as rules
from musrenbang.domain import rkpd as rkpd_rules
from musrenbang.domain import values
from musrenbang.domain.errors import N_, Message, NotFound
from musrenbang.domain.events import ForumParticipant
from musrenbang.http.berita_acara_pages import check_link
from musrenbang.http.conversion_errors import ClockText, clock_time
from musrenbang.http.deps import ActorDep, PoolDep, RkpdDep, RunnerDep, Year
from musrenbang.http.guards import BAPPEDA
from musrenbang.http.idempotency import OptionalKey, keyed
from musrenbang.http.log_head import latest_seal
from musrenbang.http.reads import FROM_REPLICA
from musrenbang.http.render import page
from musrenbang.http.rkpd_api import CITY_PROJECTIONS, ConfirmOverPagu, Seen
from musrenbang.projections import cycles as cycle_views
from musrenbang.projections import rkpd as rkpd_views
from musrenbang.projections.rkpd import CityForum
from musrenbang.reference import region_names
from musrenbang.services import cycles as cycle_service

Name = Annotated[str, msgspec.Meta(max_length=200)]
FORM_KINDS = {"opd": "agency", "perangkat daerah": "agency", "agency": "agency", "dprd": "dprd",
              "kecamatan": "kecamatan", "delegasi": "kecamatan", "lainnya": "other", "other": "other"}  # fmt: skip
"""The words the schedule form takes for a participant's kind (`nama | jenis | mewakili`, one a line)."""
KIND_WORDS = {"agency": "opd", "dprd": "dprd", "kecamatan": "kecamatan", "other": "lainnya"}


class ParticipantIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    kind: Annotated[str, msgspec.Meta(max_length=20, description="agency | dprd | kecamatan | other")]
    represents: Annotated[str, msgspec.Meta(max_length=200, description="The agency's code (agency), the daerah"
                                            " pemilihan (dprd), the kecamatan (kecamatan)")] = ""  # fmt: skip


class ScheduleIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    held_on: dt.date
    starts_at: ClockText | None = None
    place: Name
    chair: Name
    participants: Annotated[list[ParticipantIn], msgspec.Meta(max_length=rules.MAX_PARTICIPANTS)]
    agenda: Annotated[list[Annotated[str, msgspec.Meta(max_length=300)]], msgspec.Meta(max_length=rules.MAX_AGENDA)]


class CloseIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    minutes: Annotated[str, msgspec.Meta(max_length=5000, description="Notulen: what the forum agreed")]
    seen: Seen = ""
    """The working list's `list_version` as the client reviewed it: the close freezes that list."""
    confirm_over_pagu: ConfirmOverPagu = False
    """Closing `musrenbang_kota` adopts: as the adoption's."""


def forum_or_404(forum: str) -> str:
    if forum not in rules.FORUMS:
        raise NotFoundException()
    return forum


def schedule_command(year: int, forum: str, data: ScheduleIn) -> rules.ScheduleCityForum:
    participants = tuple(rules.ParticipantInput(name=p.name, kind=p.kind, represents=p.represents)
                         for p in data.participants)  # fmt: skip
    return rules.ScheduleCityForum(year=year, forum=forum, held_on=data.held_on, place=data.place, chair=data.chair,
                                   participants=participants, agenda=tuple(data.agenda),
                                   starts_at=clock_time(data.starts_at))  # fmt: skip


async def _shown(pool: asyncpg.Pool, year: int, forum: str) -> CityForum:
    async with pool.acquire() as conn:
        found = await rkpd_views.city_forum(conn, year, forum)
    if found is None:
        raise NotFoundException()
    return found


class CityForumApi(Controller):
    path = "/api/v1/rkpd/{year:int}/forums/{forum:str}"
    tags = ["rkpd"]

    @get("/", summary="A city-level forum: schedule, participants, agenda and, once closed, its Berita Acara",
         dependencies=FROM_REPLICA)  # fmt: skip
    async def show(self, pool: PoolDep, year: Year, forum: FromPath[str]) -> CityForum:
        return await _shown(pool, year, forum_or_404(forum))

    @post("/", summary="Schedule (or reschedule, before its close) the Forum Perangkat Daerah or Musrenbang Kota"
          " (Bappeda)", status_code=200, guards=[BAPPEDA])  # fmt: skip
    async def schedule(self, request: Request, year: Year, forum: FromPath[str], data: JSONBody[ScheduleIn],
                       actor: ActorDep, rkpd: RkpdDep, runner: RunnerDep, pool: PoolDep,
                       idempotency_key: OptionalKey = None) -> CityForum:  # fmt: skip
        command = schedule_command(year, forum_or_404(forum), data)
        key, meta = keyed(request, actor, idempotency_key, data)
        result = await rkpd.execute(year, command, meta, key)
        await runner.wait_until_applied(list(CITY_PROJECTIONS), result.last)
        return await _shown(pool, year, forum)

    @post("/close", summary="Close a city-level forum with its minutes; closing Musrenbang Kota adopts the RKPD"
          " (Bappeda)", status_code=200, guards=[BAPPEDA])  # fmt: skip
    async def close(self, request: Request, year: Year, forum: FromPath[str], data: JSONBody[CloseIn], actor: ActorDep,
                    rkpd: RkpdDep, runner: RunnerDep, pool: PoolDep, idempotency_key: OptionalKey = None
                    ) -> CityForum:  # fmt: skip
        command = rules.CloseCityForum(year=year, forum=forum_or_404(forum), minutes=data.minutes,
                                       today=cycle_service.today(), seen=data.seen,
                                       confirm_over_pagu=data.confirm_over_pagu)  # fmt: skip
        key, meta = keyed(request, actor, idempotency_key, data)
        result = await rkpd.execute(year, command, meta, key)
        await runner.wait_until_applied(list(CITY_PROJECTIONS), result.last)
        return await _shown(pool, year, forum)


# --- the public Berita Acara ------------------------------------------------------------------------------


async def _berita_acara(request: Request, pool: asyncpg.Pool, name: str, forum: str) -> Template:
    if not (name.isascii() and name.isdigit() and len(name) == 4):
        raise NotFoundException()
    async with pool.acquire() as conn:
        shown = await rkpd_views.city_forum(conn, int(name), forum)
        if shown is None and await cycle_views.cycle_row(conn, int(name)) is not None:
            # say why, as for a kelurahan's or kecamatan's forum: a bare "page not found" reads as a wrong
            # link. (Scheduled and not closed, the page shows the schedule and says the same.)
            raise NotFound(N_("Berita Acara belum ada: musyawarah ini belum ditutup. Berita Acara dibuat saat"
                              " musyawarah ditutup."))  # fmt: skip
    if shown is None:  # no such year
        raise NotFoundException()
    # `held`: the meeting as the minutes name it before the city's name ("Musrenbang Kota Bekasi", not
    # "Musrenbang Kota Kota Bekasi"; "Musrenbang Kabupaten Bogor").
    context: dict[str, Any] = {"f": shown, "title": rules.FORUMS[forum], "kinds": rules.PARTICIPANT_KINDS,
                               "held": "Musrenbang" if forum == rules.MUSRENBANG_KOTA else rules.FORUMS[forum]}
    if shown.berita_acara is not None:
        ba = shown.berita_acara
        context["check_url"], context["qr"] = check_link(request, ba.head.hash)
        context["seal"] = await latest_seal(pool, ba.head.position)
        codes = {k for g in ba.agreed for x in g.lines for k in x.locations} | {x.kelurahan for x in ba.not_agreed}
        async with pool.acquire() as conn:
            context["places"] = await region_names(conn, sorted(codes))
        context["agency_name"] = lambda code: ba.agency_names.get(code, code)  # as the close named them
    return page(request, "city_berita_acara.html", in_language="id", **context)  # an official document: Indonesian


class CityBeritaAcaraPages(Controller):
    """Public: the printable Berita Acara of the year's two city-level forums (an open record, read from a
    replica when there is one)."""

    path = "/rkpd/{name:str}"
    include_in_schema = False

    @get("/forum-perangkat-daerah", dependencies=FROM_REPLICA)
    async def forum_pd_page(self, request: Request, pool: PoolDep, name: FromPath[str]) -> Template:
        return await _berita_acara(request, pool, name, rules.FORUM_PD)

    @get("/musrenbang-kota", dependencies=FROM_REPLICA)
    async def musrenbang_kota_page(self, request: Request, pool: PoolDep, name: FromPath[str]) -> Template:
        return await _berita_acara(request, pool, name, rules.MUSRENBANG_KOTA)


# --- the staff forms (on /petugas/rkpd/{year}, city_pages.py) ---------------------------------------------


SHOWN_SEPARATOR = "\u00a6"
"""¦ (broken bar): what the form shows for a `|` inside a participant's name or `represents` recorded before
the rules refused one (or a suggested delegate's name), so that the line still reads back into its fields."""


def participants_text(participants: list[ForumParticipant]) -> str:
    """One participant a line, as the form shows them: `nama | jenis | mewakili`."""
    return "\n".join(
        f"{_part(p.name)} | {KIND_WORDS.get(p.kind, p.kind)} | {_part(p.represents)}" for p in participants
    )


def _part(text: str) -> str:
    """A name or `represents` as the form shows it: on one line and without `|`, so it reads back into its field."""
    return " ".join(text.replace(rules.SEPARATOR, SHOWN_SEPARATOR).split())


def parse_participants(text: str) -> tuple[rules.ParticipantInput, ...]:
    """The form's lines back (a kind the form does not know goes on as typed, for the rules to refuse).

    >>> parse_participants("Budi | DPRD | Dapil 2\\n\\nSiti|kecamatan")[1]
    ParticipantInput(name='Siti', kind='kecamatan', represents='')
    """
    out = []
    for line in _lines(text)[: rules.MAX_PARTICIPANTS + 1]:
        name, kind, represents = ([part.strip() for part in line.split(rules.SEPARATOR, 2)] + ["", ""])[:3]
        out.append(rules.ParticipantInput(name=name, kind=FORM_KINDS.get(kind.casefold(), kind), represents=represents))
    return tuple(out)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _too_many_parts(text: str) -> str | None:
    """The message for the first participant written with more than three parts: which of its parts holds
    the extra `|` cannot be told, so the line is not read at all (its parts would land in the wrong fields)."""
    for n, line in enumerate(_lines(text)[: rules.MAX_PARTICIPANTS + 1], start=1):
        if line.count(rules.SEPARATOR) > 2:
            return Message(N_("peserta ke-%(n)d: tulis nama | jenis | mewakili, tanpa tanda | di dalam nama atau"
                              " isian mewakili"), n=n)  # fmt: skip
    return None


def _unknown_kind(participants: tuple[rules.ParticipantInput, ...]) -> str | None:
    """The message for the first participant whose kind is none of the form's words, in those words (the
    help text's): the rules' own refusal names the API's (agency … other), which the form does not show."""
    for n, p in enumerate(participants, start=1):
        if p.kind not in rules.PARTICIPANT_KINDS:
            return Message(N_("peserta ke-%(n)d: jenis peserta opd, dprd, kecamatan atau lainnya"), n=n)
    return None


FORM_FIELDS = ("held_on", "starts_at", "place", "chair", "participants", "agenda", "minutes")


async def read_form(request: Request) -> dict[str, str]:
    """The fields as typed, whole: the rules refuse what is too long (cut here, a name or the minutes were
    once kept shortened without a word)."""
    form = await request.form()
    return {name: str(form.get(name, "")).strip() for name in FORM_FIELDS}


def schedule_from_form(year: int, forum: str, entered: dict[str, str]
                       ) -> tuple[rkpd_rules.Command, dict[str, str]]:  # fmt: skip
    """The schedule form as a command, and the message of each field that could not be read (a date or a
    time not written as one, a participant's line of more than three parts): the command carries a stand-in
    there, which the caller must not record."""
    unreadable: dict[str, str] = {}
    try:
        held_on = dt.date.fromisoformat(entered["held_on"])
    except ValueError:
        held_on, unreadable["held_on"] = dt.date.today(), N_("tanggal tidak dapat dibaca; tulis seperti 2027-03-15")
    try:
        starts_at = values.parse_clock(entered["starts_at"])
    except ValueError:
        starts_at, unreadable["starts_at"] = None, N_("tulis jam mulai dengan jam dan menit, misalnya 09:00")
    participants = parse_participants(entered["participants"])
    if (parts := _too_many_parts(entered["participants"])) is not None:
        unreadable["participants"] = parts
    elif (kind := _unknown_kind(participants)) is not None:
        unreadable["participants"] = kind
    agenda = tuple(x.strip() for x in entered["agenda"].splitlines() if x.strip())
    command = rules.ScheduleCityForum(year=year, forum=forum, held_on=held_on, place=entered["place"],
                                      chair=entered["chair"], participants=participants, agenda=agenda,
                                      starts_at=starts_at)  # fmt: skip
    return command, unreadable


async def forum_forms(pool: asyncpg.Pool, year: int) -> dict[str, Any]:
    """Both forums as the staff page shows them, and what each schedule form starts with: the current
    schedule, or the city's agencies and the mandated kecamatan delegates with the usual agenda."""
    async with pool.acquire() as conn:
        forums = await rkpd_views.city_forums_of(conn, year)
        suggested = await rkpd_views.suggested_participants(conn, year)
    starts = {}
    for forum in rules.FORUMS:
        now = forums.get(forum)
        starts[forum] = {
            "held_on": now.held_on.isoformat() if now else cycle_service.today().isoformat(),
            "starts_at": now.starts_at.strftime("%H:%M") if now and now.starts_at else "",
            "place": now.place if now else "", "chair": now.chair if now else "",
            "participants": participants_text(now.participants if now else suggested),
            "agenda": "\n".join(now.agenda if now else rules.DEFAULT_AGENDA), "minutes": "",
        }  # fmt: skip
    keys = {name: str(uuid.uuid4()) for forum in rules.FORUMS for name in (forum, f"{forum}-tutup")}
    """Each form's idempotency key: the same form sent twice (a double tap, a refresh) is recorded once."""
    return {"forums": forums, "forum_values": starts, "forum_errors": {}, "FORUMS": rules.FORUMS,
            "FORUM_PAGES": rules.PAGES, "forum_keys": keys}  # fmt: skip
