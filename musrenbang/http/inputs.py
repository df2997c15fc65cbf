"""What pages read from a request besides their own fields: the year and search a public list is asked
for, whole numbers in the query string, and a form's text fields and idempotency key, refused (400) when
no page of ours would send them so."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
from litestar import Request
from litestar.datastructures import UploadFile

from musrenbang.delivery.channels import printable
from musrenbang.domain import bounds
from musrenbang.domain.errors import N_
from musrenbang.domain.search import MAX_TYPED, search_key
from musrenbang.http.errors import NOT_OUR_FORM, BadForm
from musrenbang.projections import cycles
from musrenbang.services import cycles as cycle_service


async def year_asked(request: Request, conn: asyncpg.Connection) -> tuple[int | None, list[int]]:
    """The RKPD year a public page shows (`?tahun=`, default the cycle being planned; None before any
    cycle is open) and every year there is."""
    years = [r["year"] for r in await cycles.all_cycles(conn)]
    asked = int_param(request, "tahun")
    if asked in years:
        return asked, years
    planned = await cycles.current_cycle(conn, cycle_service.today())
    return (planned["year"] if planned else None), years


async def year_shown(request: Request, conn: asyncpg.Connection) -> tuple[int | None, list[int]]:
    """`year_asked`, refusing (400) a `?tahun=` the page cannot show: one that is not a year from
    `bounds.MIN_YEAR` to `MAX_YEAR`, or a year without a cycle. Answering the planned year's proposals at
    `?tahun=1999` told a reader who mistyped that 1999 had them."""
    typed, asked = request.query_params.get("tahun"), int_param(request, "tahun")
    if typed:
        try:
            bounds.year(asked or 0)  # not a number at all: as out of range
        except ValueError as exc:
            raise BadForm(exc.args[0]) from None
    year, years = await year_asked(request, conn)
    if typed and year != asked:
        raise BadForm(N_("Tidak ada siklus perencanaan untuk tahun itu."))
    return year, years


def typed_search(request: Request) -> str:
    """What was typed in a list's search box (`?q=`), as the page shows it back: at most MAX_TYPED
    characters, without NUL and other control characters (a raw NUL went into `value="…"`)."""
    return printable(request.query_params.get("q", "")[:MAX_TYPED])


def finds_nothing(typed: str) -> bool:
    """Whether a search was typed that no search key can match (Cyrillic, an emoji, `--`: a key keeps
    ASCII letters and digits only). It finds nothing; read as no search, it listed every row."""
    return bool(typed) and not search_key(typed)


def int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else None


_FORM_KEY = re.compile(r"[A-Za-z0-9._:-]{1,200}")


def form_key(form: Any) -> str | None:
    """The idempotency key a form carries (the page put a UUID there); a form whose key is not one of ours
    was not made by our pages, and nothing from it reaches the log."""
    key = form_text(form, "idempotency_key")
    if key and not _FORM_KEY.fullmatch(key):
        raise BadForm(NOT_OUR_FORM)
    return key or None


def form_revision(form: Any) -> int | None:
    """The `seen_revision` a decision form carries (the revision of the content its page showed); None when
    absent. Anything but a small whole number was not put there by our pages."""
    text = form_text(form, "seen_revision").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 7):
        raise BadForm(NOT_OUR_FORM)
    return int(text)


def form_text(form: Any, name: str) -> str:
    """A text field of a form ("" when absent). A file sent in its place is refused (BadForm): no page of
    ours sends one there, and read as text it was stored as "x.txt - text/plain"."""
    value = form.get(name, "")
    if isinstance(value, UploadFile):
        raise BadForm(NOT_OUR_FORM)
    return str(value)
