"""Rendering pages: every template gets the reader's language, its gettext, and the domain's labels."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any
from urllib.parse import quote

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2.ext import _make_new_gettext, _make_new_ngettext
from litestar import Request, Response
from litestar.exceptions import NotFoundException
from litestar.response import Template

from musrenbang.domain import proposal as rules
from musrenbang.domain import realisation
from musrenbang.domain import rules as decision_rules
from musrenbang.domain.city import TIMEZONES, City
from musrenbang.domain.cycle import STAGE_LABELS
from musrenbang.domain.errors import N_, Message
from musrenbang.domain.values import grouped
from musrenbang.http import labels, notices
from musrenbang.http.city_context import city_of
from musrenbang.http.i18n import COOKIE, LANGUAGES, day_in, for_city, language, translate_with
from musrenbang.http.staleness import behind
from musrenbang.resources import templates_dir


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir()),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.newstyle_gettext = True  # type: ignore[attr-defined]  # added by the i18n extension, not declared
    env.filters["rupiah"] = rupiah
    env.filters["number"] = number
    env.filters["short_rupiah"] = short_rupiah
    env.filters["score"] = score_text
    env.filters["fromjson"] = msgspec.json.decode
    env.globals["KINDS"] = rules.KINDS
    env.globals["BIDANG"] = rules.BIDANG
    env.globals["STATUSES"] = rules.STATUSES
    env.globals["STAGES"] = STAGE_LABELS
    # A status_reason that is a code (a forum's decision, a closure at adoption) in words.
    env.globals["REASONS"] = {**decision_rules.REASON_LABELS, **rules.UNPROCESSED_REASONS}
    env.globals["MILESTONES"] = realisation.LABELS
    env.globals["adoption_note"] = labels.adoption_note
    env.globals["forum_level"] = labels.forum_level  # a kelurahan-level forum in a desa is a Musrenbang Desa
    env.globals["region_kind"] = labels.region_kind
    env.globals["village_kind"] = labels.village_kind
    env.globals["REGION_KINDS"] = labels.REGION_LABELS
    env.globals["TIERS"] = labels.TIER_LABELS
    env.globals["VILLAGE"] = {"label": labels.VILLAGE_LABELS, "prompt": labels.VILLAGE_PROMPTS,
                              "search": labels.VILLAGE_SEARCH, "staff": labels.VILLAGE_STAFF}  # fmt: skip
    return env


def rupiah(amount: int | Decimal | None) -> str:
    """25000000 -> "Rp 25.000.000" (Indonesian grouping in both languages: it is the currency's own)."""
    return "" if amount is None else "Rp " + grouped(amount)


_SHORT_UNITS = ((10**12, N_("Rp %(n)s T")), (10**9, N_("Rp %(n)s M")), (10**6, N_("Rp %(n)s jt")),
                (10**3, N_("Rp %(n)s rb")))  # fmt: skip
"""triliun, miliar, juta, ribu: the abbreviations Indonesian budgets and news use ("Rp 1,2 M")."""


def short_rupiah(amount: int) -> Message:
    """An amount to one decimal place of its largest unit, for where a whole figure does not fit (a filter's
    option on a phone): 19000000 -> "Rp 19 jt", 1234567890 -> "Rp 1,2 M" (the decimal comma, as every figure
    is written), less than a thousand as it is. The unit is the reader's language's (`tr`).

        >>> [short_rupiah(n) for n in (0, 950, 31_500_000, 999_960_000, 1_234_567_890, 12_000)]
        ['Rp 0', 'Rp 950', 'Rp 31,5 jt', 'Rp 1 M', 'Rp 1,2 M', 'Rp 12 rb']
    """
    for i, (size, template) in enumerate(_SHORT_UNITS):
        if abs(amount) < size:
            continue
        n = (Decimal(amount) / size).quantize(Decimal("0.1"), ROUND_HALF_UP)
        if abs(n) >= 1000 and i > 0:  # 999,96 jt is 1 M, not 1000 jt
            size, template = _SHORT_UNITS[i - 1]
            n = (Decimal(amount) / size).quantize(Decimal("0.1"), ROUND_HALF_UP)
        return Message(template, n=number(n))
    return Message(rupiah(amount))  # no unit to translate


def number(value: int | Decimal | str | None) -> str:
    if value is None:
        return ""
    d = Decimal(value)
    whole, _, fraction = format(d.normalize(), "f").partition(".")
    return f"{grouped(int(whole))},{fraction}" if fraction else grouped(int(whole))


def as_typed(row: Mapping[str, Any], fields: Iterable[str]) -> dict[str, str]:
    """What a stored proposal puts back into a form to be changed or proposed again, as a person would
    type it: the volume in Indonesian ("1.500", "2,5", what the form reads back: values.parse_quantity),
    the rest as text, nothing for what is missing."""
    return {f: "" if row[f] is None else number(row[f]) if f == "volume" else str(row[f]) for f in fields}


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def shown_back(entered: Mapping[str, str]) -> dict[str, str]:
    r"""A form's fields as its page fills them in again: as typed, less NUL and the other control characters
    an HTML page cannot carry (line breaks and tabs kept: a description has paragraphs). For a form sent
    back refused: nothing cleaned here is stored.

        >>> shown_back({"title": "Jalan\x00 rusak", "problem": "satu\r\ndua\x1b"})
        {'title': 'Jalan rusak', 'problem': 'satu\r\ndua'}
    """
    return {field: _CONTROL.sub("", text) for field, text in entered.items()}


def fraction_text(value: Fraction) -> str:
    """An exact number as people read it, to two places: 12, 3,83."""
    d = (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return format(d.normalize(), "f").replace(".", ",") if d != d.to_integral_value() else str(int(d))


def score_text(score: str) -> str:
    """A forum's exact score ("12", "27/2", as results keep it) as people read it: 12, 13,5."""
    return fraction_text(Fraction(score))


def page_number(request: Request) -> int:
    """`?halaman=N` of a paged list (1 when absent); anything but a page number is a page that does not
    exist (404), never a 500 or page 1 under another address."""
    raw = request.query_params.get("halaman")
    if raw is None:
        return 1
    if not (raw.isascii() and raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0):
        raise NotFoundException()
    return int(raw)


def page_count(total: int, per_page: int, number: int) -> int:
    """How many pages a list of `total` rows has (one at least: an empty list has its first page); a page
    `number` past the last does not exist (404), as `page_number` answers: every paged list the same.

        >>> page_count(0, 25, 1), page_count(51, 25, 3)
        (1, 3)
    """
    pages = max(1, math.ceil(total / per_page))
    if number > pages:
        raise NotFoundException()
    return pages


def same_page_path(path: str) -> str:
    r"""The path for links back to this page (the language switch), safe to put in `href`: percent-encoded
    (browsers drop tab, CR and LF from a URL and read a backslash as a slash, so `/%09/evil.example/`
    would otherwise link to another host) and with one leading slash, so it can never become a
    protocol-relative link.

        >>> same_page_path("//evil.example/"), same_page_path("/\t/evil.example/"), same_page_path("/usulan/baru")
        ('/evil.example/', '/%09/evil.example/', '/usulan/baru')
    """
    return "/" + quote(path, safe="/").lstrip("/")


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> Template:
    """A page, with the notice the last form left for it (http/notices.py), shown once."""
    response = Template(template, status_code=status, context=page_context(request, **context))
    response.context["notice"] = notices.take(request, response)
    remember_language(request, response)
    return response


def rendered(request: Request, template: str, context: dict[str, Any]) -> bytes:
    """A template's bytes, for a handler that caches them (`page` leaves rendering to the response)."""
    engine = request.app.template_engine
    if engine is None:
        raise RuntimeError("the application has no template engine")
    return engine.get_template(template).render(**context).encode()


def remember_language(request: Request, response: Response) -> None:
    """`?lang=` chosen: remembered in a cookie for the next pages."""
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(COOKIE, language(request), max_age=365 * 24 * 3600, httponly=True, samesite="lax")


def page_context(request: Request, city: City | None = None, in_language: str | None = None,
                 **context: Any) -> dict[str, Any]:  # fmt: skip
    """What every template gets: the reader's language and its gettext (chosen once per page, not per
    string), the city (`city`: as read with the page's data, else as this process last read it), dates
    as the city reads them. `in_language`: a page that is one language whatever the reader's (a Berita
    Acara: an official document in Indonesian, the same on every screen and on paper)."""
    lang = in_language or language(request)
    city = city or city_of(request)
    t = for_city(request.app.state.catalogs[lang], city.region)  # a kabupaten's words, a kota's (i18n.for_city)
    zone = dt.timezone(dt.timedelta(hours=TIMEZONES.get(city.timezone, 7)), city.timezone)

    def when(moment: dt.datetime | dt.date | str | None, with_time: bool = True) -> str:
        """A moment as the city reads it: its own time zone, named (WIB, WITA, WIT). A day as an event's
        data carries it ("2023-03-14") is written as every other day is: 14 Maret 2023."""
        if moment is None or moment == "":
            return ""
        if isinstance(moment, str):
            typed = moment
            try:
                moment = dt.date.fromisoformat(typed)
            except ValueError:
                return typed
        if isinstance(moment, dt.datetime):
            local = moment.astimezone(zone)
            text = day_in(t.gettext, local.date())
            return f"{text}, {local:%H.%M} {city.timezone}" if with_time else text
        return day_in(t.gettext, moment)

    return {
        "city": city,
        "agency_name": city.agency_name,  # a handler may pass its own
        **context,
        "lang": lang,
        "other_lang": "en" if lang == "id" else "id",
        # Jinja's "new style" gettext: autoescape-aware, and fills in %(name)s from keyword arguments.
        "gettext": _make_new_gettext(t.gettext),
        "ngettext": _make_new_ngettext(t.ngettext),
        "_": _make_new_gettext(t.gettext),
        "tr": lambda message: translate_with(t, message),
        "when": when,
        "path": same_page_path(request.url.path),
        "lang_link": _other_language_link(context.get("lang_path"), request.url.path, lang),
        "behind": behind(request),
    }


def _other_language_link(lang_path: str | None, path: str, lang: str) -> str:
    """The language switch's link: this page in the other language. A page answering a POST names its own
    (`lang_path`, a path and query the handler built): the same URL fetched again would be another page —
    the proposal just made, its code and secret, became an empty form. No reader's query otherwise (app.js
    adds it): a cached page must not carry one reader's query to others."""
    target = lang_path or same_page_path(path)
    return f"{target}{'&' if '?' in target else '?'}lang={'en' if lang == 'id' else 'id'}"
