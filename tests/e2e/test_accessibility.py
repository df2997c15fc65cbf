"""Accessibility as a test: axe-core (WCAG 2.0-2.2 A and AA, and axe's best practices) finds nothing on every
page type — resident, public city, signed-in staff, both languages, a form with errors — on a 360 px phone
in Debian's Chromium; and what axe cannot see: tap targets of at least 44×44 px on resident pages, focus on
the error summary after a failed submission, a skip link on every page. The pages are those of the complete
small cycle of tests/history.py (the `city_server`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from musrenbang.db.connect import create_pool
from tests import history
from tests.e2e.conftest import needs_chromium
from tests.http.test_staff import PASSWORD, add_user
from tests.server import Server

pytestmark = [pytest.mark.slow, needs_chromium]

PHONE = {"viewport": {"width": 360, "height": 640}, "is_mobile": True, "has_touch": True}
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

# Pages for residents and the public, `{…}` filled from the history (`site` below).
RESIDENT = [
    "/", "/usulan/baru", "/lacak", "/lacak/{a0}", "/lacak/lupa", "/kelurahan/{kelurahan}", "/kecamatan/{kecamatan}",
    "/wilayah?q=bekasi", "/usulan", "/usulan?q=saluran", "/musyawarah", "/masuk", "/ikuti",
]  # fmt: skip
CITY = [
    "/rkpd/{year}", "/rkpd/{year}?bidang=infrastruktur", "/rkpd/{year}/sumber", "/rkpd/{year}/pemerataan",
    "/rkpd/{year}/realisasi", "/rkpd/{year}/forum-perangkat-daerah", "/rkpd/{year}/musrenbang-kota",
    "/telusur/usulan/{a0}", "/telusur/rkpd/{year}/DBMSDA-002", "/pokir/{year}", "/forum/{kelurahan_forum}/berita-acara",
]  # fmt: skip
STAFF = [
    "/petugas", "/petugas/verifikasi", "/forum/{kelurahan_forum}", "/forum/{kecamatan_forum}",
    "/forum/{kelurahan_forum}/layar", "/petugas/musyawarah/baru", "/audit", "/petugas/siklus", "/petugas/pokir",
    "/petugas/pokir/{pokir}", "/petugas/rkpd", "/petugas/rkpd/{year}", "/petugas/pesan", "/petugas/realisasi/{year}",
    "/petugas/realisasi/{year}/DBMSDA-002", "/petugas/sandi",
]  # fmt: skip
AGENCY = ["/petugas/perangkat-daerah"]


@pytest.fixture(scope="module")
async def site(city_server: Server, city_database: str) -> AsyncIterator[dict[str, str]]:
    """The history's codes and forums, and an admin's and an agency planner's accounts."""
    pool = await create_pool(city_database, min_size=1, max_size=1)
    try:
        codes = [r["code"] for r in await pool.fetch("SELECT code FROM proposals ORDER BY code")]
        forums = {r["region"]: r["forum_id"] for r in await pool.fetch("SELECT region, forum_id FROM forums")}
        pokir = await pool.fetchval("SELECT code FROM pokir LIMIT 1")
    finally:
        await pool.close()
    tag = uuid.uuid4().hex[:6]
    admin, planner = f"a11y-admin-{tag}", f"a11y-opd-{tag}"
    add_user(city_database, admin, "admin")
    add_user(city_database, planner, "opd", "--opd", "DBMSDA")
    yield {
        "base": city_server.base_url, "admin": admin, "planner": planner, "year": str(history.YEAR),
        "a0": codes[0], "kelurahan": history.KELURAHAN_A, "kecamatan": history.KECAMATAN, "pokir": pokir,
        "kelurahan_forum": forums[history.KELURAHAN_A], "kecamatan_forum": forums[history.KECAMATAN],
    }  # fmt: skip


def _violations(page: object) -> list[str]:
    """axe-core's violations on the page, each with what a developer needs to find and fix it."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]})
    found = []
    for v in results.response["violations"]:
        for node in v["nodes"]:
            found.append(f"{v['id']} ({v['impact']}): {' '.join(map(str, node['target']))}\n"
                         f"    {node['html'][:160]}\n    {node.get('failureSummary', '')[:300]}")  # fmt: skip
    return found


def _visit(page: object, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"


def _check(page: object, url: str) -> None:
    _visit(page, url)
    found = _violations(page)
    assert not found, f"axe-core finds on {url}:\n" + "\n".join(found)


def _signed_in(browser: object, site: dict[str, str], username: str) -> object:
    page = browser.new_page(**PHONE)
    page.goto(site["base"] + "/masuk")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url("**/petugas")
    return page


@pytest.mark.parametrize("lang", ["", "?lang=en"])
def test_resident_and_public_pages_have_no_axe_violation(site, browser, lang: str) -> None:  # noqa: ANN001  (site first: its setup is async)
    page = browser.new_page(**PHONE)
    failures = []
    for path in RESIDENT + CITY:
        url = site["base"] + path.format(**site)
        url += ("&" + lang[1:] if "?" in url else lang) if lang else ""
        try:
            _check(page, url)
        except AssertionError as e:
            failures.append(str(e))
    page.close()
    assert not failures, "\n\n".join(failures)


def test_city_pages_have_no_axe_violation_on_a_wide_screen(site, browser) -> None:  # noqa: ANN001
    """Review s25: on a desktop the RKPD list's origin links (a line of three proposals) were 16 px high,
    which axe flags (`target-size`) once a narrow column stacks them; on a phone the table is stacked."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    failures = []
    for path in CITY:
        try:
            _check(page, site["base"] + path.format(**site))
        except AssertionError as e:
            failures.append(str(e))
    _visit(page, site["base"] + "/rkpd/{year}".format(**site))
    heights = page.evaluate("[...document.querySelectorAll('td a[href^=\"/telusur/usulan/\"]')]"
                            ".map(a => a.getBoundingClientRect().height)")  # fmt: skip
    page.close()
    assert not failures, "\n\n".join(failures)
    assert len(heights) >= 3 and min(heights) >= 24, heights  # an origin link is a target of its own


def test_staff_pages_have_no_axe_violation(site, browser) -> None:  # noqa: ANN001
    failures = []
    for username, paths in ((site["admin"], STAFF), (site["planner"], AGENCY)):
        page = _signed_in(browser, site, username)
        for path in paths:
            for lang in ("", "?lang=en"):
                try:
                    _check(page, site["base"] + path.format(**site) + lang)
                except AssertionError as e:
                    failures.append(str(e))
        page.close()
    assert not failures, "\n\n".join(failures)


def _fail_submission(page: object, url: str) -> None:
    """Sends the proposal form with nothing typed in (the browser's own checks turned off, as an old
    browser would), so that the server answers with the form and its errors."""
    _visit(page, url)
    page.evaluate("document.querySelector('form.proposal').noValidate = true")
    page.locator("form.proposal button[type=submit]").click()
    page.wait_for_selector("#errors")


@pytest.mark.parametrize("lang", ["", "?lang=en"])
def test_the_form_with_errors_has_no_axe_violation_and_focus_is_on_its_summary(site, browser, lang: str) -> None:  # noqa: ANN001
    page = browser.new_page(**PHONE)
    _fail_submission(page, site["base"] + "/usulan/baru" + lang)
    assert page.evaluate("document.activeElement.id") == "errors"  # a screen reader starts at the summary
    summary = page.locator("#errors")
    assert summary.locator("a[href='#title']").count() == 1  # each error links to its field
    # A field's hint and error are read with it; the radio buttons are a group named by its legend.
    assert page.get_attribute("#title", "aria-describedby") == "title-hint title-error"
    assert page.get_attribute("#address", "aria-describedby") == "address-hint address-error"
    assert page.locator("fieldset#kind > legend").count() == 1
    assert page.locator("fieldset#notify > legend").count() == 1
    found = _violations(page)
    assert not found, "axe-core finds on the form with errors:\n" + "\n".join(found)
    page.close()


# A link inside running text is exempt from the 44 px target size: WCAG 2.5.8 excepts a target "in a sentence
# or [whose] size is otherwise constrained by the line-height of non-target text". Running text, here: the link's
# nearest block (a paragraph, a list item, a table cell) holds text besides the link's own.
TARGETS = "main a, main button, main input:not([type=hidden]), main select, main textarea, main summary, header.site a"
SMALL_TARGETS = """targets => [...document.querySelectorAll(targets)].filter(e => e.getClientRects().length)
  .filter(e => {
    let block = e.parentElement;
    while (getComputedStyle(block).display.startsWith("inline")) block = block.parentElement;
    return !(e.matches("a") && block.textContent.replace(/\\s+/g, "") !== e.textContent.replace(/\\s+/g, ""));
  }).map(e => {  // a radio's or a checkbox's target is its label, which checks it too
    const r = (e.matches("[type=radio], [type=checkbox]") && e.closest("label") || e).getBoundingClientRect();
    return [e.outerHTML.slice(0, 100), Math.round(r.width), Math.round(r.height)];
  }).filter(([, w, h]) => w < 44 || h < 44)"""


@pytest.mark.parametrize("path", ["/", "/usulan/baru", "/lacak", "/lacak/{a0}", "/kelurahan/{kelurahan}",
                                  "/kecamatan/{kecamatan}", "/wilayah?q=bekasi", "/usulan", "/musyawarah",
                                  "/masuk", "/ikuti"])  # fmt: skip
def test_resident_tap_targets_are_at_least_44_px(site, browser, path: str) -> None:  # noqa: ANN001
    page = browser.new_page(**PHONE)
    url = site["base"] + path.format(**site)
    _visit(page, url)
    small = page.evaluate(SMALL_TARGETS, TARGETS)
    page.close()
    assert not small, f"targets under 44×44 px on {url}:\n" + "\n".join(f"{w}×{h} {html}" for html, w, h in small)


def test_every_page_starts_with_a_skip_link_and_the_projector_has_a_main_landmark(site, browser) -> None:  # noqa: ANN001
    page = _signed_in(browser, site, site["admin"])
    for path in [*RESIDENT, *CITY, *STAFF]:
        url = site["base"] + path.format(**site)
        _visit(page, url)
        page.keyboard.press("Tab")
        first = page.evaluate("[document.activeElement.getAttribute('href'), document.activeElement.className]")
        assert first == ["#isi", "skip"], f"{url}: the first Tab reaches {first}"
        assert page.locator("main#isi").count() == 1, url
    page.close()


def test_the_language_switch_keeps_the_search_it_was_asked_for(site, browser) -> None:  # noqa: ANN001
    """Without JavaScript the switch goes to the page itself (the server writes no query into a link of a
    page it may cache for everyone); with it, the search and page number come along."""
    page = browser.new_page(**PHONE)
    _visit(page, site["base"] + "/usulan?q=saluran&halaman=1")
    page.locator("a.lang").click()
    page.wait_for_url("**lang=en**")
    asked = page.evaluate("Object.fromEntries(new URLSearchParams(location.search))")
    assert asked == {"q": "saluran", "halaman": "1", "lang": "en"}, asked
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("input[name=q]").input_value() == "saluran"
    page.close()
