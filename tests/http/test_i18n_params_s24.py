"""A refusal on an English page names the stage, the forum and the day in English: the domain puts them
into its messages as parameters (`Term`, `LongDate`), which the HTTP layer translates with the message
around them. A day on an English page is written in English wherever it is shown."""

from __future__ import annotations

import datetime as dt
import random
import re

import httpx
import msgspec
import pytest

from musrenbang.domain import cycle, realisation
from musrenbang.domain.errors import DomainError, Message, Term, ValidationFailed
from musrenbang.domain.events import StageWindow
from musrenbang.domain.values import MONTHS, long_date
from musrenbang.http.i18n import load_catalogs, translate_with
from tests.http.city_setup import sign_in
from tests.http.test_cycles import _calendar
from tests.http.test_staff import token, users  # noqa: F401  (module fixture)

INDONESIAN_MONTH = re.compile(r"\b(" + "|".join(m for m in MONTHS if m not in ("April", "September", "November"))
                              + r")\b")  # fmt: skip
CATALOGS = load_catalogs()


def _english(message: str) -> str:
    return translate_with(CATALOGS["en"], message)


def _kota_window_state() -> cycle.Cycle:
    calendar = {"kota": StageWindow(stage="kota", opens=dt.date(2021, 3, 1), closes=dt.date(2021, 3, 31))}
    return msgspec.structs.replace(cycle.Cycle(), year=2022, calendar=calendar)


def test_a_meeting_outside_its_window_is_refused_in_english_with_the_stage_and_days_in_english() -> None:
    with pytest.raises(ValidationFailed) as refused:
        cycle.check_held_in_window(_kota_window_state(), "kota", dt.date(2021, 5, 2))
    message = refused.value.errors["held_on"]
    assert str(message) == "tanggal di luar jadwal Musrenbang Kota RKPD 2022: 1 Maret 2021 sampai 31 Maret 2021"
    english = _english(message)
    assert "1 March 2021" in english and "31 March 2021" in english, english
    named = CATALOGS["en"].gettext(cycle.WINDOW_LABELS["kota"])
    assert named != "Musrenbang Kota" and f"window for {named}, RKPD 2022" in english, english
    assert not INDONESIAN_MONTH.search(english), english
    assert translate_with(CATALOGS["id"], message) == str(message)  # Indonesian reads as the domain wrote it


def test_a_lowered_term_is_lowered_after_translation() -> None:
    with pytest.raises(DomainError) as refused:
        realisation.check_photo_state(realisation.LineProgress(stage="selesai"))
    assert str(refused.value.message).startswith("baris ini sudah selesai:")
    english = _english(refused.value.message)
    label = CATALOGS["en"].gettext(realisation.LABELS["selesai"])
    assert label != realisation.LABELS["selesai"] and f" {label.lower()}" in english, english


def test_terms_and_days_read_as_indonesian_and_only_they_are_translated() -> None:
    term = Term("Musrenbang Kecamatan")
    assert term == "Musrenbang Kecamatan" and term.lower() == "musrenbang kecamatan"
    assert isinstance(term.lower(), Term) and term.lower().msgid == "Musrenbang Kecamatan"
    assert long_date(dt.date(2023, 5, 2)) == "2 Mei 2023"
    typed = Message("%(who)s %(stage)s %(day)s", who="Musrenbang Kecamatan", stage=term,
                    day=long_date(dt.date(2023, 5, 2)))  # fmt: skip
    english = _english(typed)
    # what a person typed stays as typed even where it matches a catalog entry; the term and the day do not
    assert english.startswith("Musrenbang Kecamatan ") and english.endswith(" 2 May 2023"), english
    assert english.split(" ", 2)[2] != "Musrenbang Kecamatan 2 May 2023", english


async def test_the_api_refuses_a_mistyped_calendar_with_english_days(
    client: httpx.AsyncClient, users: dict[str, str]  # noqa: F811
) -> None:
    admin = await token(client, users["admin"])
    year = random.randrange(2040, 2100)
    body = {"year": year, "theme": "Tahun keliru", "priority_programs": [{"title": "Program satu"}],
            "calendar": _calendar(dt.date(year - 9, 5, 4))}  # fmt: skip  # years too early: refused
    english = await client.post("/api/v1/cycles?lang=en", json=body, headers=admin)
    indonesian = await client.post("/api/v1/cycles", json=body, headers=admin)
    assert english.status_code == indonesian.status_code == 422, english.text
    said = english.json()["errors"]["calendar.usulan"]
    assert f"4 May {year - 9}" in said and not INDONESIAN_MONTH.search(said), said
    assert f"4 Mei {year - 9}" in indonesian.json()["errors"]["calendar.usulan"]


async def test_the_staff_calendar_writes_its_days_in_the_readers_language(app_server, users) -> None:  # noqa: F811
    bappeda = await sign_in(app_server.base_url, users["admin"])
    try:
        english = (await bappeda.get("/petugas/siklus?lang=en")).text
        indonesian = (await bappeda.get("/petugas/siklus?lang=id")).text
    finally:
        await bappeda.aclose()
    english_days = _days(english, ENGLISH_MONTHS)
    assert english_days and english_days == _days(indonesian, MONTHS), english  # the same days, each in its words
    assert not INDONESIAN_MONTH.search(english[english.index("<table"):english.index("</table>")])


ENGLISH_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                  "November", "December")  # fmt: skip


def _days(page: str, months: tuple[str, ...]) -> list[tuple[int, int, int]]:
    """The days the first table of a page shows, as (year, month, day), read in the page's language."""
    table = page[page.index("<table"):page.index("</table>")]
    found = re.findall(r"(\d{1,2}) (" + "|".join(months) + r") (\d{4})", table)
    return [(int(y), months.index(m) + 1, int(d)) for d, m, y in found]
