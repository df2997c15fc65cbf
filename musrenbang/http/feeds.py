"""Atom feeds of public changes: a kelurahan's or desa's proposals (`/kelurahan/{kode}.atom`), a
kecamatan's (`/kecamatan/{kode}.atom`) and an RKPD year's adoptions, lines and their progress
(`/rkpd/{year}.atom`). The route handlers of those pages dispatch the `.atom` names here.

Each feed holds the newest 50 changes, worded as the tracking page words them, every entry linking to
the public page of what changed. Entry ids are tag URIs built from the event's global position, so they
never change; a feed answers with a weak ETag and Last-Modified, and 304 to a reader that has it already.

When is a copy current (`_not_modified`): If-None-Match, when sent, decides alone (RFC 9110 §13.1.3) — the
ETag is the document's hash, so it is exact. Otherwise If-Modified-Since answers 304 when no entry is of a
later second than its date. That is right only if the Last-Modified the reader was sent vouched for a whole
second: HTTP dates have no fraction, and an entry can still come in the very second of the newest one (or,
recorded a moment before it commits and before the projections catch up, a little later). So the
Last-Modified sent (`last_modified`) is the newest entry's second only once that second has been over for
SETTLE; before that it is the last second that has, and a reader asking with it is sent the feed again
(RFC 9110 §8.8.2.2: a date a validator was sent within its own second is weak). So that a reader just
after a change still gets a date it can use, a feed whose newest entry's second is not over yet is read
again once it is (`_settled`: a second and a half at most, only just after a change).
Only public fields are read (projections/feeds.py): no proposer's name or number can reach a feed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email.utils
import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import NotFoundException

from musrenbang.domain import proposal as proposal_rules
from musrenbang.domain import rules as decision_rules
from musrenbang.domain.errors import N_, Message, Term
from musrenbang.domain.values import grouped
from musrenbang.http.city_context import city_of
from musrenbang.http.i18n import day_in, language, translations
from musrenbang.http.labels import adoption_note, forum_level
from musrenbang.http.render import number, rupiah
from musrenbang.projections import feeds as feed_views
from musrenbang.reference import region

MEDIA_TYPE = "application/atom+xml; charset=utf-8"
_ATOM = "http://www.w3.org/2005/Atom"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TITLE_MAX = 160
SETTLE = dt.timedelta(seconds=0.5)
"""How long after a second no entry of it can still appear: an event's time is taken a moment before it
commits, and the projections read here catch up on the commit's notification."""

MILESTONE_LABELS = {
    "kua_ppas": "KUA-PPAS",
    "apbd": "APBD",
    "dpa": "DPA",
    "kontrak": N_("Kontrak"),
    "pelaksanaan": N_("Pelaksanaan %(progress)s%%"),
    "selesai": N_("Selesai"),
    "batal": N_("Dibatalkan"),
}


def _one_or_other(singular: str, plural: str, n: int) -> str:
    """A plural message without a catalog (the source language's own words)."""
    return singular if n == 1 else plural


@dataclasses.dataclass(frozen=True)
class Words:
    """What a feed's texts need: the reader's language, its gettext and ngettext (`plurals`), and the
    city's agency names."""

    lang: str
    gettext: Callable[[str], str]
    agency_name: Callable[[str], str]
    plurals: Callable[[str, str, int], str] = _one_or_other

    def __call__(self, message: str, **params: object) -> str:
        text = self.gettext(message)
        return text % params if params else text

    def ngettext(self, singular: str, plural: str, num: int, **params: object) -> str:
        """A message that says a count, `%(num)d`, in the form the reader's language gives it, the count
        grouped as every other figure (as the pages write it: http/i18n.Grouped)."""
        text = self.plurals(singular, plural, num).replace("%(num)d", grouped(num))
        return text % params if params else text

    def day(self, day: dt.date | str | None) -> str:
        if day is None or day == "":
            return ""
        d = dt.date.fromisoformat(day) if isinstance(day, str) else day
        return day_in(self.gettext, d)


@dataclasses.dataclass(frozen=True)
class Entry:
    id: str
    title: str
    updated: dt.datetime
    link: str
    content: str


@dataclasses.dataclass(frozen=True)
class Feed:
    id: str
    title: str
    subtitle: str
    self_link: str
    page_link: str
    author: str
    lang: str
    since: dt.datetime
    """When what the feed follows began (a year's cycle opened; for a place, the first cycle): its
    `updated` while it has no entry yet."""


# --- the three feeds --------------------------------------------------------------------------------


async def kelurahan_feed(request: Request, pool: asyncpg.Pool, kode: str) -> Response:
    """`/kelurahan/{kode}.atom` (`kode` without the suffix): the newest changes of the kelurahan's or
    desa's proposals, every year's. 404 for a code that is no kelurahan or desa."""
    return await _region_feed(request, pool, kode.removesuffix(".atom"), ("kelurahan", "desa"))


async def kecamatan_feed(request: Request, pool: asyncpg.Pool, kode: str) -> Response:
    """`/kecamatan/{kode}.atom`: the newest changes of the proposals of every kelurahan and desa in it."""
    return await _region_feed(request, pool, kode.removesuffix(".atom"), ("kecamatan",))


async def rkpd_feed(request: Request, pool: asyncpg.Pool, year: int) -> Response:
    """`/rkpd/{year}.atom`: the year's adoptions, its lines' milestones after adoption, and what happened
    to its proposals at the city level. 404 for a year with no cycle."""
    words = _words(request)
    base = _public_url(request)
    async with pool.acquire() as conn:
        since = await feed_views.year_started(conn, year)
    if since is None:
        raise NotFoundException()

    async def read() -> list[feed_views.Change]:
        async with pool.acquire() as conn:
            return await feed_views.rkpd_changes(conn, year)

    changes = await _with_forum_regions(pool, await _settled(read))
    feed = Feed(
        id=f"{base}/rkpd/{year}.atom", title=words(N_("Kabar RKPD %(year)s"), year=year),
        subtitle=words(N_("Penetapan RKPD %(year)s, pelaksanaan baris-barisnya, dan nasib usulan warga di tingkat"
                          " kota"), year=year),
        self_link=_with_lang(f"{base}/rkpd/{year}.atom", words.lang), page_link=f"{base}/rkpd/{year}",
        author=_author(request), lang=words.lang, since=since,
    )  # fmt: skip
    return _respond(request, feed, entries(changes, words, base))


async def _region_feed(request: Request, pool: asyncpg.Pool, kode: str, levels: tuple[str, ...]) -> Response:
    words = _words(request)
    base = _public_url(request)
    async with pool.acquire() as conn:
        place = await region(conn, kode)
        if place is None or place["tingkat"] not in levels:
            raise NotFoundException()
        since = await feed_views.city_started(conn)
    whole_kecamatan = place["tingkat"] == "kecamatan"

    async def read() -> list[feed_views.Change]:
        async with pool.acquire() as conn:
            if whole_kecamatan:
                return await feed_views.region_changes(conn, kecamatan=kode)
            return await feed_views.region_changes(conn, kelurahan=kode)

    changes = await _with_forum_regions(pool, await _settled(read))
    level = {"kelurahan": N_("Kelurahan"), "desa": N_("Desa"), "kecamatan": N_("Kecamatan")}[place["tingkat"]]
    name = f"{words(level)} {place['nama']}"
    path = f"/{'kecamatan' if place['tingkat'] == 'kecamatan' else 'kelurahan'}/{kode}"
    feed = Feed(
        id=f"{base}{path}.atom", title=words(N_("Kabar usulan %(place)s"), place=name),
        subtitle=words(N_("Perubahan terbaru pada usulan warga %(place)s: verifikasi, musyawarah, RKPD"),
                       place=name),
        self_link=_with_lang(f"{base}{path}.atom", words.lang), page_link=f"{base}{path}", author=_author(request),
        lang=words.lang, since=since,
    )  # fmt: skip
    return _respond(request, feed, entries(changes, words, base))


async def _settled(read: Callable[[], Awaitable[list[feed_views.Change]]]) -> list[feed_views.Change]:
    """The changes `read` reads, read again once the newest one's second is over (and SETTLE more), when it
    is not yet: so that the Last-Modified sent can be that second (`last_modified`), and a reader asking
    with it gets 304 as long as nothing newer came. Waits a second and a half at most, only just after a
    change; an entry dated later than that (a clock ahead) is not waited for."""
    changes = await read()
    if not changes:
        return changes
    newest_at = max(c.at for c in changes).astimezone(dt.UTC)
    wait = (newest_at.replace(microsecond=0) + dt.timedelta(seconds=1) + SETTLE - dt.datetime.now(dt.UTC))
    if dt.timedelta(0) < wait <= dt.timedelta(seconds=1) + SETTLE:
        await asyncio.sleep(wait.total_seconds())
        changes = await read()
    return changes


async def _with_forum_regions(pool: asyncpg.Pool, changes: list[feed_views.Change]) -> list[feed_views.Change]:
    """A forum's decision with the forum's region beside its level (`region`), so that one held in a desa is
    written as a Musrenbang Desa (`labels.forum_level`), as the tracking page writes it."""
    ids = sorted({c.details.get("forum_id", "") for c in changes if c.kind == "proposal.decided_at_forum"})
    if not ids:
        return changes
    async with pool.acquire() as conn:
        regions = dict(await conn.fetch("SELECT forum_id, region FROM forums WHERE forum_id = ANY($1::text[])", ids))
    return [msgspec.structs.replace(c, details={**c.details, "region": regions[c.details["forum_id"]]})
            if c.kind == "proposal.decided_at_forum" and c.details.get("forum_id") in regions else c
            for c in changes]  # fmt: skip


def _words(request: Request) -> Words:
    catalog = translations(request)
    return Words(language(request), catalog.gettext, city_of(request).agency_name, catalog.ngettext)


def _public_url(request: Request) -> str:
    return str(request.app.state.settings.public_url).rstrip("/")


def _author(request: Request) -> str:
    city = city_of(request)
    return f"Musrenbang {city.name}".strip()


def _with_lang(url: str, lang: str) -> str:
    return url if lang == "id" else f"{url}?lang={lang}"


# --- entries --------------------------------------------------------------------------------------


def entries(changes: Sequence[feed_views.Change], words: Words, base: str) -> list[Entry]:
    """The feed's entries, in the order of `changes` (newest first)."""
    return [_entry(c, words, base) for c in changes]


def _entry(c: feed_views.Change, words: Words, base: str) -> Entry:
    if c.source == feed_views.ADOPTION:
        title = words(N_("RKPD %(year)s ditetapkan (revisi %(n)s)"), year=c.year, n=c.details["revision"])
        content = words(N_("%(lines)s baris, total pagu %(pagu)s"), lines=c.details["lines"],
                        pagu=rupiah(c.details["total_pagu"]))  # fmt: skip
        if c.details["note"]:
            content += f" — {_message(words, adoption_note(c.details['note']))}"
        return Entry(_tag(base, c.at, f"rkpd/{c.year}/penetapan/{c.position}"), title, c.at, f"{base}/rkpd/{c.year}",
                     content)  # fmt: skip
    if c.source == feed_views.ENACTMENT:
        title = words(N_("RKPD %(year)s diundangkan (revisi %(n)s)"), year=c.year, n=c.details["revision"])
        content = describe("rkpd.enacted", c.details, words)
        return Entry(_tag(base, c.at, f"rkpd/{c.year}/perwal/{c.position}"), title, c.at, f"{base}/rkpd/{c.year}",
                     content)  # fmt: skip
    if c.source == feed_views.MILESTONE:
        what = describe_milestone(c.kind, c.details, words)
        name = c.title or words(N_("Baris RKPD %(line)s"), line=c.key)
        return Entry(_tag(base, c.at, f"rkpd/{c.year}/{c.key}/{c.position}"), _title(name, what), c.at,
                     f"{base}/telusur/rkpd/{c.year}/{c.key}", what)  # fmt: skip
    what = describe(c.kind, c.details, words)
    code = f"{c.key[:4]}-{c.key[4:]}"
    belongs = words(N_("Usulan %(code)s untuk RKPD %(year)s"), code=code, year=c.year)  # not in an f-string with
    content = f"{what}\n{belongs}"  # a line break: the catalog's extractor did not find it there
    return Entry(_tag(base, c.at, f"usulan/{c.key}/{c.position}"), _title(c.title, what), c.at,
                 f"{base}/lacak/{c.key}", content)  # fmt: skip


def _message(words: Words, message: Message) -> str:
    """A message with its terms, in the reader's words (as i18n.translate_with says it on a page)."""
    params = {name: words(value.msgid) if isinstance(value, Term) else value for name, value in message.params.items()}
    return words(message.template, **params)


def _title(name: str, what: str) -> str:
    """"Perbaikan saluran air — Ditolak: …", cut at a word when it grows long."""
    title = " ".join(f"{name} — {what}".split())
    if len(title) <= _TITLE_MAX:
        return title
    return title[:_TITLE_MAX].rsplit(" ", 1)[0].rstrip(" ,;:—-") + "…"


def _tag(base: str, at: dt.datetime, specific: str) -> str:
    """A tag URI (RFC 4151): the site's host, the day the event was recorded, and what it is."""
    host = urlsplit(base).hostname or "localhost"
    return f"tag:{host},{at.astimezone(dt.UTC):%Y-%m-%d}:{specific}"


def _code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def _with_reason(text: str, reason: object) -> str:
    return f"{text} — {reason}" if reason else text


def describe(kind: str, d: dict[str, Any], words: Words) -> str:
    """A timeline entry as the tracking page (track.html) words it, as plain text (a kind it has no words
    for: its own name)."""
    if kind.startswith("proposal."):
        return _describe_proposal(kind, d, words)
    if kind.startswith("rkpd."):
        return _describe_city_level(kind, d, words)
    return kind


def _describe_proposal(kind: str, d: dict[str, Any], words: Words) -> str:
    """What happened on the proposal's own stream: submitted, revised, verified, merged, and its forums'
    decisions."""
    match kind:
        case "proposal.submitted" if d.get("carried_from"):
            return f"{words(N_('Usulan diajukan lagi, melanjutkan usulan'))} {_code(d['carried_from'])}"
        case "proposal.submitted":
            return words(N_("Usulan diajukan"))
        case "proposal.carried_over":
            return f"{words(N_('Diusulkan lagi untuk RKPD %(year)s sebagai'), year=d.get('to_year'))} " \
                   f"{_code(d.get('to_code', ''))}"  # fmt: skip
        case "proposal.revised":
            return words(N_("Usulan diperbaiki oleh pengusul dan diajukan kembali"))
        case "proposal.photo_attached":
            return words(N_("Foto ditambahkan"))
        case "proposal.accepted" if d.get("agreed_volume") or d.get("agreed_cost"):
            return _accepted_with_changes(d, words)
        case "proposal.accepted":
            return _with_reason(words(N_("Lolos verifikasi dan diterima")), d.get("reason"))
        case "proposal.returned":
            return f"{words(N_('Dikembalikan untuk diperbaiki'))}: {d.get('reason', '')}"
        case "proposal.rejected":
            return f"{words(N_('Ditolak'))}: {d.get('reason', '')}"
        case "proposal.merged":
            return _with_reason(f"{words(N_('Digabungkan ke usulan'))} {_code(d.get('into', ''))}", d.get("reason"))
        case "proposal.merged_in":
            merged = d.get("merged", [])
            joined = words.ngettext("%(num)d usulan serupa bergabung ke sini:",
                                    "%(num)d usulan serupa bergabung ke sini:", len(merged))  # fmt: skip
            return _with_reason(f"{joined} {', '.join(_code(c) for c in merged)}", d.get("reason"))
        case "proposal.decided_at_forum":
            return _forum_decision(d, words)
    return kind


def _accepted_with_changes(d: dict[str, Any], words: Words) -> str:
    """An acceptance that agreed another volume or cost: which, and to what (only those agreed)."""
    parts = []
    if d.get("agreed_volume"):
        parts.append(f"{words(N_('volume disepakati'))} {number(d['agreed_volume'])} {d.get('unit') or ''}"
                     .strip())  # fmt: skip
    if d.get("agreed_cost"):
        parts.append(f"{words(N_('biaya disepakati'))} {rupiah(d['agreed_cost'])}")
    return _with_reason(f"{words(N_('Diterima dengan perubahan'))}: {', '.join(parts)}", d.get("reason"))


def _forum_decision(d: dict[str, Any], words: Words) -> str:
    """A forum's decision on the proposal: where it was ranked, and whether it went on; if not, why, in
    the reader's words when the reason is one of the rules' own (REASON_LABELS), else as recorded."""
    level = str(d.get("level", ""))
    if d.get("region"):  # the forum's, beside the recorded decision (`_with_forum_regions`)
        level = forum_level(level, str(d["region"]))
    at = words(N_("Dibahas di Musrenbang %(level)s, peringkat %(rank)s"), level=level.capitalize(), rank=d.get("rank"))
    if d.get("selected"):
        return f"{at}: {words(N_('disepakati dan diteruskan'))}"
    reason = decision_rules.REASON_LABELS.get(d.get("reason") or "", d.get("reason") or "")
    return _with_reason(f"{at}: {words(N_('tidak terakomodasi'))}", words(reason) if reason else "")


def _describe_city_level(kind: str, d: dict[str, Any], words: Words) -> str:
    """What happened at the city level (the `rkpd-{year}` stream): taken up by an agency, put in an RKPD
    line or left out, the RKPD adopted and enacted, and its lines' milestones."""
    match kind:
        case "rkpd.proposals_received":
            return words(N_("Diterima di Forum Perangkat Daerah, ditangani %(agency)s"),
                         agency=words.agency_name(d.get("agency", "")))  # fmt: skip
        case "rkpd.proposal_passed":
            return _with_reason(words(N_("Dialihkan ke %(agency)s"), agency=words.agency_name(d.get("to_agency", ""))),
                                d.get("reason"))  # fmt: skip
        case "rkpd.proposal_declined":
            return _with_reason(words(N_("Tidak diakomodasi oleh %(agency)s"),
                                      agency=words.agency_name(d.get("agency", ""))), d.get("reason"))  # fmt: skip
        case "rkpd.line_set" if d.get("removed"):
            return _with_reason(words(N_("Dikeluarkan dari baris RKPD %(line)s"), line=d.get("line_id")),
                                d.get("reason"))  # fmt: skip
        case "rkpd.line_set":
            return _line_set(d, words)
        case "rkpd.line_withdrawn":
            return _with_reason(words(N_("Baris RKPD %(line)s ditarik"), line=d.get("line_id")), d.get("reason"))
        case "rkpd.adopted" if d.get("unprocessed"):  # the proposal, short of any outcome, closed by the adoption
            return _closed_at_adoption(d, words)
        case "rkpd.adopted" if d.get("revision") == 1:  # by Musrenbang Kota's close, or directly without one
            return words(N_("RKPD ditetapkan"))
        case "rkpd.adopted":
            return words(N_("Perubahan RKPD ditetapkan (revisi %(n)s)"), n=d.get("revision"))
        case "rkpd.milestone_recorded":
            return describe_milestone(str(d.get("stage", "")), d, words)
        case "rkpd.enacted":
            return words(N_("RKPD diundangkan dengan %(regulation)s, %(day)s"), regulation=d.get("regulation"),
                         day=words.day(d.get("enacted_on")))  # fmt: skip
    return kind


def _line_set(d: dict[str, Any], words: Words) -> str:
    """The proposal put in (the draft of) an RKPD line: the sub-kegiatan, the agency (its name as the line
    recorded it, else as the city names it now), the line's pagu and target."""
    text = words(N_("Masuk rancangan RKPD sebagai %(sub)s oleh %(agency)s: pagu %(pagu)s, target %(target)s"
                    " %(unit)s"), sub=d.get("sub_kegiatan", ""),
                 agency=d.get("agency_name") or words.agency_name(d.get("agency", "")),
                 pagu=rupiah(d.get("pagu")), target=number(d.get("target")), unit=d.get("target_unit", ""))  # fmt: skip
    return _with_reason(text, d.get("reason"))


def _closed_at_adoption(d: dict[str, Any], words: Words) -> str:
    """A proposal still short of any outcome when its year's RKPD was adopted, closed without a decision
    (proposal.CLOSED_AT_ADOPTION). One processed in part (returned, or accepted) says how far it got;
    one never verified, or closed before the reason was kept, is told so plainly."""
    reason = d.get("reason") or "belum_diverifikasi"
    if reason in ("belum_diperbaiki", "belum_dimusyawarahkan"):  # processed in part: returned, or accepted
        return words(N_("RKPD %(year)s ditetapkan: usulan ini ditutup tanpa keputusan (%(why)s)"),
                     year=d.get("year"), why=words(proposal_rules.UNPROCESSED_REASONS[reason]))  # fmt: skip
    return words(N_("RKPD %(year)s ditetapkan sebelum usulan ini diproses: usulan ini ditutup tanpa"
                    " keputusan"), year=d.get("year"))  # fmt: skip


def describe_milestone(stage: str, d: dict[str, Any], words: Words) -> str:
    """A milestone of an RKPD line after adoption: "Kontrak: Rp 48.500.000, pelaksana CV Maju, 3 Maret
    2023 s.d. 30 Juni 2023 — catatan"."""
    label = MILESTONE_LABELS.get(stage)
    head = words(label, progress=d.get("progress") or 0) if label else stage
    parts: list[str] = []
    if d.get("amount") is not None:
        parts.append(rupiah(d["amount"]))
    if stage == "kontrak" and d.get("contractor"):
        parts.append(words(N_("pelaksana %(contractor)s"), contractor=d["contractor"]))
    on = words.day(d.get("on") or d.get("on_date"))
    if stage == "kontrak" and on and d.get("ends"):
        parts.append(words(N_("%(start)s s.d. %(end)s"), start=on, end=words.day(d["ends"])))
    elif on:
        parts.append(on)
    text = f"{head}: {', '.join(parts)}" if parts else head
    return _with_reason(text, d.get("note"))


# --- the document ---------------------------------------------------------------------------------


def atom(feed: Feed, items: Sequence[Entry]) -> bytes:
    """An Atom 1.0 document (RFC 4287): `updated` is the newest entry's time (`feed.since` for an empty
    feed)."""
    root = ET.Element("feed", {"xmlns": _ATOM, _XML_LANG: feed.lang})
    _text(root, "id", feed.id)
    _text(root, "title", feed.title)
    _text(root, "subtitle", feed.subtitle)
    _text(root, "updated", _rfc3339(newest(items, feed.since)))
    ET.SubElement(root, "link", {"rel": "self", "type": "application/atom+xml", "href": feed.self_link})
    ET.SubElement(root, "link", {"rel": "alternate", "type": "text/html", "href": feed.page_link})
    _text(ET.SubElement(root, "author"), "name", feed.author or "Musrenbang")
    _text(root, "generator", "Musrenbang")
    for item in items:
        entry = ET.SubElement(root, "entry")
        _text(entry, "id", item.id)
        _text(entry, "title", item.title)
        _text(entry, "updated", _rfc3339(item.updated))
        ET.SubElement(entry, "link", {"rel": "alternate", "type": "text/html", "href": item.link})
        _text(entry, "content", item.content).set("type", "text")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def newest(items: Sequence[Entry], since: dt.datetime) -> dt.datetime:
    return max((i.updated for i in items), default=since)


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = _NOT_XML.sub("", text)  # ElementTree escapes & < >, but writes what XML 1.0 cannot hold
    return element


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _respond(request: Request, feed: Feed, items: list[Entry]) -> Response:
    """The document, or 304 when the reader's copy (If-None-Match, else If-Modified-Since) is current."""
    body = atom(feed, items)
    updated = newest(items, feed.since)
    etag = f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'
    # The words depend on the language, which a cookie may choose (`?lang=` remembered): a cache keeps one
    # copy per cookie, or an English reader's feed is what the next Indonesian reader is sent.
    vouched = last_modified(updated, dt.datetime.now(dt.UTC))
    headers = {"ETag": etag, "Last-Modified": email.utils.format_datetime(vouched, usegmt=True),
               "Cache-Control": "public, max-age=60", "Vary": "Cookie"}  # fmt: skip
    if _not_modified(request, etag, updated):
        return Response(content=b"", status_code=304, headers=headers)
    return Response(content=body, media_type=MEDIA_TYPE, headers=headers)


def last_modified(updated: dt.datetime, now: dt.datetime) -> dt.datetime:
    """The Last-Modified to send at `now` for a feed whose newest entry is of `updated`: that entry's second
    once it has been over for SETTLE (no entry can come in it any more), else the last second that has —
    never a second a later entry could still belong to (see the module's docstring)."""
    second = updated.astimezone(dt.UTC).replace(microsecond=0)
    settled = (now.astimezone(dt.UTC) - SETTLE).replace(microsecond=0) - dt.timedelta(seconds=1)
    return min(second, settled)


def _not_modified(request: Request, etag: str, updated: dt.datetime) -> bool:
    """If-None-Match decides alone when sent; else If-Modified-Since, as a date `last_modified` vouched for:
    no entry of a later second."""
    if (asked := request.headers.get("if-none-match")) is not None:
        seen = {tag.strip().removeprefix("W/") for tag in asked.split(",")}
        return "*" in seen or etag.removeprefix("W/") in seen
    if (since := request.headers.get("if-modified-since")) is not None:
        try:
            moment = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return updated.replace(microsecond=0) <= moment
    return False
