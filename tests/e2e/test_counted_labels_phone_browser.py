"""Labels that count what they name, and the RKPD filter's figures on a phone (review): the English tracking
page named a proposal's one program "Priority programs", its one beneficiary "1 people" and its one merged
duplicate "Similar proposals"; and at 360 px the RKPD list's filter cut the amount off every option whose
name was long (an agency, a programme: "Dinas Perumahan, Kawasan Permukiman dan Per…"), the amount being
last. Debian's Chromium at 360 x 640, real servers on real PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import needs_chromium
from tests.e2e.proposal_form import fill_proposal_form
from tests.rkpd_site import YEAR, Site, rkpd_site
from tests.server import Server

pytestmark = [pytest.mark.slow, needs_chromium]

PHONE = {"width": 360, "height": 640}


@pytest.fixture(scope="module")
def site(server_url: str, template_name: str) -> Iterator[Site]:
    with rkpd_site(server_url, template_name) as s:
        yield s


def _facts(page) -> dict[str, str]:  # noqa: ANN001
    """The tracking page's "Isi usulan": each <dt>'s words to its <dd>'s."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('dl.facts dt')]
        .map(dt => [dt.innerText.trim(), dt.nextElementSibling.innerText.trim()]))""")


def test_the_tracking_page_counts_one_program_and_one_beneficiary(browser, app_server: Server) -> None:
    context = browser.new_context(viewport=PHONE, extra_http_headers={"X-Forwarded-For": "10.250.0.36"})
    page = context.new_page()
    page.goto(app_server.base_url + "/usulan/baru")
    fill_proposal_form(page, title="Posyandu gang kenanga butuh timbangan", priority_program="1", beneficiaries="1",
                       proposer_phone="0812-3636-3636")  # fmt: skip
    page.get_by_role("button", name="Kirim usulan").click()
    page.wait_for_selector("#tracking-code")
    code = page.inner_text("#tracking-code").strip().replace("-", "")

    page.goto(f"{app_server.base_url}/lacak/{code}?lang=en")
    facts = _facts(page)
    assert "Priority programs" not in page.inner_text("main")
    assert facts.get("Beneficiaries") == "1 person", facts
    [program] = [label for label in facts if label.startswith("Priority program")]
    assert program == "Priority program 1" and facts[program], facts  # the program's title beside it

    page.goto(f"{app_server.base_url}/lacak/{code}?lang=id")
    facts = _facts(page)
    assert facts.get("Penerima manfaat") == "1 orang" and "Program prioritas 1" in facts, facts
    context.close()


def test_one_duplicate_merged_in_is_one_proposal(browser, site: Site) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{site.server.base_url}/lacak/{site.codes['road']}?lang=en")  # one duplicate merged into it
    history = page.inner_text("ol.timeline")
    assert "1 similar proposal merged into this one:" in history, history
    assert "Similar proposals" not in history
    context.close()


_AMOUNT = r"Rp \d[\d.,]*(?: [^\W\d]+)?"
"""An amount as an option writes it ("Rp 31,5 jt", "Rp 950", "Rp 31.500.000")."""

_ROOM = """(select) => {
  // What of each option's text a closed select shows on one line: its content box less the arrow.
  const css = getComputedStyle(select);
  const pen = document.createElement('canvas').getContext('2d');
  pen.font = `${css.fontStyle} ${css.fontWeight} ${css.fontSize} ${css.fontFamily}`;
  const room = select.clientWidth - parseFloat(css.paddingLeft) - parseFloat(css.paddingRight) - 24;
  return [...select.options].map(o => {
    const found = new RegExp(AMOUNT).exec(o.text);
    const through = found ? o.text.slice(0, found.index + found[0].length) : null;
    return {text: o.text, room, through_amount: through === null ? null : pen.measureText(through).width};
  });
}"""


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_filter_option_shows_its_amount_on_a_phone(browser, site: Site, lang: str) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{site.server.base_url}/rkpd/{YEAR}?lang={lang}")
    selects = page.locator("form.sieve select")
    assert selects.count() == 4
    longest = ""
    for i in range(selects.count()):
        for option in selects.nth(i).evaluate(_ROOM.replace("AMOUNT", repr(_AMOUNT))):
            assert option["through_amount"] is not None, option  # every option names its amount
            assert option["through_amount"] <= option["room"], option  # and the select shows all of it
            longest = max(longest, option["text"], key=len)
    assert len(longest) > 50  # a long name was there to push the amount out (an agency's, a programme's)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    if lang == "id":  # the amount short, the figures first, the whole name after them
        program = page.locator("#f-program option[value='1']").inner_text()
        assert program == "Rp 19 jt · 2 baris — 1. Penguatan dan pengembangan ekonomi kreatif kota", program
        assert re.fullmatch(_AMOUNT, "Rp 19 jt")
    context.close()
