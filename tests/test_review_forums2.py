"""Review of the city forums' participants (a `|` inside a name or `represents`) and of plural messages'
counts (grouped as every figure on the site), without a server."""

from __future__ import annotations

import pytest
from jinja2.ext import _make_new_ngettext

from musrenbang.domain import city_forums as cf
from musrenbang.domain.errors import ValidationFailed
from musrenbang.domain.events import ForumParticipant, RkpdForumScheduled
from musrenbang.http import city_forums as forms
from musrenbang.http.i18n import load_catalogs
from musrenbang.http.render import environment
from tests.domain.test_city_forums import decided, schedule
from tests.domain.test_rkpd import run


@pytest.mark.parametrize(("name", "represents", "said"), [
    ("Budi | Santoso", "Dapil 1", "peserta ke-2: nama tidak boleh memuat tanda |"),
    ("Budi Santoso", "Dapil | 1", "peserta ke-2: isian mewakili tidak boleh memuat tanda |"),
])  # fmt: skip
def test_the_rules_refuse_the_form_s_separator_in_a_name_or_represents(name: str, represents: str, said: str) -> None:
    """Recorded, such a participant came back from the schedule form shifted into the wrong fields."""
    people = (cf.ParticipantInput(name="Ibu Sari", kind="other"),
              cf.ParticipantInput(name=name, kind="dprd", represents=represents))  # fmt: skip
    with pytest.raises(ValidationFailed) as caught:
        run(decided(), schedule(participants=people))
    assert caught.value.errors == {"participants": said}


def test_a_participant_recorded_with_a_separator_reads_back_into_its_own_fields() -> None:
    """Recorded before the rules refused it (or a kecamatan delegate's name): shown with ¦, it is sent back
    into the same fields, and the rules take it."""
    old = [ForumParticipant(name="Budi | Santoso", kind="dprd", represents="Dapil | 1"),
           ForumParticipant(name="Ibu Sari", kind="kecamatan", represents="Kecamatan Bekasi Timur")]  # fmt: skip
    shown = forms.participants_text(old)
    assert shown == "Budi ¦ Santoso | dprd | Dapil ¦ 1\nIbu Sari | kecamatan | Kecamatan Bekasi Timur"
    back = forms.parse_participants(shown)
    assert [(p.name, p.kind, p.represents) for p in back] == [
        ("Budi ¦ Santoso", "dprd", "Dapil ¦ 1"), ("Ibu Sari", "kecamatan", "Kecamatan Bekasi Timur")]  # fmt: skip
    _, [event] = run(decided(), schedule(participants=back))
    assert isinstance(event, RkpdForumScheduled) and event.participants[0].name == "Budi ¦ Santoso"


def test_a_form_line_of_more_than_three_parts_is_not_read() -> None:
    entered = {"held_on": "2021-03-10", "starts_at": "", "place": "Aula", "chair": "Sekda", "agenda": "Pembukaan",
               "participants": "Ibu Sari | lainnya\n\nBudi | Santoso | dprd | Dapil 1"}  # fmt: skip
    _, unreadable = forms.schedule_from_form(2022, cf.FORUM_PD, entered)
    assert unreadable == {"participants": "peserta ke-2: tulis nama | jenis | mewakili, tanpa tanda | di dalam nama"
                                          " atau isian mewakili"}  # fmt: skip
    _, fine = forms.schedule_from_form(2022, cf.FORUM_PD, {**entered, "participants": "Budi | dprd | Dapil 1"})
    assert fine == {}


def test_a_plural_message_groups_its_count_as_every_figure() -> None:
    """As the pages render it (render.page_context): the rest of a page groups numbers, 83519 was not."""
    template = environment().from_string(
        '{{ ngettext("Diusulkan sejak %(year)s, %(num)d kali", "Diusulkan sejak %(year)s, %(num)d kali", n,'
        " year=2021) }}"
    )
    catalogs = load_catalogs()
    for lang, count, shown in (("id", 1234567, "Diusulkan sejak 2021, 1.234.567 kali"),
                               ("en", 1234, "Proposed since 2021, 1.234 times"),
                               ("en", 1, "Proposed since 2021, 1 time"),
                               ("id", 999, "Diusulkan sejak 2021, 999 kali")):  # fmt: skip
        ngettext = _make_new_ngettext(catalogs[lang].ngettext)
        assert template.render(ngettext=ngettext, n=count) == shown
