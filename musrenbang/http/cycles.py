"""Planning cycles over HTTP: the public calendar of every year (`GET /api/v1/cycles`), and Bappeda's
opening of a year and moving of its windows, as JSON (`CycleApi`) and as a staff page (`CyclePages`).

What the public sees is assembled in `projections.cycles.overview`; what Bappeda decides goes through
`services.cycles`, which reads the cycle from the log itself.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template

from musrenbang.domain import bounds, values
from musrenbang.domain import cycle as rules
from musrenbang.domain.access import Actor
from musrenbang.domain.errors import N_, DomainError, Message, NotFound, ValidationFailed
from musrenbang.domain.events import KecamatanCeiling, StageWindow
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.http.city_context import city_of
from musrenbang.http.deps import ActorDep, PoolDep, RunnerDep, StoreDep, Year
from musrenbang.http.guards import BAPPEDA
from musrenbang.http.i18n import translate
from musrenbang.http.idempotency import OptionalKey, keyed
from musrenbang.http.inputs import form_key
from musrenbang.http.reads import FROM_REPLICA
from musrenbang.http.render import page
from musrenbang.projections import cycles as cycle_views
from musrenbang.services import cycles


class WindowOut(msgspec.Struct, frozen=True):
    stage: str
    opens: dt.date
    closes: dt.date
    open: bool
    """Open today (the city's day)."""


class ProgramOut(msgspec.Struct, frozen=True):
    number: int
    title: str
    target: str


class WindowChangeOut(msgspec.Struct, frozen=True):
    stage: str
    opens: dt.date
    closes: dt.date
    reason: str
    changed_at: dt.datetime


class CycleOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    year: int
    theme: str
    stage: str
    """The stage the cycle is at today: the last whose window has opened, `ditetapkan` once adopted."""
    adopted: bool
    taking_proposals: bool
    """Whether a proposal for this year is accepted today: its "usulan" window open, but never once its
    Musrenbang Kelurahan/Desa stage is over, its Forum Perangkat Daerah closed or its RKPD adopted (the
    "usulan" window's `open` says the same)."""
    calendar: list[WindowOut]
    priority_programs: list[ProgramOut]
    window_changes: list[WindowChangeOut]
    """Every move of a window: Bappeda's, with their reason, and an advance's (`musrenbang cycle advance`,
    `POST /api/v1/cycles/{year}/stage`), with the reason "tahap berikutnya dimajukan"."""
    note: str | None = None
    """Only in the answer to an opening whose every window has ended (what `cycle open` prints)."""


class WindowIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    stage: Annotated[str, msgspec.Meta(max_length=20)]
    opens: dt.date
    closes: dt.date


class ProgramIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(max_length=400)]
    target: Annotated[str, msgspec.Meta(max_length=400)] = ""


class CeilingIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kecamatan: Annotated[str, msgspec.Meta(max_length=20)]
    pagu: Annotated[int, msgspec.Meta(ge=0, le=10**15)]


class CycleIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    year: Annotated[int, msgspec.Meta(ge=2000, le=2100)]
    theme: Annotated[str, msgspec.Meta(max_length=400)]
    priority_programs: Annotated[list[ProgramIn], msgspec.Meta(max_length=rules.MAX_PROGRAMS)]
    calendar: Annotated[list[WindowIn], msgspec.Meta(
        max_length=len(rules.STAGES), description="Every stage's first and last day (default: the common chain's"
        " months for the year)")] = []  # fmt: skip
    pagu_kecamatan: Annotated[list[CeilingIn], msgspec.Meta(max_length=rules.MAX_KECAMATAN)] = []
    kickoff_on: dt.date | None = None
    dana_kelurahan: Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1, description="Dana Kelurahan per"
                              " kelurahan for the year, rupiah: what a kelurahan's Dana Kelurahan lines may add up to;"
                              " refused where the region has no kelurahan")
                              ] | None = None  # fmt: skip


class WindowChangeIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    closes: dt.date
    reason: Annotated[str, msgspec.Meta(max_length=1000)]
    opens: dt.date | None = None
    """Default: the window's first day stays."""


class StageOut(msgspec.Struct, frozen=True):
    year: int
    stage: str


class CancelIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=1000)]


class CancelledOut(msgspec.Struct, frozen=True):
    year: int
    cancelled: bool
    reason: str


def _cycle_out(c: dict[str, Any]) -> CycleOut:
    return CycleOut(
        year=c["year"], theme=c["theme"], stage=c["stage"], adopted=c["adopted"], taking_proposals=c["taking"],
        calendar=[WindowOut(w["stage"], w["opens"], w["closes"], w["open"]) for w in c["calendar"]],
        priority_programs=[ProgramOut(p["number"], p["title"], p["target"]) for p in c["programs"]],
        window_changes=[WindowChangeOut(w["stage"], w["opens"], w["closes"], w["reason"], w["changed_at"])
                        for w in c["changes"]],
    )  # fmt: skip


def _noted_if_over(request: Request, opened: CycleOut) -> CycleOut:
    """A calendar whose every stage has ended is let be (a past year recorded after the fact) but said, as
    `cycle open` says it: without `calendar`, RKPD 2024 opened in 2026 got the common chain's 2022-2023
    months, and nobody could propose or hold a forum in it."""
    last = max((w.closes for w in opened.calendar), default=None)
    if last is None or last >= cycles.today():
        return opened
    note = Message(N_("setiap tahap kalender RKPD %(year)d sudah berakhir pada %(day)s: tidak ada yang dapat"
                      " mengusulkan atau mengadakan musyawarah di dalamnya. Bila siklus ini dijalankan sekarang,"
                      " geser jadwalnya (POST /api/v1/cycles/%(year)d/windows/{tahap}, tahap terakhir lebih"
                      " dulu)"), year=opened.year, day=values.long_date(last))  # fmt: skip
    return msgspec.structs.replace(opened, note=translate(request, note))


async def _one(pool: asyncpg.Pool, year: int) -> CycleOut:
    async with pool.acquire() as conn:
        found = await cycle_views.overview(conn, cycles.today(), year)
    if not found:
        raise NotFoundException()
    return _cycle_out(found[0])


async def _window_change(store: EventStore, year: int, stage: str, opens: dt.date | None, closes: dt.date,
                         reason: str, meta: Metadata, key: str | None = None) -> Any:  # fmt: skip
    """Move `stage`'s window of `year`; its first day stays unless `opens` is given."""
    if stage not in rules.STAGES:
        raise ValidationFailed({"stage": N_("tahap tidak dikenal")})
    state = await cycles.load_cycle(store, year)
    window = state.calendar.get(stage)
    first = opens or (window.opens if window is not None else closes)
    command = rules.ChangeWindow(year=year, stage=stage, opens=first, closes=closes, reason=reason)
    return await cycles.change_window(store, command, meta, key)


class CycleApi(Controller):
    path = "/api/v1/cycles"
    tags = ["cycles"]

    @get("/", summary="Every planning cycle, newest first: theme, stage today and calendar", dependencies=FROM_REPLICA)
    async def list_cycles(self, pool: PoolDep) -> list[CycleOut]:
        async with pool.acquire() as conn:
            return [_cycle_out(c) for c in await cycle_views.overview(conn, cycles.today())]

    @get("/{year:int}", summary="One planning cycle, with its priority programs and window changes",
         dependencies=FROM_REPLICA)  # fmt: skip
    async def one_cycle(self, pool: PoolDep, year: Year) -> CycleOut:
        return await _one(pool, year)

    @post("/", summary="Open the cycle of an RKPD year (Bappeda)", status_code=201, guards=[BAPPEDA],
          request_max_body_size=256 * 1024)  # fmt: skip
    async def open_cycle(self, request: Request, data: JSONBody[CycleIn], actor: ActorDep, store: StoreDep,
                         pool: PoolDep, runner: RunnerDep, idempotency_key: OptionalKey = None
                         ) -> CycleOut:  # fmt: skip
        """The calendar may be left out (the common chain's months); pagu indikatif must name kecamatan of
        the city. 409 when the year is open already."""
        key, meta = keyed(request, actor, idempotency_key, data)  # the body too: another cycle under the key is 409
        result = await cycles.open_planned(
            store, year=data.year, theme=data.theme, programs=[(p.title, p.target) for p in data.priority_programs],
            calendar=tuple(StageWindow(stage=w.stage, opens=w.opens, closes=w.closes) for w in data.calendar),
            pagu_kecamatan=tuple(KecamatanCeiling(kecamatan=c.kecamatan, pagu=c.pagu) for c in data.pagu_kecamatan),
            kickoff_on=data.kickoff_on, metadata=meta, idempotency_key=key, dana_kelurahan=data.dana_kelurahan,
        )  # fmt: skip
        await runner.wait_until_applied(["cycles"], result.last)
        return _noted_if_over(request, await _one(pool, data.year))

    @post("/{year:int}/windows/{stage:str}", summary="Move (most often: extend) a stage's window, with a reason"
          " (Bappeda)", status_code=200, guards=[BAPPEDA])  # fmt: skip
    async def change_window(self, request: Request, year: Year, stage: FromPath[str], data: JSONBody[WindowChangeIn],
                            actor: ActorDep, store: StoreDep, pool: PoolDep, runner: RunnerDep,
                            idempotency_key: OptionalKey = None) -> CycleOut:  # fmt: skip
        key, meta = keyed(request, actor, idempotency_key, data)  # other dates under the same key: 409
        result = await _window_change(store, year, stage, data.opens, data.closes, data.reason, meta, key)
        await runner.wait_until_applied(["cycles"], result.last)
        return await _one(pool, year)

    @post("/{year:int}/stage", summary="Open the next stage today, the current one ending at the end of today;"
          " each window moved is listed in window_changes (Bappeda)", status_code=200, guards=[BAPPEDA])  # fmt: skip
    async def advance_stage(self, request: Request, year: Year, actor: ActorDep, store: StoreDep,
                            runner: RunnerDep, idempotency_key: OptionalKey = None) -> StageOut:  # fmt: skip
        key, meta = keyed(request, actor, idempotency_key)
        result = await cycles.advance_stage(store, year, meta, key)
        await runner.wait_until_applied(["cycles"], result.last)
        return StageOut(year, (await cycles.load_cycle(store, year)).stage_on(cycles.today()))


    @post("/{year:int}/cancel", summary="Withdraw a cycle opened by mistake, while nothing (proposal, pokir, forum,"
          " city-level record) was made in its year (Bappeda); the year may then be opened again", status_code=200,
          guards=[BAPPEDA])  # fmt: skip
    async def cancel_cycle(self, request: Request, year: Year, data: JSONBody[CancelIn], actor: ActorDep,
                           store: StoreDep, runner: RunnerDep, idempotency_key: OptionalKey = None
                           ) -> CancelledOut:  # fmt: skip
        """404 for a year with no cycle; 409 once its RKPD is adopted or anything was made in the year."""
        key, meta = keyed(request, actor, idempotency_key, data)
        result = await cycles.cancel_cycle(store, runner, year, data.reason, meta, key)
        await runner.wait_until_applied(["cycles"], result.last)
        return CancelledOut(year=year, cancelled=True, reason=bounds.clean_text(data.reason, max_length=bounds.REASON))


# --- the staff page -------------------------------------------------------------------------------------

_PROGRAM_LINE = re.compile(r"\s*(?P<title>[^|]+?)\s*(?:\|\s*(?P<target>.*?)\s*)?$")
_CEILING_LINE = re.compile(r"\s*(?P<kode>[0-9.]{1,20})\s*[=:]\s*(?P<pagu>\S.{0,40}?)\s*$", re.ASCII)


def _programs(text: str, errors: dict[str, Any]) -> list[tuple[str, str]]:
    """One program per line, `judul | sasaran` (the sasaran may be left out); blank lines skipped, every
    other line read (the rules refuse more than MAX_PROGRAMS: none is dropped unseen)."""
    found = []
    for line in _filled_lines(text, rules.MAX_PROGRAMS):
        m = _PROGRAM_LINE.match(line)
        if m is None or not m["title"].strip():
            errors["programs"] = N_("tulis satu program per baris: judul | sasaran (sasaran boleh dikosongkan)")
            return []
        found.append((m["title"], m["target"] or ""))
    return found


def _filled_lines(text: str, most: int) -> list[str]:
    """The lines that are not blank, one more than `most` at most: enough for the rules to refuse too many."""
    return [line for line in text.splitlines() if line.strip()][: most + 1]


def ceiling_example(region: str) -> str:
    """A line of the pagu field as the city would write it: its first kecamatan's code (a kabupaten was shown
    Kota Bekasi's 32.75.01, which it refuses)."""
    return f"{region or '32.75'}.01 = 7500000000"


def _ceilings(text: str, errors: dict[str, Any], region: str) -> tuple[KecamatanCeiling, ...]:
    """One kecamatan per line, `kode = rupiah`, the amount read as every amount is (`values.parse_rupiah`):
    dots and spaces were once all dropped, so "7500000000.00" became a pagu a hundred times larger."""
    found = []
    for line in _filled_lines(text, rules.MAX_KECAMATAN):
        m = _CEILING_LINE.match(line)
        try:
            pagu = values.parse_rupiah(m["pagu"]) if m is not None else None
        except ValueError:
            pagu = None
        if m is None or pagu is None:
            errors["pagu_kecamatan"] = Message(N_("tulis satu kecamatan per baris: kode = rupiah, misalnya"
                                                  " %(example)s"), example=ceiling_example(region))  # fmt: skip
            return ()
        found.append(KecamatanCeiling(kecamatan=m["kode"], pagu=pagu))
    return tuple(found)


def _day(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        return None


def _calendar(form: dict[str, str], errors: dict[str, Any]) -> tuple[StageWindow, ...]:
    windows = []
    for stage in rules.STAGES:
        opens, closes = _day(form.get(f"opens_{stage}", "")), _day(form.get(f"closes_{stage}", ""))
        if opens is None or closes is None:
            errors[f"calendar.{stage}"] = N_("isi tanggal buka dan tutup")
            continue
        windows.append(StageWindow(stage=stage, opens=opens, closes=closes))
    return tuple(windows)


_FORM_FIELD = {"priority_programs": "programs", "priority_targets": "programs"}
"""The rules' fields that the form types elsewhere: a sasaran is typed on its program's line (its error was
once shown nowhere, a 422 without a word)."""
_SHOWN = {"year", "theme", "programs", "calendar", "pagu_kecamatan", "dana_kelurahan", "form"}


def _new_cycle_values(year: int) -> dict[str, str]:
    """The form for a new year: the common chain's dates to start from."""
    entered = {"year": str(year), "theme": "", "programs": "", "pagu_kecamatan": ""}
    for w in rules.default_calendar(year):
        entered[f"opens_{w.stage}"], entered[f"closes_{w.stage}"] = w.opens.isoformat(), w.closes.isoformat()
    return entered


class CyclePages(Controller):
    path = "/petugas/siklus"
    guards = [BAPPEDA]
    include_in_schema = False

    async def _page(self, request: Request, pool: asyncpg.Pool, actor: Actor, *, status: int = 200,
                    entered: dict[str, str] | None = None, errors: dict[str, Any] | None = None,
                    failed: str = "", window: dict[str, str] | None = None) -> Template:  # fmt: skip
        """`window`: what was typed in the window form that `failed`, shown again."""
        async with pool.acquire() as conn:
            overview = await cycle_views.overview(conn, cycles.today())
            # A cycle nothing was made in may be withdrawn (services/cycles.py); the form is offered for those.
            unmade = await cycle_views.withdrawable(conn, [int(str(c["year"])) for c in overview if not c["adopted"]])
            # Dana Kelurahan per kelurahan is asked for only where there are kelurahan (domain/cycle.py).
            offers_dana_kelurahan = await cycles.city_has_village(conn, city_of(request).region, "kelurahan")
        next_year = max((int(str(c["year"])) for c in overview), default=cycles.today().year) + 1
        # Each form's idempotency key: the same form sent twice (a double tap, a refresh) is recorded once.
        keys = {"open": str(uuid.uuid4()), **{f"{form}.{c['year']}": str(uuid.uuid4()) for c in overview
                                              for form in ("window", "cancel")}}  # fmt: skip
        return page(request, "cycles_staff.html", status=status, actor=actor, cycles=overview, withdrawable=unmade,
                    values=entered or _new_cycle_values(next_year), failed=failed, window=window or {},
                    errors={f: translate(request, m) for f, m in (errors or {}).items()}, keys=keys,
                    STAGES=rules.STAGES, WINDOWS=rules.WINDOW_LABELS, STAGE_LABELS=rules.STAGE_LABELS,
                    ADVANCED=rules.ADVANCED, DANA_KELURAHAN_OFFERED=offers_dana_kelurahan,
                    CEILING_EXAMPLE=ceiling_example(city_of(request).region))  # fmt: skip

    @get("/")
    async def cycles_page(self, request: Request, pool: PoolDep, actor: ActorDep) -> Template:
        return await self._page(request, pool, actor)

    @post("/", request_max_body_size=128 * 1024)
    async def open_from_form(self, request: Request, pool: PoolDep, actor: ActorDep, store: StoreDep,
                             runner: RunnerDep) -> Response:  # fmt: skip
        form = await request.form()
        entered = {k: str(v) for k, v in form.items() if isinstance(v, str)}  # the body is 128 KB at most
        errors: dict[str, Any] = {}
        raw_year = entered.get("year", "").strip()
        year = int(raw_year) if raw_year.isascii() and raw_year.isdigit() and len(raw_year) == 4 else 0
        if not year:
            errors["year"] = N_("tulis tahun RKPD, misalnya 2027")
        calendar = _calendar(entered, errors)
        ceilings = _ceilings(entered.get("pagu_kecamatan", ""), errors, city_of(request).region)
        programs = _programs(entered.get("programs", ""), errors)
        dana_kelurahan = None
        if entered.get("dana_kelurahan", "").strip():
            try:
                dana_kelurahan = values.parse_rupiah(entered["dana_kelurahan"])
            except ValueError as exc:
                errors["dana_kelurahan"] = exc.args[0]
        asked = {k: v for k, v in entered.items() if k not in ("_csrf_token", "idempotency_key")}
        key, meta = keyed(request, actor, form_key(form), asked)
        if not errors:
            try:
                result = await cycles.open_planned(
                    store, year=year, theme=entered.get("theme", ""), programs=programs, calendar=calendar,
                    pagu_kecamatan=ceilings, metadata=meta, dana_kelurahan=dana_kelurahan, idempotency_key=key,
                )  # fmt: skip
            except ValidationFailed as exc:
                errors = {}
                for f, m in exc.errors.items():  # each where the page shows it: none left unseen
                    shown = _FORM_FIELD.get(f, f if f.split(".")[0] in _SHOWN else "form")
                    errors.setdefault(shown, m)
            except DomainError as exc:
                errors = {"form": exc.message}
            else:
                await runner.wait_until_applied(["cycles"], result.last)
                return Redirect(f"/petugas/siklus#rkpd-{year}", status_code=303)
        return await self._page(request, pool, actor, status=422, entered=entered, errors=errors, failed="open")

    @post("/{year:int}/batal", request_max_body_size=16 * 1024)
    async def cancel_from_form(self, request: Request, pool: PoolDep, actor: ActorDep, store: StoreDep,
                               runner: RunnerDep, year: Year) -> Response:  # fmt: skip
        """Withdraw a cycle opened by mistake; refused (the page again, the reason beside the form) once
        anything was made in the year. A form of a page from before the cycle was withdrawn already: 404."""
        form = await request.form()
        reason = str(form.get("reason", ""))
        key, meta = keyed(request, actor, form_key(form), {"reason": reason})
        try:
            result = await cycles.cancel_cycle(store, runner, year, reason, meta, key)
        except NotFound:
            raise NotFoundException() from None  # no such cycle (withdrawn already): no section could say so
        except DomainError as exc:
            messages = exc.errors if isinstance(exc, ValidationFailed) else {"": exc.message}
            errors = {f"cancel.{year}": "; ".join(str(translate(request, m)) for m in messages.values())}
            return await self._page(request, pool, actor, status=422, errors=errors, failed=f"cancel.{year}")
        await runner.wait_until_applied(["cycles"], result.last)
        return Redirect("/petugas/siklus", status_code=303)

    @post("/{year:int}/jadwal", request_max_body_size=16 * 1024)
    async def move_window(self, request: Request, pool: PoolDep, actor: ActorDep, store: StoreDep,
                          runner: RunnerDep, year: Year) -> Response:  # fmt: skip
        form = await request.form()
        typed = {name: str(form.get(name, "")) for name in ("stage", "opens", "closes", "reason")}
        stage, typed_opens = typed["stage"], typed["opens"].strip()
        opens, closes = _day(typed_opens), _day(typed["closes"])
        key, meta = keyed(request, actor, form_key(form), typed)
        errors: dict[str, Any] = {}
        if closes is None:
            errors[f"window.{year}"] = N_("isi tanggal tutup yang baru")
        elif typed_opens and opens is None:  # left empty: the opening date stays; typed wrong: not a date
            errors[f"window.{year}"] = N_("tanggal buka tidak dapat dibaca")
        else:
            try:
                result = await _window_change(store, year, stage, opens, closes, typed["reason"], meta, key)
            except NotFound:
                raise NotFoundException() from None  # no such cycle: no section of the page could say so
            except DomainError as exc:
                messages = exc.errors if isinstance(exc, ValidationFailed) else {"": exc.message}
                errors = {f"window.{year}": "; ".join(str(translate(request, m)) for m in messages.values())}
            else:
                await runner.wait_until_applied(["cycles"], result.last)
                return Redirect(f"/petugas/siklus#rkpd-{year}", status_code=303)
        return await self._page(request, pool, actor, status=422, errors=errors, failed=f"window.{year}",
                                window=typed)  # fmt: skip

