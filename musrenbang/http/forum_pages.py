"""Facilitators' screens for a forum: the session page (delegates, ballots typed row by row, consensus
scores, adjustments, open and close). The projector screen is in forum_screen.py, the Berita Acara in
berita_acara_pages.py."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from musrenbang.domain import bounds, values
from musrenbang.domain import cycle as cycle_rules
from musrenbang.domain import forum as rules
from musrenbang.domain.access import Actor, covers, require_region, require_role
from musrenbang.domain.errors import N_, DomainError, Message, NotFound, ValidationFailed
from musrenbang.domain.events import DelegateRegistered, ForumCancelled, ForumClosed, ForumOpened
from musrenbang.domain.values import parse_clock, parse_rupiah
from musrenbang.eventlog.store import ConcurrencyError, Metadata
from musrenbang.http import forum_forms
from musrenbang.http.city_context import city_of
from musrenbang.http.deps import ActorDep, ForumsDep, PoolDep, RunnerDep, StoreDep
from musrenbang.http.errors import NOT_OUR_FORM, BadForm
from musrenbang.http.forum_screen import score_heading
from musrenbang.http.guards import FACILITATORS
from musrenbang.http.i18n import translate
from musrenbang.http.labels import LEVEL_LABELS, RULE_LABELS
from musrenbang.http.notices import notify
from musrenbang.http.render import page
from musrenbang.reference import region, region_names, regions_within
from musrenbang.services import cycles
from musrenbang.services.forums import ForumService, new_forum_id


def _meta(actor: Actor) -> Metadata:
    return Metadata(actor=actor.username, role=actor.role)


async def _load_in_scope(forums: ForumService, forum_id: str, actor: Actor) -> rules.Forum:
    """The forum, if the account's role and region may run it: loaded first, so that a forum that does not
    exist is 404 to any account (the reason the role is checked here, not by a guard)."""
    forum, _ = await forums.load(forum_id.upper())
    require_role(actor, "admin", "facilitator")
    require_region(actor, forum.scheduled.region)
    return forum


def _first_day_open(state: cycle_rules.Cycle) -> tuple[str, dt.date]:
    """The level the form offers first and the day it offers: the first level whose stage's window is open
    (today) or still to come (its first day); today, and the form's first level, when none is. A form
    dated today outside the window was refused at its first sending."""
    today = cycles.today()
    for level in ("kelurahan", "kecamatan"):  # the city level's meetings are scheduled on the RKPD page
        window = state.calendar.get(cycle_rules.LEVEL_STAGE[level])
        if window is not None and not state.adopted and today <= window.closes:
            return level, max(today, window.opens)
    return "", today


async def _new_forum_page(request: Request, actor: Actor, pool: asyncpg.Pool, values: dict[str, str],
                          errors: dict[str, str], status: int = 200) -> Template:  # fmt: skip
    async with pool.acquire() as conn:
        choices = await regions_within(conn, actor.region or city_of(request).region)
    # Only the levels the account can schedule: one of a single kelurahan holds no Musrenbang Kecamatan.
    kinds = {r["tingkat"] for g in choices for r in g["regions"]}
    levels = [level for level in ("kelurahan", "kecamatan") if kinds & set(rules.LEVEL_REGIONS[level])]
    return page(request, "forum_new.html", status=status, actor=actor, errors=errors, values=values,
                choices=choices, RULES=RULE_LABELS, forum_id=values.get("forum_id") or new_forum_id(),
                levels=levels)  # fmt: skip


def _forum_id_of(form: Any) -> str:
    """The forum's id, chosen when the form was shown: the same form sent twice (a double tap, Back and
    send) names the same forum, which the second time exists already. Refused when it is no forum id."""
    forum_id = str(form.get("forum_id") or "")
    if not forum_id:  # sent by a script, not our page: a new forum each time
        return new_forum_id()
    try:
        if forum_id == values.normalize_code(forum_id):
            return forum_id
    except ValueError:
        pass
    raise BadForm(NOT_OUR_FORM)


async def _region_chosen(pool: asyncpg.Pool, actor: Actor, level: str, typed: str) -> str:
    """The region code a scheduling form chose: the option's code, or a name typed by hand (a form sent
    without the list) when exactly one region in the account's scope has it. ValidationFailed says why not
    (also for a name no region can have: a NUL, which PostgreSQL's text cannot even be asked about)."""
    try:
        typed = bounds.clean_text(typed, max_length=bounds.NAME)
    except ValueError as exc:
        raise ValidationFailed({"region": exc.args[0]}) from None
    async with pool.acquire() as conn:
        found = await conn.fetch(
            "SELECT kode, nama, tingkat FROM regions WHERE kode = $1 OR lower(nama) = lower($2)"
            " OR lower(tingkat || ' ' || nama) = lower($2) ORDER BY kode LIMIT 50",
            typed, re.sub(r"\s+", " ", typed),
        )  # fmt: skip
    if not typed:
        raise ValidationFailed({"region": N_("pilih wilayah musyawarah")})
    if not found:
        raise ValidationFailed({"region": Message(N_("wilayah «%(typed)s» tidak dikenal: pilih dari daftar"),
                                                  typed=typed[:60])})  # fmt: skip
    fitting = [r for r in found if r["tingkat"] in rules.LEVEL_REGIONS.get(level, ())]
    mine = [r for r in fitting if covers(actor, r["kode"])]
    if len(mine) == 1:
        return str(mine[0]["kode"])
    if len(mine) > 1:
        raise ValidationFailed({"region": Message(N_("ada %(count)d wilayah bernama «%(typed)s»: pilih dari daftar"),
                                                  count=len(mine), typed=typed[:60])})  # fmt: skip
    if not fitting:
        raise ValidationFailed({"region": rules.LEVEL_REGION_HINTS.get(level, N_("pilih wilayah musyawarah"))})
    raise ValidationFailed({"region": Message(N_("akun ini tidak berwenang untuk %(region)s"),
                                              region=f"{fitting[0]['tingkat']} {fitting[0]['nama']}")})  # fmt: skip


def _translated(request: Request, errors: dict[str, str]) -> dict[str, str]:
    return {field: translate(request, message) for field, message in errors.items()}


async def _session_page(request: Request, forums: ForumService, pool: asyncpg.Pool, forum: rules.Forum, actor: Actor,
                        *, entered: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                        form: str = "", status: int = 422) -> Template:  # fmt: skip
    """The session page; after a form with mistakes, that form as it was typed (`entered`) with each
    mistake beside its field (`errors`, keyed by field id), answered 422 (or `status`) with nothing written;
    an action refused as a whole has its reason under `errors["form"]`, shown at the top."""
    s = forum.scheduled
    ballots, sheets = await forums.ballots_and_sheets(s.forum_id)
    typed = {b.delegate_id: b for b in rules.latest(ballots)}
    numbers = {a.item_id: n for n, a in enumerate(forum.agenda, start=1)}
    consensus = {sheet.sheet: sheet for sheet in sheets}.get("konsensus")
    preview = await forums.agenda_preview(forum)  # scheduled: what opening now would put on the agenda
    # Who has voted or scored so far, shown above the close button, and why a close would be refused now.
    turnout = rules.turnout(forum, ballots, sheets) if forum.status == rules.OPEN else None
    # Before its day the forum is neither opened nor closed (`rules.check_held_day`): the page says from when.
    today = cycles.today()
    opens_on = s.held_on if forum.status == rules.SCHEDULED and s.held_on and today < s.held_on else None
    closing_refused = ""
    if turnout is not None:
        try:
            rules.check_held_day(s, today, closing=True)
            rules.check_someone_voted(forum, ballots, sheets)
        except DomainError as exc:
            closing_refused = translate(request, exc.message)
    async with pool.acquire() as conn:
        place = await region(conn, s.region)
        # A kecamatan's agenda holds its kelurahan's proposals, often alike ("Perbaikan jalan RW 1" from two
        # of them): each is named with its kelurahan, or a number typed on a paper ballot is a guess.
        shown = forum.agenda or preview
        kelurahan = {a.kelurahan for a in shown if a.kelurahan} if s.level != "kelurahan" else set()
        places = await region_names(conn, sorted(kelurahan)) if kelurahan else {}
    return page(
        request, "forum_session.html", status=status if errors else 200, forum=forum, s=s, place=place, numbers=numbers,
        places=places, preview=preview,
        typed={d: ",".join(str(numbers[i]) for i in (*b.approvals, *b.ranking, *b.points)) for d, b in typed.items()},
        consensus=consensus.marks if consensus else {}, standing=await forums.standing(forum), actor=actor,
        next_delegate=_next_delegate_id(forum), shown_row=forum_forms.shown_row, turnout=turnout,
        closing_refused=closing_refused, opens_on=opens_on, must_mandate=rules.must_mandate(forum),
        score_heading=score_heading(s), voted={*typed, *(x.sheet for x in sheets)},
        titles={a.item_id: a.title for a in forum.agenda}, entered=entered or {},
        errors=_translated(request, errors or {}), failed_form=form, STATUS=rules.STATUS_LABELS, RULES=RULE_LABELS,
        LEVEL_NAMES=LEVEL_LABELS,
    )  # fmt: skip


async def _refused(request: Request, forums: ForumService, pool: asyncpg.Pool, forum_id: str, actor: Actor,
                   exc: DomainError, form: str) -> Template:  # fmt: skip
    """An action of the page refused as a whole (the stage's window not open yet, the forum closed
    meanwhile): the forum's page again, as it is now, saying why — not an error page with no way back to
    it. The status stays what the refusal is (404 for what does not exist, else 409); nothing was written."""
    forum = await _load_in_scope(forums, forum_id, actor)
    status = 404 if isinstance(exc, NotFound) else 422 if isinstance(exc, ValidationFailed) else 409
    return await _session_page(request, forums, pool, forum, actor, errors={"form": exc.message}, form=form,
                               status=status)  # fmt: skip


def _back_to(forum: rules.Forum, anchor: str) -> Response:
    return Redirect(f"/forum/{forum.scheduled.forum_id}#{anchor}", status_code=303)


DELEGATE_FIELDS = ("name", "role", "represents", "gender")


def _next_delegate_id(forum: rules.Forum) -> str:
    """The id the form gives the next delegate: `p<n>` after those registered, skipping any taken (the API
    may have registered a `p3` or a `P3` of its own)."""
    taken = {d.casefold() for d in (*forum.delegates, *forum.withdrawn)}  # a withdrawn one's id stays taken
    n = len(forum.delegates) + len(forum.withdrawn) + 1
    while f"p{n}" in taken:
        n += 1
    return f"p{n}"


_FORM_DELEGATE_ID = re.compile(r"p[1-9][0-9]{0,5}")


def _same_delegate(known: DelegateRegistered, command: rules.RegisterDelegate) -> bool:
    """Whether `command` is what registered `known` (as stored: texts cleaned)."""
    try:
        typed = [bounds.clean_text(t, max_length=bounds.NAME) for t in (command.name, command.role, command.represents)]
    except ValueError:
        return False
    return typed == [known.name, known.role, known.represents] and command.gender == known.gender


def _taking_entries(forum: rules.Forum, closed: str) -> None:
    """Refuse a ballot or score form outright unless the forum is open: one with no row to save was
    answered "0 disimpan" on a closed forum."""
    if forum.status == rules.CLOSED:
        raise DomainError(closed)
    rules.not_cancelled(forum)
    if forum.status != rules.OPEN:
        raise DomainError(N_("musyawarah belum dibuka"))


ADJUST_FIELDS = {"item_id": "item_id", "reason": "adjust_reason", "agreed_cost": "agreed_cost",
                 "agreed_volume": "agreed_volume"}  # fmt: skip


FIX_FIELDS = ("name", "represents", "gender", "reason")
"""The correction form's fields, named `fix_<field>` (not `name`, ...: the registration form's fields keep their
names alone on the page); their ids are `fix_<delegate>_<field>`, one form per delegate's row. The withdrawal
form's reason is `out_reason`."""


def _fix_fields(delegate_id: str, errors: dict[str, str]) -> dict[str, str]:
    """A correction's or withdrawal's errors keyed by the ids of its row's fields."""
    return {f"fix_{delegate_id}_{field}": message for field, message in errors.items()}


CLOSING_UNDERSTOOD = "ya"
"""The value of the "Saya paham" checkbox that a closing form must carry: closing cannot be undone."""
CANCEL_FIELDS = {"reason": "cancel_reason", "understood": "cancel_understood"}
"""The cancellation form's fields by the command's (its ids differ from the close form's on the same page)."""


class NewForumPages(Controller):
    """Scheduling a forum: the form, and what it sends."""

    path = "/petugas/musyawarah/baru"
    include_in_schema = False

    @get("/", guards=[FACILITATORS])
    async def new_forum_form(self, request: Request, actor: ActorDep, store: StoreDep, pool: PoolDep) -> Template:
        year = await cycles.planned_year(store)
        level, held_on = _first_day_open(await cycles.load_cycle(store, year))
        values = {"region": actor.region or "", "year": str(year), "held_on": held_on.isoformat(), "starts_at": ""}
        if level:
            values["level"] = level
        return await _new_forum_page(request, actor, pool, values, {})

    @post("/", guards=[FACILITATORS])
    async def new_forum_submit(self, request: Request, actor: ActorDep, forums: ForumsDep, runner: RunnerDep,
                               pool: PoolDep) -> Response:  # fmt: skip
        form = await request.form()
        fields = ("level", "region", "year", "held_on", "starts_at", "title", "place", "chair", "ceiling", "rule")
        values = {k: str(form.get(k, "")).strip() for k in fields}
        values["forum_id"] = _forum_id_of(form)
        errors: dict[str, str] = {}
        ceiling = None
        try:  # digits grouped by dots in threes, ASCII only: "1.5" is no Rp 15, nor "٣٠٠" Rp 300
            ceiling = parse_rupiah(values["ceiling"])
        except ValueError:
            errors["ceiling"] = N_("tulis pagu dalam rupiah, misalnya 500000000")
        raw_year = values["year"]
        year = int(raw_year) if raw_year.isascii() and raw_year.isdigit() and len(raw_year) == 4 else 0
        if not year:
            errors["year"] = N_("pilih tahun RKPD")
        try:
            held_on: dt.date | None = dt.date.fromisoformat(values["held_on"])
        except ValueError:
            held_on = None
            errors["held_on"] = N_("tulis tanggal musyawarah, misalnya 2026-02-14")
        starts_at = None
        try:
            starts_at = parse_clock(values["starts_at"])
        except ValueError as exc:
            errors["starts_at"] = exc.args[0]
        region_code = ""
        if values["level"] not in rules.LEVELS:  # no region can be right for it: the level is what to fix
            errors["level"] = rules.LEVEL_UNKNOWN
        else:
            try:
                region_code = await _region_chosen(pool, actor, values["level"], values["region"])
            except ValidationFailed as exc:  # shown next to the field
                errors.update(exc.errors)
        if not errors:
            rule = values["rule"] or "weighted-criteria"
            command = rules.ScheduleForum(
                forum_id=values["forum_id"], level=values["level"], region=region_code, year=year,
                title=values["title"], held_on=held_on, place=values["place"], chair=values["chair"],
                ceiling=ceiling or 0, rule=rule, ballot_kind=None if rule == "weighted-criteria" else "approval",
                starts_at=starts_at,
            )  # fmt: skip
            try:
                result = await forums.schedule(command, _meta(actor))
            except ConcurrencyError:  # this form was sent before: the forum it scheduled is there
                return Redirect(f"/forum/{command.forum_id}", status_code=303)
            except ValidationFailed as exc:
                errors = dict(exc.errors)
            except (DomainError, NotFound) as exc:  # outside the level's window, or no such cycle
                errors = {"held_on": exc.message}
            else:
                await runner.wait_until_applied(["forums"], result.last)
                notice = Message(N_("Musyawarah «%(title)s» dijadwalkan"), title=command.title[:100])
                return notify(request, Redirect(f"/forum/{command.forum_id}", status_code=303),
                              translate(request, notice))  # fmt: skip
        if region_code:
            values["region"] = region_code
        return await _new_forum_page(request, actor, pool, values, _translated(request, errors), status=422)


class ForumSessionPages(Controller):
    """A forum's session page and its forms. The role is checked after the forum is loaded (`_load_in_scope`),
    not by a guard: a forum that does not exist is 404 to any account."""

    path = "/forum/{forum_id:str}"
    include_in_schema = False

    @get("/")
    async def session(self, request: Request, actor: ActorDep, forums: ForumsDep, pool: PoolDep,
                      forum_id: FromPath[str]) -> Template:  # fmt: skip
        return await _session_page(request, forums, pool, await _load_in_scope(forums, forum_id, actor), actor)

    @post("/peserta")
    async def add_delegate(self, request: Request, actor: ActorDep, forums: ForumsDep, pool: PoolDep,
                           runner: RunnerDep, forum_id: FromPath[str]) -> Response:  # fmt: skip
        """Register one delegate under the id the page chose when it was shown (`delegate_id`): the same form
        sent again (a double tap, a retry after a lost answer) finds its delegate registered and adds no
        second one; another tab's delegate under that id gets the next free one."""
        forum = await _load_in_scope(forums, forum_id, actor)
        form = await request.form()
        entered = {f"delegate_{k}": str(form.get(k, "")).strip() for k in DELEGATE_FIELDS}
        wanted = str(form.get("delegate_id", ""))
        for _ in range(5):
            known = forum.delegates.get(wanted)
            free = known is None and wanted.casefold() not in {d.casefold() for d in forum.delegates}
            command = rules.RegisterDelegate(
                delegate_id=wanted if _FORM_DELEGATE_ID.fullmatch(wanted) and free else _next_delegate_id(forum),
                name=entered["delegate_name"], role=entered["delegate_role"], represents=entered["delegate_represents"],
                gender=entered["delegate_gender"], same_name_confirmed=form.get("same_name_confirmed") == "1",
            )  # fmt: skip
            if known is not None and _same_delegate(known, command):
                return _back_to(forum, "peserta")  # sent before, and registered then
            try:
                result = await forums.register_delegates(forum.scheduled.forum_id, [command], _meta(actor))
            except ValidationFailed as exc:
                errors = {f"delegate_{field}": message for field, message in exc.errors.items()}
                return await _session_page(request, forums, pool, forum, actor, entered=entered, errors=errors,
                                           form="peserta")  # fmt: skip
            except (ConcurrencyError, DomainError) as exc:
                # Another delegate (or this one, sent twice at once) registered meanwhile: the twin finds its
                # delegate at the next turn; a refusal for anything else stands.
                forum = await _load_in_scope(forums, forum_id, actor)
                if isinstance(exc, DomainError) and command.delegate_id not in forum.delegates:
                    return await _refused(request, forums, pool, forum_id, actor, exc, "peserta")
                continue
            await runner.wait_until_applied(["forums"], result.last)
            return _back_to(forum, "peserta")
        raise ConcurrencyError([rules.stream_id(forum.scheduled.forum_id)])

    @post("/peserta/{delegate_id:str}/perbaiki")
    async def correct_delegate(self, request: Request, actor: ActorDep, forums: ForumsDep, pool: PoolDep,
                               runner: RunnerDep, forum_id: FromPath[str], delegate_id: FromPath[str]
                               ) -> Response:  # fmt: skip
        """Correct a delegate's name, whom they represent and gender, with the reason (the "Perbaiki" form of
        their row). Mistakes come back beside the row's fields, nothing written; the same correction sent
        again (a double tap) finds nothing to change and goes back to the list."""
        forum = await _load_in_scope(forums, forum_id, actor)
        form = await request.form()
        entered = {f"fix_{delegate_id}_{k}": str(form.get(f"fix_{k}", "")).strip() for k in FIX_FIELDS}
        command = rules.CorrectDelegate(
            delegate_id=delegate_id, name=entered[f"fix_{delegate_id}_name"],
            represents=entered[f"fix_{delegate_id}_represents"], gender=entered[f"fix_{delegate_id}_gender"],
            reason=entered[f"fix_{delegate_id}_reason"], same_name_confirmed=form.get("fix_same_name_confirmed") == "1",
        )  # fmt: skip
        known = forum.delegates.get(delegate_id)
        if known is not None and _same_delegate(known, rules.RegisterDelegate(
                delegate_id=delegate_id, name=command.name, role=known.role, represents=command.represents,
                gender=command.gender)):  # fmt: skip
            return _back_to(forum, f"peserta-{delegate_id}")  # nothing to change: sent before, or left as it was
        try:
            result = await forums.correct_delegate(forum.scheduled.forum_id, command, _meta(actor))
        except ValidationFailed as exc:
            return await _session_page(request, forums, pool, forum, actor, entered=entered,
                                       errors=_fix_fields(delegate_id, exc.errors), form=f"perbaiki-{delegate_id}")
        except (ConcurrencyError, DomainError) as exc:  # closed, or the delegate withdrawn, meanwhile
            if isinstance(exc, ConcurrencyError):
                exc = DomainError(N_("daftar peserta berubah sementara itu: periksa lalu kirim lagi"))
            return await _refused(request, forums, pool, forum_id, actor, exc, f"perbaiki-{delegate_id}")
        await runner.wait_until_applied(["forums"], result.last)
        notice = Message(N_("Data peserta %(name)s diperbaiki"), name=command.name[:100])
        return notify(request, _back_to(forum, f"peserta-{delegate_id}"), translate(request, notice))

    @post("/peserta/{delegate_id:str}/tarik")
    async def withdraw_delegate(self, request: Request, actor: ActorDep, forums: ForumsDep, pool: PoolDep,
                                runner: RunnerDep, forum_id: FromPath[str], delegate_id: FromPath[str]
                                ) -> Response:  # fmt: skip
        """Withdraw a delegate registered by mistake, with the reason (the "Tarik" form of their row): refused
        for one who voted or scored (their ballot counts: correct them instead), saying so at the top, nothing
        written. One this very form withdrew already (a double tap) goes back to the list."""
        forum = await _load_in_scope(forums, forum_id, actor)
        if delegate_id in forum.withdrawn:
            return _back_to(forum, "peserta")
        form = await request.form()
        entered = {f"out_{delegate_id}_reason": str(form.get("out_reason", "")).strip()}
        command = rules.WithdrawDelegate(delegate_id=delegate_id, reason=entered[f"out_{delegate_id}_reason"])
        try:
            result = await forums.withdraw_delegate(forum.scheduled.forum_id, command, _meta(actor))
        except ValidationFailed as exc:
            errors = {f"out_{delegate_id}_{field}": message for field, message in exc.errors.items()}
            return await _session_page(request, forums, pool, forum, actor, entered=entered, errors=errors,
                                       form=f"tarik-{delegate_id}")  # fmt: skip
        except (ConcurrencyError, DomainError) as exc:
            if isinstance(exc, ConcurrencyError):
                exc = DomainError(N_("daftar peserta berubah sementara itu: periksa lalu kirim lagi"))
            return await _refused(request, forums, pool, forum_id, actor, exc, f"tarik-{delegate_id}")
        await runner.wait_until_applied(["forums"], result.last)
        known = forum.delegates.get(delegate_id)
        notice = Message(N_("%(name)s ditarik dari daftar peserta"), name=(known.name if known else delegate_id)[:100])
        return notify(request, _back_to(forum, "peserta"), translate(request, notice))

    @post("/buka")
    async def open_forum(self, request: Request, actor: ActorDep, forums: ForumsDep, pool: PoolDep, runner: RunnerDep,
                         forum_id: FromPath[str]) -> Response:  # fmt: skip
        """Open; a forum this very form opened already (a double tap: the browser shows the second answer) is
        answered with its page, not an error; one that cannot be opened (its stage's window not open yet), with
        its page saying why."""
        forum = await _load_in_scope(forums, forum_id, actor)
        back = Redirect(f"/forum/{forum.scheduled.forum_id}", status_code=303)
        if forum.status == rules.OPEN:
            return back
        try:
            result = await forums.open(forum.scheduled.forum_id, _meta(actor))
        except (ConcurrencyError, DomainError) as exc:  # the twin tap opened it meanwhile: the rules say "sudah dibuka"
            if not await forums.has_recorded(forum.scheduled.forum_id, ForumOpened):
                if isinstance(exc, DomainError):
                    return await _refused(request, forums, pool, forum_id, actor, exc, "buka")
                raise
            return back
        await runner.wait_until_applied(["forums"], result.last)
        notice = translate(request, N_("Musyawarah dibuka: agenda, pagu dan aturan keputusan kini tetap"))
        return notify(request, back, notice)

    @post("/suara")
    async def type_ballots(self, request: Request, actor: ActorDep, forums: ForumsDep, pool: PoolDep,
                           runner: RunnerDep, forum_id: FromPath[str]) -> Response:  # fmt: skip
        """Paper ballots typed one delegate per row: agenda numbers separated by commas or spaces. A row with
        a mistake comes back marked, every row as typed, and nothing is saved until all rows are right."""
        forum = await _load_in_scope(forums, forum_id, actor)
        try:
            _taking_entries(forum, N_("musyawarah sudah ditutup; surat suara tidak diterima lagi"))
        except DomainError as exc:
            return await _refused(request, forums, pool, forum_id, actor, exc, "suara")
        commands, errors, typed = forum_forms.ballot_rows(forum, await request.form())
        if errors:
            return await _session_page(request, forums, pool, forum, actor, entered=typed, errors=errors, form="suara")
        if commands:  # the tally (projector, API) counts them once the page is back
            result = await forums.cast_ballots(forum.scheduled.forum_id, commands, _meta(actor))
            await runner.wait_until_applied(["forums"], result.last)
        notice = Message(N_("%(count)d surat suara disimpan"), count=len(commands))
        return notify(request, _back_to(forum, "suara"), translate(request, notice))

    @post("/nilai")
    async def consensus_scores(self, request: Request, actor: ActorDep, forums: ForumsDep, pool: PoolDep,
                               runner: RunnerDep, forum_id: FromPath[str]) -> Response:  # fmt: skip
        forum = await _load_in_scope(forums, forum_id, actor)
        try:
            _taking_entries(forum, N_("musyawarah sudah ditutup; nilai tidak diterima lagi"))
        except DomainError as exc:
            return await _refused(request, forums, pool, forum_id, actor, exc, "nilai")
        changes, changed, errors, typed = forum_forms.consensus_marks(forum, await request.form())
        if errors:
            return await _session_page(request, forums, pool, forum, actor, entered=typed, errors=errors, form="nilai")
        if changes:  # a form with no row changed writes nothing (an empty one no longer wipes the sheet)
            result = await forums.amend_scores(forum.scheduled.forum_id, "konsensus", changes, _meta(actor))
            await runner.wait_until_applied(["forums"], result.last)
        notice = Message(N_("Nilai %(count)d usulan disimpan"), count=changed)
        return notify(request, _back_to(forum, "nilai"), translate(request, notice))

    @post("/ubah")
    async def adjust_item(self, request: Request, actor: ActorDep, forums: ForumsDep, pool: PoolDep,
                          runner: RunnerDep, forum_id: FromPath[str]) -> Response:  # fmt: skip
        """Agree another cost or volume for an agenda item, with the reason; the original stays."""
        forum = await _load_in_scope(forums, forum_id, actor)
        form = await request.form()
        entered = {field: str(form.get(name, "")).strip() for name, field in ADJUST_FIELDS.items()}
        cost, volume, errors = values.parse_agreed(entered["agreed_cost"], entered["agreed_volume"])
        if not errors:
            command = rules.AdjustItem(item_id=entered["item_id"], reason=entered["adjust_reason"], agreed_cost=cost,
                                       agreed_volume=volume)  # fmt: skip
            try:
                result = await forums.adjust(forum.scheduled.forum_id, command, _meta(actor))
            except ValidationFailed as exc:
                errors = {ADJUST_FIELDS.get(field, field): message for field, message in exc.errors.items()}
            except NotFound as exc:  # an item not on the agenda
                errors = {"item_id": exc.message}
            except DomainError as exc:  # the forum not open (any more)
                return await _refused(request, forums, pool, forum_id, actor, exc, "ubah")
            else:
                await runner.wait_until_applied(["forums"], result.last)
                title = next((a.title for a in forum.agenda if a.item_id == command.item_id), command.item_id)
                notice = Message(N_("Perubahan untuk «%(title)s» disimpan"), title=title[:100])
                return notify(request, _back_to(forum, "ubah"), translate(request, notice))
        return await _session_page(request, forums, pool, forum, actor, entered=entered, errors=errors, form="ubah")

    @post("/mandat")
    async def mandate(self, request: Request, actor: ActorDep, forums: ForumsDep, pool: PoolDep,
                      runner: RunnerDep, forum_id: FromPath[str]) -> Response:  # fmt: skip
        forum = await _load_in_scope(forums, forum_id, actor)
        form = await request.form()
        chosen = tuple(str(d) for d in form.getall("delegates", []))
        try:
            result = await forums.mandate(forum.scheduled.forum_id, rules.MandateDelegates(delegate_ids=chosen),
                                          _meta(actor))  # fmt: skip
        except ValidationFailed as exc:
            entered = {f"mandate_{d}": "on" for d in chosen}
            errors = {"mandate": next(iter(exc.errors.values()))}
            return await _session_page(request, forums, pool, forum, actor, entered=entered, errors=errors,
                                       form="mandat")  # fmt: skip
        except DomainError as exc:
            return await _refused(request, forums, pool, forum_id, actor, exc, "mandat")
        await runner.wait_until_applied(["forums"], result.last)
        notice = translate(request, N_("Delegasi ke tingkat berikutnya ditetapkan"))
        return notify(request, _back_to(forum, "mandat"), notice)

    @post("/batal")
    async def cancel_forum(self, request: Request, actor: ActorDep, forums: ForumsDep, pool: PoolDep,
                           runner: RunnerDep, forum_id: FromPath[str]) -> Response:  # fmt: skip
        """Call the forum off, with the reason, once the form says the facilitator understood it cannot be
        undone (the checkbox); a forum this very form cancelled already (a double tap) is answered with its
        page. Mistakes come back beside their fields, nothing written."""
        forum = await _load_in_scope(forums, forum_id, actor)
        back = Redirect(f"/forum/{forum.scheduled.forum_id}", status_code=303)
        if forum.status == rules.CANCELLED:
            return back
        form = await request.form()
        entered = {"cancel_reason": str(form.get("reason", "")).strip()}
        errors = {} if form.get("understood") == CLOSING_UNDERSTOOD else {
            "cancel_understood": N_("centang dulu bahwa Anda paham: musyawarah yang dibatalkan tidak dapat dibuka"
                                    " lagi")}  # fmt: skip
        try:
            rules.decide(forum, rules.CancelForum(reason=entered["cancel_reason"]))  # every mistake at once
        except ValidationFailed as exc:
            errors.update({CANCEL_FIELDS.get(field, field): message for field, message in exc.errors.items()})
        except DomainError as exc:  # closed meanwhile
            return await _refused(request, forums, pool, forum_id, actor, exc, "batal")
        if errors:
            return await _session_page(request, forums, pool, forum, actor, entered=entered, errors=errors,
                                       form="batal")  # fmt: skip
        try:
            result = await forums.cancel(forum.scheduled.forum_id, rules.CancelForum(reason=entered["cancel_reason"]),
                                         _meta(actor))  # fmt: skip
        except (ConcurrencyError, DomainError) as exc:  # the twin tap cancelled it meanwhile: "sudah dibatalkan"
            if not await forums.has_recorded(forum.scheduled.forum_id, ForumCancelled):
                if isinstance(exc, DomainError):
                    return await _refused(request, forums, pool, forum_id, actor, exc, "batal")
                raise
            return back
        await runner.wait_until_applied(["forums", "lineage"], result.last)
        return notify(request, back, translate(request, N_("Musyawarah dibatalkan")))

    @post("/tutup")
    async def close_forum(self, request: Request, actor: ActorDep, forums: ForumsDep, pool: PoolDep,
                          runner: RunnerDep, forum_id: FromPath[str]) -> Response:  # fmt: skip
        """Close only when the form says the facilitator understood what closing means (the checkbox, required
        in the browser too): a stray tap on the button must not end a forum."""
        forum = await _load_in_scope(forums, forum_id, actor)
        minutes = Redirect(f"/forum/{forum.scheduled.forum_id}/berita-acara", status_code=303)
        if forum.status == rules.CLOSED:  # closed by this form already (a double tap): its Berita Acara, not an error
            return minutes
        form = await request.form()
        if form.get("understood") != CLOSING_UNDERSTOOD:
            errors = {"understood": N_("centang dulu bahwa Anda paham: musyawarah yang ditutup tidak dapat dibuka"
                                       " lagi")}  # fmt: skip
            return await _session_page(request, forums, pool, forum, actor, errors=errors, form="tutup")
        no_mandate = form.get("no_mandate") == CLOSING_UNDERSTOOD
        try:
            result = await forums.close(forum.scheduled.forum_id, _meta(actor), no_mandate_confirmed=no_mandate)
        # The twin tap closed it meanwhile: the rules say "sudah ditutup".
        except (ConcurrencyError, DomainError) as exc:
            if not await forums.has_recorded(forum.scheduled.forum_id, ForumClosed):
                if isinstance(exc, DomainError) and exc.message == rules.NO_MANDATE.get(forum.scheduled.level):
                    # Said beside the box that confirms it (nothing written): tick it, or mandate first.
                    return await _session_page(request, forums, pool, forum, actor, form="tutup", status=409,
                                               errors={"no_mandate": exc.message})  # fmt: skip
                if isinstance(exc, DomainError):
                    return await _refused(request, forums, pool, forum_id, actor, exc, "tutup")
                raise
            return minutes
        await runner.wait_until_applied(["forums", "proposals"], result.last)
        return minutes
