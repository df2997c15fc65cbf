"""Narrowing the RKPD list of a year (`/rkpd/{year}?kecamatan=&kelurahan=&opd=&program=&q=`): the
choices a GET form sends (it works without JavaScript), what each choice would show (lines and pagu),
and the lines a set of choices keeps.

A line is in every kecamatan and kelurahan it is located in, so one line may count under several
places; the total of a filtered view is the full pagu of the lines it shows. Choices are checked against
what the list has; one it does not have is refused with a message (a stale link says so), never a 500.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from urllib.parse import urlencode

import msgspec
from litestar import Request

from musrenbang.domain.errors import N_, Message
from musrenbang.domain.search import MAX_TYPED, search_key
from musrenbang.http.errors import BadForm
from musrenbang.http.rkpd_api import RkpdItemOut, RkpdOut

FACETS = ("kecamatan", "kelurahan", "opd", "program")
"""The query parameters that choose one value each (in the order the form shows them)."""
_SHAPES = {"kecamatan": re.compile(r"\d{2}\.\d{2}\.\d{2}", re.ASCII),
           "kelurahan": re.compile(r"\d{2}\.\d{2}\.\d{2}\.\d{4}", re.ASCII),
           "opd": re.compile(r"[A-Za-z0-9._-]{1,40}"), "program": re.compile(r"\d{1,3}", re.ASCII)}  # fmt: skip
r"""re.ASCII: `\d` alone takes ٣ and ３ too, which `int()` then reads as 3."""


@dataclasses.dataclass(frozen=True)
class Chosen:
    """What the reader chose, normalised: a value per facet (None: "Semua") and the search key."""

    kecamatan: str | None = None
    kelurahan: str | None = None
    opd: str | None = None
    program: str | None = None
    q: str = ""
    """As typed, less what no search reads (`shown`: shown back in the form)."""
    unreadable: bool = False
    """Something was typed that no search key reads (`?q=ВЗЛОМ`, `?q=--`): it finds no line, as on
    `/usulan` and `/wilayah` (read as no search, it showed the whole list as if found)."""

    @property
    def key(self) -> str:
        """The search as compared ("" when nothing searchable was typed)."""
        return search_key(self.q)

    def __getitem__(self, facet: str) -> str | None:
        return getattr(self, facet)

    @property
    def facets(self) -> dict[str, str]:
        return {f: v for f in FACETS if (v := getattr(self, f)) is not None}

    @property
    def any(self) -> bool:
        return bool(self.facets or self.key or self.unreadable)

    @property
    def cacheable(self) -> bool:
        """Views kept in the page cache: the whole list and one facet chosen (bounded by what the list has:
        its kecamatan, kelurahan, agencies and programs). Searches and combinations go to the searches'
        own cache (page_cache.searches_of), so that no query string can push the common pages out."""
        return not self.key and not self.unreadable and len(self.facets) <= 1

    def normalised(self) -> tuple[tuple[str, str], ...]:
        """The choices as part of a cache key (every unreadable search is one page: none is shown back)."""
        searched = (("q", self.key),) if self.key else (("q", "\0"),) if self.unreadable else ()
        return tuple(sorted(self.facets.items())) + searched

    def link(self, **changes: object) -> str:
        """`?…` for these choices with `changes` (None drops one)."""
        params: dict[str, object] = {**self.facets, **({"q": self.q} if self.key else {})}
        for name, value in changes.items():
            if value is None:
                params.pop(name, None)
            else:
                params[name] = value
        return "?" + urlencode(params) if params else "?"


def chosen(request: Request) -> Chosen:
    """The choices in the query string; a value of the wrong shape is refused (400) with a message."""
    values: dict[str, str | None] = {}
    for facet in FACETS:
        raw = request.query_params.get(facet, "").strip()
        if raw in ("", "semua"):
            values[facet] = None
        elif _SHAPES[facet].fullmatch(raw):
            values[facet] = raw
        else:
            raise BadForm(unknown(facet))
    typed = request.query_params.get("q", "")[:MAX_TYPED]
    q = shown(typed)
    return Chosen(**values, q=q, unreadable=not q and bool(typed.strip()))


_NOT_SEARCHED = re.compile(r"[^A-Za-z0-9 .,'/()-]+")


def shown(typed: str) -> str:
    """The search as the form shows it back: only what a search key reads, with spaces and plain
    punctuation; "" when nothing searchable was typed. A search's page is cached by its key for everyone
    who types that key, so it must not carry what the key ignores (`?q=ВЗЛОМ` was the whole list's page).

        >>> shown("  Jalan  Raya "), shown("jalan ВЗЛОМ 💀"), shown("ВЗЛОМ"), shown("kode: RJX0-XQX6!")
        ('Jalan Raya', 'jalan', '', 'kode RJX0-XQX6')
    """
    text = " ".join(_NOT_SEARCHED.sub(" ", typed).split())
    return text if search_key(text) else ""


def unknown(facet: str) -> Message:
    return Message(N_("Pilihan saringan “%(facet)s” tidak ada dalam daftar RKPD tahun ini."), facet=facet)


@dataclasses.dataclass
class Option:
    value: str
    label: str
    lines: int = 0
    pagu: int = 0
    group: str = ""
    """The kecamatan a kelurahan is in (an <optgroup>)."""


def _places(item: RkpdItemOut, facet: str) -> Iterable[tuple[str, str, str]]:
    """(value, label, group) of each option `item` is under for `facet`."""
    if facet == "kecamatan":
        return ((k.kode, k.nama, "") for k in item.kecamatan)
    if facet == "kelurahan":
        kecamatan = {k.kode: k.nama for k in item.kecamatan}
        return ((k.kode, k.nama, kecamatan.get(k.kode.rsplit(".", 1)[0], "")) for k in item.locations)
    if facet == "opd":
        return ((item.agency, item.agency_name, ""),)
    return ((str(item.priority_program), f"{item.priority_program}. {item.priority_program_title}", ""),)


def _searched(item: RkpdItemOut) -> str:
    """Everything a search reads of a line, as one key per part (joined so no match spans two parts)."""
    parts = [item.id, item.sub_kegiatan, item.kegiatan, item.program, item.sub_kegiatan_code, item.agency_name,
             item.output_indicator, *(p.nama for p in item.locations), *(p.nama for p in item.kecamatan),
             *(o.code for o in item.origins), *(o.title for o in item.origins)]  # fmt: skip
    return " ".join(search_key(p) for p in parts)


@dataclasses.dataclass(frozen=True)
class Indexed:
    """A year's list with what filtering reads of each line, computed once per state of the list."""

    rkpd: RkpdOut
    places: list[dict[str, frozenset[str]]]
    """Per line (in list order), per facet: the options it is under."""
    searched: list[str]
    """Per line: its search text (`_searched`)."""


def indexed(rkpd: RkpdOut) -> Indexed:
    return Indexed(rkpd, [{f: frozenset(p[0] for p in _places(i, f)) for f in FACETS} for i in rkpd.items],
                   [_searched(i) for i in rkpd.items])  # fmt: skip


def _misses(index: Indexed, c: Chosen) -> list[frozenset[str] | None]:
    """Per line: the chosen facets it is not under (empty: shown), None when the search does not find it.
    A line counts under a facet's options when it misses no other facet."""
    key, wanted = c.key, c.facets
    return [
        None if c.unreadable or (key and key not in searched)
        else frozenset(f for f, v in wanted.items() if v not in places[f])
        for places, searched in zip(index.places, index.searched, strict=True)
    ]  # fmt: skip


def options(index: Indexed, c: Chosen) -> dict[str, list[Option]]:
    """Every option of each facet that the list has, counted over the lines the other choices keep (an
    option with no line there is still offered, with zero: the reader sees why the view is empty); the
    first, value "", is "Semua" (every line the other choices keep)."""
    misses = _misses(index, c)
    out: dict[str, list[Option]] = {}
    for facet in FACETS:
        found: dict[str, Option] = {}
        every = Option("", N_("Semua"))
        for item, missed in zip(index.rkpd.items, misses, strict=True):
            counted = missed is not None and missed <= {facet}
            if counted:
                every.lines += 1
                every.pagu += item.pagu
            for value, label, group in _places(item, facet):
                o = found.setdefault(value, Option(value, label, group=group))
                if counted:
                    o.lines += 1
                    o.pagu += item.pagu
        out[facet] = [every, *sorted(found.values(), key=_order(facet))]
    return out


def _order(facet: str) -> Callable[[Option], tuple[int, str]]:
    """Programs by number, places by code (kelurahan then stay under their kecamatan), agencies by name."""
    if facet == "program":
        return lambda o: (int(o.value), "")
    if facet in ("kecamatan", "kelurahan"):
        return lambda o: (0, o.value)
    return lambda o: (0, o.label + "\0" + o.value)


def narrowed(index: Indexed, c: Chosen, offered: dict[str, list[Option]]) -> RkpdOut:
    """The list with only the lines `c` keeps (numbers as in the whole list); a choice the list does not
    offer is refused."""
    for facet, value in c.facets.items():
        if all(o.value != value for o in offered[facet]):
            raise BadForm(unknown(facet))
    if not c.any:
        return index.rkpd
    items = [i for i, missed in zip(index.rkpd.items, _misses(index, c), strict=True) if missed == frozenset()]
    return msgspec.structs.replace(index.rkpd, items=items, total_pagu=sum(i.pagu for i in items))
