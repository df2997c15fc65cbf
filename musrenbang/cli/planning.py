"""Setting the city up and opening each year's cycle: setup, cycle open, cycle list, cycle window,
cycle advance."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec

from musrenbang.cli.common import Failure, WholeNumber, database, prepare, run, settings_from_env, settings_in_force
from musrenbang.cli.group import main

T = TypeVar("T")


@main.command()
@click.option("--region", default=None, help="The kabupaten or kota: its Kemendagri code, e.g. 32.75 or 32.01.")
@click.option("--settings", "settings_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Its settings (TOML; see musrenbang/reference/kota_bekasi.toml). Default: Kota Bekasi's for"
                   " 32.75, generic ones for any other region.")  # fmt: skip
def setup(region: str | None, settings_file: Path | None) -> None:
    """Set the platform up for a kabupaten or kota: load its kecamatan, kelurahan and desa from the
    national Kemendagri table and record its settings. Run again with a changed file to change the
    settings (recorded, like every decision); the region of a database never changes."""
    from musrenbang import reference
    from musrenbang.domain import city as city_rules
    from musrenbang.domain.errors import DomainError, ValidationFailed

    try:
        command = reference.city_settings(region, settings_file)
    except reference.SettingsError as exc:
        raise Failure(str(exc)) from None
    settings = settings_from_env()
    with database(settings) as url:
        before = run(settings_in_force(url))
        try:
            run(prepare(url, command))
        except ValidationFailed as exc:
            raise Failure("; ".join(f"{field}: {message}" for field, message in exc.errors.items())) from None
        except DomainError as exc:
            if before is not None and before.region != command.region:  # what to do instead, said
                raise Failure(f"{exc.message} (a database is set up for one region for good: for"
                              f" {command.region}, run `musrenbang setup --region {command.region}` on a new data"
                              " directory, --data-dir, or an empty database)") from None  # fmt: skip
            raise Failure(exc.message) from None
        regions = run(_count_regions(url))
        stranded = run(_stranded(url, before, command)) if before is not None else []
    for note in stranded:
        click.echo(f"note: {note}", err=True)
    if settings_file is None and region not in (None, reference.DEFAULT_REGION):
        click.echo(f"note: generic settings used ({reference.GENERIC_SETTINGS.name}): Bappeda, common agency names"
                   " and no coordinate bounds narrower than Indonesia; write the city's own and run setup"
                   " --settings FILE again", err=True)  # fmt: skip
    click.echo(f"{command.name} ({command.region}): {regions['kecamatan']} kecamatan, {regions['kelurahan']}"
               f" kelurahan, {regions['desa']} desa; {len(command.agencies)} perangkat daerah;"
               f" planning agency {command.planning_agency_short}; days counted in"
               f" {command.timezone or city_rules.timezone_of(command.region)}")  # fmt: skip


async def _stranded(url: str, before: Any, after: Any) -> list[str]:
    """What a settings change left pointing at an agency code or dapil it removed: enabled accounts, and
    RKPD lines of a year not adopted (adoption refuses them until the code is back). Said, not refused: a
    reorganisation may retire an agency whose people are then disabled or given new accounts."""
    from musrenbang.db.connect import with_connection

    agencies = sorted({a.code for a in before.agencies} - {a.code for a in after.agencies})
    dapil = sorted({d.name for d in before.dapil} - {d.name for d in after.dapil})
    if not agencies and not dapil:
        return []

    async def look(conn: Any) -> list[str]:
        notes = []
        accounts = await conn.fetch(
            "SELECT username, coalesce(opd, dapil) AS scope FROM users WHERE disabled_at IS NULL"
            " AND (opd = ANY($1::text[]) OR dapil = ANY($2::text[])) ORDER BY username", agencies, dapil,
        )  # fmt: skip
        if accounts:
            listed = ", ".join(f"{r['username']} ({r['scope']})" for r in accounts)
            notes.append(f"these accounts belong to an agency or dapil the settings no longer have: {listed};"
                         " they cannot act for a new one until moved to it (musrenbang user move USERNAME"
                         " --opd CODE, or --dapil NAME)")  # fmt: skip
        lines = await conn.fetch(
            "SELECT l.year, l.line_id FROM rkpd_lines l LEFT JOIN rkpd_state s USING (year)"
            " WHERE l.agency = ANY($1::text[]) AND (s.revision IS NULL OR s.revision = 0 OR s.changed)"
            " ORDER BY l.year, l.line_id", agencies,
        )  # fmt: skip
        if lines:
            listed = ", ".join(f"RKPD {r['year']} {r['line_id']}" for r in lines[:10])
            notes.append(f"lines not adopted yet belong to an agency code the settings no longer have: {listed}"
                         f"{' …' if len(lines) > 10 else ''}; their year cannot be adopted until the code is"
                         " back (an agency renamed keeps its code: change its name only)")  # fmt: skip
        return notes

    return await with_connection(url, look)


async def _count_regions(url: str) -> dict[str, int]:
    from musrenbang.db.connect import with_connection

    async def count(conn: Any) -> dict[str, int]:
        rows = await conn.fetch("SELECT tingkat, count(*) AS n FROM regions GROUP BY tingkat")
        return {"kecamatan": 0, "kelurahan": 0, "desa": 0, **{r["tingkat"]: r["n"] for r in rows}}

    return await with_connection(url, count)


@main.group()
def cycle() -> None:
    """Planning cycles: one per RKPD year, with its calendar."""


@cycle.command("open")
@click.option("--year", type=WholeNumber(), required=True, help="The RKPD year (planned during the year before).")
@click.option("--theme", required=True, help="The year's theme (tema RKPD).")
@click.option("--programs", "programs_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="TOML: the priority programs, and optionally the calendar and the pagu"
                                  " indikatif per kecamatan (musrenbang/reference/siklus_contoh.toml).")  # fmt: skip
@click.option("--kickoff", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Day of the kick-off.")
def cycle_open(year: int, theme: str, programs_file: Path, kickoff: dt.datetime | None) -> None:
    """Open the cycle of an RKPD year: theme, priority programs, pagu indikatif per kecamatan and the
    calendar (each stage's first and last day; the common chain's months when the file gives none)."""
    from musrenbang.domain import cycle as rules

    plan = _read_plan(programs_file)
    given = plan.calendar_windows()

    async def work(store: Any) -> tuple[str, tuple[Any, ...]]:
        from musrenbang.eventlog.store import Metadata
        from musrenbang.services import city as city_service
        from musrenbang.services import cycles

        calendar = given or rules.default_calendar_for(year)  # refused on the year when it cannot be built
        city = await city_service.required(store)
        command = rules.StartCycle(
            year=year, region=city.region, theme=theme, priority_programs=tuple(p.title for p in plan.programs),
            priority_targets=tuple(p.target for p in plan.programs) if any(p.target for p in plan.programs) else (),
            kickoff_on=kickoff.date() if kickoff else None, calendar=calendar, pagu_kecamatan=plan.ceilings(),
            dana_kelurahan=plan.dana_kelurahan,
        )  # fmt: skip
        await cycles.open_cycle(store, command, Metadata(actor="cli", role="admin"))
        return city.name, calendar

    name, calendar = _with_store(work)
    click.echo(f"opened RKPD {year} for {name}; calendar:")
    for window in calendar:
        click.echo(f"  {window.stage:<17} {window.opens} .. {window.closes}")
    _warn_if_over(year, calendar)


def _warn_if_over(year: int, calendar: tuple[Any, ...]) -> None:
    """A calendar whose every stage has ended is let be (a past year recorded after the fact), but said:
    without a [calendar] in the file, RKPD 2024 opened in 2026 got the common chain's 2022-2023 months, and
    nobody could propose or hold a forum in it."""
    from musrenbang.services import cycles

    today = cycles.today()
    last = max((w.closes for w in calendar), default=None)
    if last is not None and last < today:
        click.echo(f"note: every stage of RKPD {year}'s calendar ended by {last}: nobody can propose or hold a"
                   " forum in it. If it is to run now, move its windows with `musrenbang cycle window` (the last"
                   " stage first), or open it with a [calendar] in the programs file", err=True)  # fmt: skip


@cycle.command("list")
def cycle_list() -> None:
    """Every cycle: its stage today and its calendar."""
    from musrenbang.services import cycles

    async def work(store: Any) -> list[tuple[Any, bool]]:
        return [(s, s.year is not None and not s.adopted and await cycles.forum_pd_closed(store, s.year))
                for s in await cycles.all_cycles(store)]  # fmt: skip

    states = _with_store(work)
    today = _today()  # after the database is prepared: the city's time zone is known then
    for state, pd_closed in states:
        click.echo(f"RKPD {state.year}: {state.stage_on(today)}  — {state.theme}")
        for stage, window in state.calendar.items():
            click.echo(f"  {stage:<17} {window.opens} .. {window.closes}  {_mark(state, stage, today, pd_closed)}")


def _mark(state: Any, stage: str, today: dt.date, forum_pd_closed: bool) -> str:
    """`open` where a stage is open today as the calendar shows it (`Cycle.shows_open`: the proposals as a
    submission judges them, no kelurahan or kecamatan stage after the Forum Perangkat Daerah); for the
    proposals, the day they end when that is the kelurahan stage's, before their own window's (a calendar
    recorded before the two were kept in order: `cycle window` says how to fix it)."""
    from musrenbang.domain import cycle as rules

    mark = "open" if state.shows_open(stage, today, forum_pd_closed=forum_pd_closed) else ""
    if stage != rules.SUBMISSIONS:
        return mark
    last = state.last_day(stage)
    if last is not None and last < state.calendar[stage].closes:
        mark = f"{mark}  (proposals only until {last}: the kelurahan stage ends then)".strip()
    return mark


@cycle.command("window")
@click.option("--year", type=WholeNumber(), required=True)
@click.option("--stage", required=True, type=click.Choice(["usulan", "kelurahan", "kecamatan", "perangkat_daerah",
                                                           "kota", "ditetapkan"]))  # fmt: skip
@click.option("--opens", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day (default: unchanged).")
@click.option("--closes", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last day.")
@click.option("--reason", required=True, help="Why (recorded with the change).")
def cycle_window(year: int, stage: str, opens: dt.datetime | None, closes: dt.datetime, reason: str) -> None:
    """Move a stage's window, most often to extend it; the reason is recorded."""
    from musrenbang.domain import cycle as rules
    from musrenbang.eventlog.store import Metadata
    from musrenbang.services import cycles

    async def work(store: Any) -> None:
        state = await cycles.load_cycle(store, year)
        first = opens.date() if opens else (state.calendar[stage].opens if stage in state.calendar else closes.date())
        command = rules.ChangeWindow(year=year, stage=stage, opens=first, closes=closes.date(), reason=reason)
        await cycles.change_window(store, command, Metadata(actor="cli", role="admin"))

    _with_store(work)
    click.echo(f"RKPD {year}: {stage} now until {closes.date()}")


@cycle.command("cancel")
@click.option("--year", type=WholeNumber(), required=True)
@click.option("--reason", required=True, help="Why (recorded with the withdrawal), e.g. the wrong year typed.")
def cycle_cancel(year: int, reason: str) -> None:
    """Withdraw a cycle opened by mistake, before any of its stages opened and while nothing was made in it
    (no proposal, forum or RKPD line): the year is as if never opened, and may be opened again."""
    from musrenbang.eventlog.store import Metadata
    from musrenbang.projections import all_projections
    from musrenbang.projections.runner import ProjectionRunner
    from musrenbang.services import cycles

    async def work(store: Any) -> None:
        # The read models are caught up here, by this process, before they are asked what the year holds.
        runner = ProjectionRunner(store.pool, all_projections())
        await cycles.cancel_cycle(store, runner, year, reason, Metadata(actor="cli", role="admin"))

    _with_store(work)
    click.echo(f"RKPD {year}: cycle cancelled; `musrenbang cycle open --year {year}` opens it again")


@cycle.command("advance")
@click.option("--year", type=WholeNumber(), required=True)
def cycle_advance(year: int) -> None:
    """Open the next stage today; the current one ends at the end of today (what came in today stays inside
    its window), not on the day it opened. Each window moved is recorded as a window change (the staff
    page and `GET /api/v1/cycles/{year}` list it) and printed."""
    from musrenbang.eventlog.store import Metadata
    from musrenbang.services import cycles

    async def work(store: Any) -> tuple[str, list[Any]]:
        before = (await cycles.load_cycle(store, year)).calendar
        await cycles.advance_stage(store, year, Metadata(actor="cli", role="admin"))
        after = await cycles.load_cycle(store, year)
        return after.stage_on(_today()), [w for s, w in after.calendar.items() if before.get(s) != w]

    stage, moved = _with_store(work)
    click.echo(f"RKPD {year}: now at {stage}")
    for window in moved:
        click.echo(f"  {window.stage:<17} {window.opens} .. {window.closes}  (moved)")


# --- the programs file -----------------------------------------------------------------------------------


class _Program(msgspec.Struct, forbid_unknown_fields=True):
    title: str
    target: str = ""


class _Plan(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    programs: list[_Program]
    calendar: dict[str, list[dt.date]] = {}
    pagu_kecamatan: dict[str, int] = {}
    dana_kelurahan: int | None = None
    """Dana Kelurahan per kelurahan for the year, in rupiah."""

    def calendar_windows(self) -> tuple[Any, ...]:
        from musrenbang.domain.events import StageWindow

        windows = []
        for stage, days in self.calendar.items():
            if len(days) != 2:
                raise Failure(f"calendar.{stage}: give [first day, last day], e.g. [2022-01-03, 2022-01-31]")
            windows.append(StageWindow(stage=stage, opens=days[0], closes=days[1]))
        return tuple(windows)

    def ceilings(self) -> tuple[Any, ...]:
        from musrenbang.domain.events import KecamatanCeiling

        return tuple(KecamatanCeiling(kecamatan=k, pagu=v) for k, v in self.pagu_kecamatan.items())


def _read_plan(path: Path) -> _Plan:
    try:
        return msgspec.convert(tomllib.loads(path.read_text(encoding="utf-8")), _Plan)
    except OSError as exc:
        raise Failure(f"cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise Failure(f"{path}: {exc}") from None


def _today() -> dt.date:
    from musrenbang.services.cycles import today

    return today()


def _with_store(work: Callable[[Any], Awaitable[T]]) -> T:
    """`work(store)` on the prepared database; a refusal of the domain becomes the command's error."""
    from musrenbang.db.connect import create_pool
    from musrenbang.domain.errors import DomainError, ValidationFailed
    from musrenbang.eventlog.store import EventStore

    async def go(url: str) -> T:
        pool = await create_pool(url, min_size=1, max_size=3)
        try:
            return await work(EventStore(pool))
        finally:
            await pool.close()

    settings = settings_from_env()
    with database(settings, new_cluster=False) as url:
        run(prepare(url))
        try:
            return run(go(url))
        except ValidationFailed as exc:
            raise Failure("; ".join(f"{field}: {message}" for field, message in exc.errors.items())) from None
        except DomainError as exc:
            raise Failure(exc.message) from None
