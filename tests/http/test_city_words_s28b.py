"""The words of a kabupaten and of a kota (review s28): a kabupaten's pages ask the catalog for "Musrenbang
Kabupaten" wherever a text says "Musrenbang Kota" (http/labels.CITY_WORDS, http/i18n.for_city), in the
staff notices and the domain's messages too; a kota's read exactly as before but where the shared text hedged
("kabupaten/kota"). No server: the catalogs as the application loads them."""

from __future__ import annotations

import gettext
import re

import pytest

from musrenbang.domain import city_forums
from musrenbang.domain.cycle import STAGE_LABELS
from musrenbang.domain.errors import N_, Message, Term
from musrenbang.http.i18n import for_city, load_catalogs, translate_with
from musrenbang.http.labels import CITY_WORDS, TIER_LABELS, adoption_note, region_kind, village_kind
from musrenbang.resources import templates_dir

JEMBRANA, BEKASI = "51.01", "32.75"


@pytest.fixture(scope="module")
def catalogs() -> dict[str, gettext.NullTranslations]:
    return load_catalogs()


def _msgids(catalog: gettext.NullTranslations) -> set[str]:
    english = catalog._fallback  # Grouped around the compiled catalog  # type: ignore[attr-defined]
    return {k for k in english._catalog if isinstance(k, str) and k}


def test_every_text_a_city_rewords_is_a_text_the_pages_have(catalogs: dict[str, gettext.NullTranslations]) -> None:
    """A key that is not exactly a msgid (a typo, a text reworded since) would change nothing, silently: each
    is one of the catalog's, a template's or a label's."""
    in_templates = {m for path in templates_dir().glob("*.html")
                    for m in re.findall(r'_\("([^"]+)"', path.read_text(encoding="utf-8"))}  # fmt: skip
    known = _msgids(catalogs["en"]) | in_templates | set(TIER_LABELS.values())
    for level, words in CITY_WORDS.items():
        assert not set(words) - known, level


def test_the_notice_of_a_closed_musrenbang_kota_names_the_kabupaten(catalogs: dict[str, gettext.NullTranslations]
                                                                    ) -> None:  # fmt: skip
    """As http/city_pages.py words the notice after the close form (and `tr` every Term, stage and label)."""
    def notice(region: str) -> str:
        t = for_city(catalogs["id"], region)
        forum = translate_with(t, city_forums.FORUMS[city_forums.MUSRENBANG_KOTA])
        return translate_with(t, Message(N_("%(forum)s ditutup; berita acara tersedia"), forum=forum))

    assert notice(JEMBRANA) == "Musrenbang Kabupaten ditutup; berita acara tersedia"
    assert notice(BEKASI) == "Musrenbang Kota ditutup; berita acara tersedia"
    kabupaten = for_city(catalogs["id"], JEMBRANA)
    refused = Message(N_("%(forum)s tahun ini sudah ditutup"), forum=Term(city_forums.FORUMS["musrenbang_kota"]))
    assert translate_with(kabupaten, refused) == "Musrenbang Kabupaten tahun ini sudah ditutup"
    assert translate_with(kabupaten, STAGE_LABELS["kota"]) == "Musrenbang Kabupaten"
    assert translate_with(kabupaten, "APBD Kabupaten/Kota") == "APBD Kabupaten"
    assert translate_with(kabupaten, adoption_note("Disepakati pada Musrenbang Kota 2021-04-05")) == (
        "Disepakati pada Musrenbang Kabupaten 2021-04-05")
    assert translate_with(kabupaten, adoption_note("perubahan %(pagu)s")) == "perubahan %(pagu)s"  # as typed


def test_a_kota_reads_as_before_but_where_the_text_hedged(catalogs: dict[str, gettext.NullTranslations]) -> None:
    for lang in ("id", "en"):
        catalog = catalogs[lang]
        kota = for_city(catalog, BEKASI)
        changed = {m for m in _msgids(catalogs["en"]) if kota.gettext(m) != catalog.gettext(m)}
        assert changed == set(CITY_WORDS["kota"]), lang
    assert for_city(catalogs["id"], BEKASI).gettext("APBD Kabupaten/Kota") == "APBD Kota"
    assert for_city(catalogs["id"], BEKASI).gettext("Musrenbang Kota") == "Musrenbang Kota"


def test_regions_and_villages_are_named_for_what_they_are() -> None:
    assert [region_kind(c) for c in ("51.01.03", "51.01.03.2004", "51.01.01.1006", "32.75", "51.01")] == [
        "kecamatan", "desa", "kelurahan", "kota", "kabupaten"]  # fmt: skip

    def picker(*kinds: str) -> dict[str, list[dict[str, str]]]:
        return {"kelurahan": [{"tingkat": k} for k in kinds]}

    assert village_kind([picker("kelurahan", "kelurahan")]) == "kelurahan"
    assert village_kind([picker("desa"), picker("desa")]) == "desa"
    assert village_kind([picker("kelurahan"), picker("desa")]) == "both"
    assert village_kind([]) == "kelurahan"
