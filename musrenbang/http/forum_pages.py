"""Facilitators' screens for a forum: the session page (delegates, ballots typed row by row, consensus
scores, adjustments, open and close), the projector screen with live ranking (Server-Sent Events), the
printable Berita Acara, and the public page that checks a Berita Acara's log head."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
import segno
from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, ServerSentEvent, Template

from musrenbang.domain import forum as rules
from musrenbang.domain import rules as decision_rules
from musrenbang.domain import values
from musrenbang.domain.access import Actor, Forbidden, require_region, require_role
from musrenbang.domain.city import City
from musrenbang.domain.errors import N_, DomainError, NotFound, ValidationFailed
from musrenbang.domain.events import ForumClosed
from musrenbang.eventlog import seal
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.eventlog.verify import check_head
from musrenbang.http.city_context import city_of
from musrenbang.http.i18n import translate
from musrenbang.http.log_head import latest_seal
from musrenbang.http.reads import FROM_REPLICA
from musrenbang.http.render import page
from musrenbang.http.stopping import Stopping
from musrenbang.projections import forums as forum_views
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.reference import region
from musrenbang.services import cycles
from musrenbang.services.forums import ForumService, new_forum_id


def _meta(actor: Actor) -> Metadata:
    return Metadata(actor=actor.username, role=actor.role)


async def _load_in_scope(forums: ForumService, forum_id: str, actor: Actor) -> rules.Forum:
    forum, _ = await forums.load(forum_id.upper())
    require_role(actor, "admin", "facilitator")
    require_region(actor, forum.scheduled.region)
    return forum


async def _standing(forums: ForumService, forum: rules.Forum) -> Any:
    """The closed result, or the provisional one from the ballots and scores so far."""
    if forum.result is not None:
        return forum.result
    if forum.status != rules.OPEN:
        return None
    ballots, sheets = await forums.ballots_and_sheets(forum.scheduled.forum_id)
    return rules.compute_result(forum, ballots, sheets)


@get("/petugas/musyawarah/baru", include_in_schema=False)
async def new_forum_form(request: Request, actor: Actor, store: EventStore) -> Template:
    require_role(actor, "admin", "facilitator")
    year = await cycles.planned_year(store)
    values = {"region": actor.region or "", "year": str(year), "held_on": cycles.today().isoformat()}
    return page(request, "forum_new.html", actor=actor, errors={}, values=values)


@post("/petugas/musyawarah/baru", include_in_schema=False)
async def new_forum_submit(request: Request, actor: Actor, forums: ForumService, runner: ProjectionRunner
                           ) -> Response:  # fmt: skip
    require_role(actor, "admin", "facilitator")
    form = await request.form()
    fields = ("level", "region", "year", "held_on", "title", "place", "chair", "ceiling", "rule")
    values = {k: str(form.get(k, "")).strip()[:400] for k in fields}
    errors: dict[str, str] = {}
    ceiling = None
    try:
        ceiling = int(re.sub(r"[.\s]", "", values["ceiling"].removeprefix("Rp").strip()))
    except ValueError:
        errors["ceiling"] = translate(request, N_("tulis pagu dalam rupiah, misalnya 500000000"))
    raw_year = values["year"]
    year = int(raw_year) if raw_year.isascii() and raw_year.isdigit() and len(raw_year) == 4 else 0
    if not year:
        errors["year"] = translate(request, N_("pilih tahun RKPD"))
    try:
        held_on: dt.date | None = dt.date.fromisoformat(values["held_on"])
    except ValueError:
        held_on = None
        errors["held_on"] = translate(request, N_("tulis tanggal musyawarah, misalnya 2026-02-14"))
    try:
        require_region(actor, values["region"])
    except Forbidden as exc:  # shown next to the field
        errors["region"] = translate(request, exc.message)
    if not errors:
        rule = values["rule"] or "weighted-criteria"
        command = rules.ScheduleForum(
            forum_id=new_forum_id(), level=values["level"], region=values["region"], year=year,
            title=values["title"], held_on=held_on, place=values["place"], chair=values["chair"], ceiling=ceiling or 0,
            rule=rule, ballot_kind=None if rule == "weighted-criteria" else "approval",
        )  # fmt: skip
        try:
            result = await forums.schedule(command, _meta(actor))
        except ValidationFailed as exc:
            errors = {f: translate(request, m) for f, m in exc.errors.items()}
        except (DomainError, NotFound) as exc:  # outside the level's window, or no such cycle
            errors = {"held_on": translate(request, exc.message)}
        else:
            await runner.wait_until_applied(["forums"], result.last)
            return Redirect(f"/forum/{command.forum_id}", status_code=303)
    return page(request, "forum_new.html", status=422, actor=actor, errors=errors, values=values)


@get("/forum/{forum_id:str}", include_in_schema=False)
async def session(request: Request, actor: Actor, forums: ForumService, pool: asyncpg.Pool, forum_id: str) -> Template:
    forum = await _load_in_scope(forums, forum_id, actor)
    s = forum.scheduled
    ballots, sheets = await forums.ballots_and_sheets(s.forum_id)
    typed = {b.delegate_id: b for b in rules.latest(ballots)}
    numbers = {a.item_id: n for n, a in enumerate(forum.agenda, start=1)}
    consensus = {sheet.sheet: sheet for sheet in sheets}.get("konsensus")
    async with pool.acquire() as conn:
        place = await region(conn, s.region)
    return page(
        request, "forum_session.html", forum=forum, s=s, place=place, numbers=numbers,
        typed={d: ",".join(str(numbers[i]) for i in (*b.approvals, *b.ranking, *b.points)) for d, b in typed.items()},
        consensus=consensus.marks if consensus else {}, standing=await _standing(forums, forum), actor=actor,
        titles={a.item_id: a.title for a in forum.agenda},
    )  # fmt: skip


@post("/forum/{forum_id:str}/peserta", include_in_schema=False)
async def add_delegate(request: Request, actor: Actor, forums: ForumService, forum_id: str) -> Response:
    forum = await _load_in_scope(forums, forum_id, actor)
    form = await request.form()
    command = rules.RegisterDelegate(
        delegate_id=f"p{len(forum.delegates) + 1}", name=str(form.get("name", "")).strip()[:200],
        role=str(form.get("role", "")).strip()[:100], represents=str(form.get("represents", "")).strip()[:200],
        gender=str(form.get("gender", ""))[:1] if form.get("gender") in ("P", "L") else "",
    )  # fmt: skip
    await forums.register_delegates(forum.scheduled.forum_id, [command], _meta(actor))
    return Redirect(f"/forum/{forum.scheduled.forum_id}#peserta", status_code=303)


@post("/forum/{forum_id:str}/buka", include_in_schema=False)
async def open_forum(request: Request, actor: Actor, forums: ForumService, forum_id: str) -> Response:
    forum = await _load_in_scope(forums, forum_id, actor)
    await forums.open(forum.scheduled.forum_id, _meta(actor))
    return Redirect(f"/forum/{forum.scheduled.forum_id}", status_code=303)


@post("/forum/{forum_id:str}/suara", include_in_schema=False)
async def type_ballots(request: Request, actor: Actor, forums: ForumService, forum_id: str) -> Response:
    """Paper ballots typed one delegate per row: agenda numbers separated by commas or spaces."""
    forum = await _load_in_scope(forums, forum_id, actor)
    form = await request.form()
    items = [a.item_id for a in forum.agenda]
    commands = []
    for delegate in forum.delegates:
        raw = str(form.get(f"b_{delegate}", "")).strip()
        if not raw or raw == str(form.get(f"was_{delegate}", "")).strip():
            continue
        try:
            chosen = [items[int(n) - 1] for n in re.split(r"[,\s]+", raw) if n]
        except (ValueError, IndexError):
            raise ValidationFailed({"ballot": N_("tulis nomor usulan dalam agenda, dipisah koma")}) from None
        if any(int(n) < 1 for n in re.split(r"[,\s]+", raw) if n):
            raise ValidationFailed({"ballot": N_("tulis nomor usulan dalam agenda, dipisah koma")})
        kind = forum.scheduled.ballot_kind
        if kind == "ordinal":
            commands.append(rules.CastBallot(delegate_id=delegate, ranking=tuple(chosen)))
        elif kind == "cumulative":
            commands.append(rules.CastBallot(delegate_id=delegate, points=dict(Counter(chosen))))
        else:
            commands.append(rules.CastBallot(delegate_id=delegate, approvals=tuple(dict.fromkeys(chosen))))
    if commands:
        await forums.cast_ballots(forum.scheduled.forum_id, commands, _meta(actor))
    return Redirect(f"/forum/{forum.scheduled.forum_id}#suara", status_code=303)


@post("/forum/{forum_id:str}/nilai", include_in_schema=False)
async def consensus_scores(request: Request, actor: Actor, forums: ForumService, forum_id: str) -> Response:
    forum = await _load_in_scope(forums, forum_id, actor)
    form = await request.form()
    marks: dict[str, dict[str, int]] = {}
    for item in forum.agenda:
        row = {c.key: str(form.get(f"m_{item.item_id}_{c.key}", "")) for c in forum.scheduled.criteria}
        if all(v.isascii() and v.isdigit() and len(v) <= 3 for v in row.values()):  # "²".isdigit() too
            marks[item.item_id] = {k: int(v) for k, v in row.items()}
    await forums.give_scores(forum.scheduled.forum_id, rules.GiveScores(sheet="konsensus", marks=marks), _meta(actor))
    return Redirect(f"/forum/{forum.scheduled.forum_id}#nilai", status_code=303)


@post("/forum/{forum_id:str}/ubah", include_in_schema=False)
async def adjust_item(request: Request, actor: Actor, forums: ForumService, forum_id: str) -> Response:
    """Agree another cost or volume for an agenda item, with the reason; the original stays."""
    forum = await _load_in_scope(forums, forum_id, actor)
    form = await request.form()
    cost, volume = str(form.get("agreed_cost", "")).strip(), str(form.get("agreed_volume", "")).strip()
    try:
        command = rules.AdjustItem(
            item_id=str(form.get("item_id", "")), reason=str(form.get("reason", ""))[:1000],
            agreed_cost=values.parse_rupiah(cost) if cost else None,
            agreed_volume=values.parse_decimal(volume, places=3) if volume else None,
        )  # fmt: skip
    except ValueError as exc:
        raise ValidationFailed({"agreed_cost": exc.args[0]}) from None
    await forums.adjust(forum.scheduled.forum_id, command, _meta(actor))
    return Redirect(f"/forum/{forum.scheduled.forum_id}#ubah", status_code=303)


@post("/forum/{forum_id:str}/mandat", include_in_schema=False)
async def mandate(request: Request, actor: Actor, forums: ForumService, forum_id: str) -> Response:
    forum = await _load_in_scope(forums, forum_id, actor)
    form = await request.form()
    chosen = tuple(str(d) for d in form.getall("delegates", []))
    await forums.mandate(forum.scheduled.forum_id, rules.MandateDelegates(delegate_ids=chosen), _meta(actor))
    return Redirect(f"/forum/{forum.scheduled.forum_id}#mandat", status_code=303)


@post("/forum/{forum_id:str}/tutup", include_in_schema=False)
async def close_forum(request: Request, actor: Actor, forums: ForumService, forum_id: str) -> Response:
    forum = await _load_in_scope(forums, forum_id, actor)
    await forums.close(forum.scheduled.forum_id, _meta(actor))
    return Redirect(f"/forum/{forum.scheduled.forum_id}/berita-acara", status_code=303)


# --- the projector --------------------------------------------------------------------------------------


@get("/forum/{forum_id:str}/layar", include_in_schema=False)
async def projector(request: Request, forums: ForumService, forum_id: str) -> Template:
    forum, _ = await forums.load(forum_id.upper())
    return page(request, "forum_screen.html", s=forum.scheduled, snapshot=await _snapshot(forums, forum))


async def _snapshot(forums: ForumService, forum: rules.Forum) -> dict[str, Any]:
    standing = await _standing(forums, forum)
    titles = {a.item_id: a.title for a in forum.agenda}
    rows = [] if standing is None else [
        {"rank": r.rank, "title": titles.get(r.item_id, r.item_id), "score": r.score, "cost": r.cost,
         "selected": r.selected} for r in standing.ranking
    ]  # fmt: skip
    return {"status": forum.status, "ceiling": forum.scheduled.ceiling, "spent": standing.spent if standing else 0,
            "ballots": standing.ballots if standing else 0, "rows": rows}  # fmt: skip


@get("/forum/{forum_id:str}/layar/aliran", include_in_schema=False)
async def projector_stream(forums: ForumService, store: EventStore, stopping: Stopping,
                           forum_id: str) -> ServerSentEvent:  # fmt: skip
    """A new snapshot whenever the forum's streams changed (checked every second), until it closes or the
    server stops (the screen's EventSource then reconnects by itself, to the server started again)."""
    forum_id = forum_id.upper()
    await forums.load(forum_id)

    async def snapshots() -> AsyncIterator[str]:
        last = None
        for _ in range(3600):
            marker = await forums.pool.fetchval(
                "SELECT max(global_position) FROM events WHERE stream_id LIKE $1", f"forum-{forum_id}%"
            )
            if marker != last:
                last = marker
                forum, _ = await forums.load(forum_id)
                yield msgspec.json.encode(await _snapshot(forums, forum)).decode()
                if forum.status == rules.CLOSED:
                    return
            if await stopping.pause(1):
                return

    return ServerSentEvent(snapshots())


# --- Berita Acara ---------------------------------------------------------------------------------------


@get("/forum/{forum_id:str}/berita-acara", include_in_schema=False)
async def berita_acara(request: Request, forums: ForumService, store: EventStore, pool: asyncpg.Pool,
                       forum_id: str) -> Template:  # fmt: skip
    forum, head = await forums.load(forum_id.upper())
    if forum.result is None:
        raise NotFoundException()
    s = forum.scheduled
    # The close is the forum's last event: read from the head, not the whole (60,000-delegate) stream.
    closing = [e for e in await store.read_stream(rules.stream_id(s.forum_id), from_version=head.version)
               if isinstance(e.event, ForumClosed)][0]  # fmt: skip
    check_url, qr = check_link(request, closing.hash.hex())
    city = city_of(request)
    async with pool.acquire() as conn:
        place = await region(conn, s.region)
        agreed = await _agreed_by_agency(conn, forum, city)
        td4 = await _kecamatan_priorities(conn, forum, city) if s.level == "kecamatan" else []
    items = {a.item_id: a for a in forum.agenda}
    genders = Counter(d.gender for d in forum.delegates.values())
    return page(
        request, "berita_acara.html", s=s, forum=forum, place=place, agreed=agreed, td4=td4,
        not_agreed=[(r, items[r.item_id]) for r in forum.result.ranking if not r.selected],
        genders=genders, delegates=list(forum.delegates.values()), head=closing, check_url=check_url,
        qr=qr, reasons=decision_rules.REASON_LABELS,
        seal=await latest_seal(pool, closing.global_position), level_name=_level_name(s.level, s.region),
    )  # fmt: skip


def check_link(request: Request, head_hash: str) -> tuple[str, str]:
    """The page that checks a Berita Acara's head, and its QR code (inline SVG). The address comes from
    configuration, never from the request's Host header, which the client chooses."""
    check_url = f"{request.app.state.settings.public_url}/periksa/{head_hash}"
    svg = io.BytesIO()
    segno.make(check_url, error="m").save(svg, kind="svg", scale=3, xmldecl=False, svgns=True)
    return check_url, svg.getvalue().decode()


def _level_name(level: str, region_code: str) -> str:
    """The forum as the regulation names it: a kelurahan-level forum in a desa is a Musrenbang Desa."""
    if level == "kelurahan":
        return "Musrenbang Desa" if values.village_level(region_code) == "desa" else "Musrenbang Kelurahan"
    return {"kecamatan": "Musrenbang Kecamatan", "kota": "Musrenbang Kabupaten/Kota"}.get(level, level)


async def _agreed_by_agency(conn: asyncpg.Connection, forum: rules.Forum, city: City) -> dict[str, list[Any]]:
    """The agreed items, grouped by the perangkat daerah that usually takes their bidang (indicative)."""
    assert forum.result is not None
    items = {a.item_id: a for a in forum.agenda}
    bidang = dict(await conn.fetch("SELECT code, bidang FROM proposals WHERE code = ANY($1::text[])",
                                   [a.proposal for a in forum.agenda if a.proposal]))  # fmt: skip
    agreed: dict[str, list[Any]] = {}
    for r in forum.result.ranking:
        if r.selected:
            a = items[r.item_id]
            agency = city.agency_name(city.agency_for(bidang.get(a.proposal or "", "")))
            agreed.setdefault(agency, []).append((r, a, forum.adjustments.get(r.item_id)))
    return agreed


async def _kecamatan_priorities(conn: asyncpg.Connection, forum: rules.Forum, city: City) -> list[dict[str, Any]]:
    """Table T-D.4 of a Musrenbang Kecamatan: its agreed items as the forum agreed them (volume after
    adjustment, cost as ranked), per perangkat daerah."""
    assert forum.result is not None
    items = {a.item_id: a for a in forum.agenda}
    selected = []
    for r in forum.result.ranking:
        a = items[r.item_id]
        if r.selected and a.proposal:
            adjusted = forum.adjustments.get(r.item_id)
            volume = adjusted.agreed_volume if adjusted and adjusted.agreed_volume else a.volume
            selected.append((a.proposal, r.cost, volume or "", a.unit or ""))
    rows = await forum_views.kecamatan_priorities(conn, forum.scheduled.year, selected, city.agency_for)
    return [{**row, "agency": city.agency_name(str(row["agency"]))} for row in rows]


@get("/periksa/{digest:str}", include_in_schema=False, dependencies=FROM_REPLICA)
async def check_head_page(request: Request, pool: asyncpg.Pool, digest: str) -> Template:
    """Anyone can check that the log still holds the head a Berita Acara printed, unchanged: an event's
    hash, or a seal's (then the seal's own event and the chain of seals up to it are checked here; the
    full check of every sealed event is `musrenbang verify --head`)."""
    digest = digest.strip().lower()
    async with pool.acquire() as conn:
        sealed = await seal.find(conn, digest) if len(digest) == 64 else None
        found, intact = await check_head(conn, sealed.event_hash if sealed else digest)
    return page(request, "check_head.html", digest=digest, found=found, intact=intact, sealed=sealed,
                status=200 if found else 404)  # fmt: skip
