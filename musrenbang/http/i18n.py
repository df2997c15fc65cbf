"""Languages: Indonesian is the source language of every text; English comes from a gettext catalog
(`musrenbang/locale/en/LC_MESSAGES/messages.po`, compiled in memory at start-up)."""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
from collections.abc import Callable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from litestar import Request

from musrenbang.domain.errors import Message, Term
from musrenbang.domain.values import MONTHS, LongDate, city_level, grouped
from musrenbang.http.city_context import city_of
from musrenbang.http.labels import CITY_WORDS

LANGUAGES = ("id", "en")
DEFAULT = "id"
COOKIE = "lang"
_LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def load_catalogs() -> dict[str, gettext.NullTranslations]:
    catalogs: dict[str, gettext.NullTranslations] = {"id": Grouped(gettext.NullTranslations())}
    for lang in LANGUAGES[1:]:
        with (_LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
            catalog = read_po(f, locale=lang)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        catalogs[lang] = Grouped(gettext.GNUTranslations(buffer))
    return catalogs


class Grouped(gettext.NullTranslations):
    """A catalog whose plural messages show their count grouped as every other figure is: `%(num)d` (the
    count Jinja's `ngettext` fills in) comes back already written, so the message ids, and with them the
    catalog, stay as they are.

        >>> Grouped(gettext.NullTranslations()).ngettext("%(num)d usulan", "%(num)d usulan", 1234)
        '1.234 usulan'
    """

    def __init__(self, catalog: gettext.NullTranslations) -> None:
        super().__init__()
        self.add_fallback(catalog)  # everything else is the catalog's own

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return super().ngettext(msgid1, msgid2, n).replace("%(num)d", grouped(n))


def language(request: Request) -> str:
    """?lang= wins (and is remembered in a cookie), then the cookie; otherwise Indonesian."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(COOKIE)
    return remembered if remembered in LANGUAGES else DEFAULT


class ForCity(gettext.NullTranslations):
    """A catalog for a kind of city: a text that has the kabupaten's (or the kota's) own words
    (`labels.CITY_WORDS`) is asked of the catalog as those words, everything else as it is.

        >>> ForCity(gettext.NullTranslations(), {"Musrenbang Kota": "Musrenbang Kabupaten"}).gettext("Musrenbang Kota")
        'Musrenbang Kabupaten'
    """

    def __init__(self, catalog: gettext.NullTranslations, words: dict[str, str]) -> None:
        super().__init__()
        self.add_fallback(catalog)
        self._words = words

    def gettext(self, message: str) -> str:
        return super().gettext(self._words.get(message, message))


@functools.lru_cache(maxsize=32)
def _for_level(catalog: gettext.NullTranslations, level: str) -> gettext.NullTranslations:
    words = CITY_WORDS.get(level)
    return ForCity(catalog, words) if words else catalog


def for_city(catalog: gettext.NullTranslations, region: str) -> gettext.NullTranslations:
    """`catalog` as the city of `region` (its settings' region) words its pages: a kabupaten's say
    Musrenbang Kabupaten where a kota's say Musrenbang Kota, whatever the language."""
    return _for_level(catalog, city_level(region))


def translations(request: Request) -> gettext.NullTranslations:
    """The reader's catalog, worded for the city (`for_city`)."""
    return for_city(request.app.state.catalogs[language(request)], city_of(request).region)


def translate(request: Request, message: str) -> str:
    """A domain message in the reader's language (templates with parameters are filled in after)."""
    return translate_with(translations(request), message)


def translate_with(t: gettext.NullTranslations, message: str) -> str:
    """`translate` with the catalog already chosen: a page with hundreds of labels chooses it once."""
    if isinstance(message, Message):
        text = t.gettext(message.template)
        return text % {name: _param(t, value) for name, value in message.params.items()} if message.params else text
    return t.gettext(message)


def _param(t: gettext.NullTranslations, value: object) -> object:
    """A message's parameter in the reader's language: a term of the domain's vocabulary and a day are named
    in it; what a person typed, a code or a number is shown as it is."""
    if isinstance(value, Term):
        named = t.gettext(value.msgid)
        return named.lower() if value.lowered else named
    if isinstance(value, LongDate):
        return day_in(t.gettext, value.day)
    return value


def day_in(gettext: Callable[[str], str], day: dt.date) -> str:
    """A day as the reader's language writes it: 2 Januari 2023, 2 January 2023 (months from the catalog)."""
    return f"{day.day} {gettext(MONTHS[day.month - 1])} {day.year}"
