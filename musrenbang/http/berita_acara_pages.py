"""The printable Berita Acara of a closed forum, and the public page that checks a Berita Acara's log head
(the address its QR code carries)."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import asyncpg
import segno
from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import Template

from musrenbang.domain import forum as rules
from musrenbang.domain import rules as decision_rules
from musrenbang.domain import values
from musrenbang.domain.city import City
from musrenbang.domain.errors import N_, NotFound
from musrenbang.domain.events import ForumClosed
from musrenbang.eventlog.store import EventStore, RecordedEvent
from musrenbang.http.deps import ForumsDep, PoolDep, StoreDep
from musrenbang.http.labels import RULE_LABELS
from musrenbang.http.log_head import check_pasted_head, hash_problem, latest_seal, pasted_hash
from musrenbang.http.reads import FROM_REPLICA
from musrenbang.http.render import page
from musrenbang.projections import city as city_views
from musrenbang.projections import forums as forum_views
from musrenbang.reference import region


class BeritaAcaraPages(Controller):
    """Public: a Berita Acara is an open record, and its QR code is checked by whoever holds the paper."""

    path = "/"
    include_in_schema = False

    @get("/forum/{forum_id:str}/berita-acara")
    async def berita_acara(self, request: Request, forums: ForumsDep, store: StoreDep, pool: PoolDep,
                           forum_id: FromPath[str]) -> Template:  # fmt: skip
        forum, head = await forums.load(forum_id.upper())
        if forum.result is None:  # say why: a bare "page not found" reads as a wrong link or a lost forum
            raise NotFound(N_("Berita Acara belum ada: musyawarah ini belum ditutup. Berita Acara dibuat saat"
                              " musyawarah ditutup."))  # fmt: skip
        s = forum.scheduled
        closing = await _closing(store, s.forum_id, head.version)
        check_url, qr = check_link(request, closing.hash.hex())
        async with pool.acquire() as conn:
            place = await region(conn, s.region)
            # The agencies as the settings named them (and assigned each bidang) at the close: the document
            # does not change when the city reorganises its perangkat daerah later.
            city = await city_views.settings_as_of(conn, closing.global_position)
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
            RULES=RULE_LABELS, in_language="id",  # an official document: in Indonesian, as printed and signed
        )  # fmt: skip

    @get(["/periksa", "/periksa/{digest:str}"], dependencies=FROM_REPLICA)
    async def check_head_page(self, request: Request, pool: PoolDep) -> Template:
        """Anyone can check that the log still holds the head a Berita Acara printed, unchanged: an event's
        hash, or a seal's (then the seal's own event and the chain of seals up to it are checked here; the
        full check of every sealed event is `musrenbang verify --head`). `/periksa` alone is a form to paste
        one (`?hash=`); what cannot be a hash is refused with the reason (400) and never printed back."""
        typed = pasted_hash(str(request.path_params.get("digest") or request.query_params.get("hash") or ""))
        problem = hash_problem(typed) if typed else None
        if not typed or problem is not None:
            return page(request, "check_head.html", digest=None, typed=typed[:200], problem=problem,
                        status=400 if problem else 200)  # fmt: skip
        async with pool.acquire() as conn:
            checked = await check_pasted_head(conn, typed)
        return page(request, "check_head.html", digest=typed, typed=typed, problem=None, found=checked.found,
                    intact=checked.intact, sealed=checked.sealed, status=200 if checked.found else 404)  # fmt: skip


async def _closing(store: EventStore, forum_id: str, head_version: int) -> RecordedEvent:
    """The close is the forum's last event: read from the head, not the whole (60,000-delegate) stream."""
    events = await store.read_stream(rules.stream_id(forum_id), from_version=head_version)
    return [e for e in events if isinstance(e.event, ForumClosed)][0]


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
    if level == "kota":  # the city's own, by its code: Musrenbang Kabupaten in a kabupaten
        return "Musrenbang Kabupaten" if values.city_level(region_code) == "kabupaten" else "Musrenbang Kota"
    return {"kecamatan": "Musrenbang Kecamatan"}.get(level, level)


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
