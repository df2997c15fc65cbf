"""A hostile review of the pokir pages through a real server (the fixture of tests/http/test_pokir.py): a
reses date typed as people write it, and the secretariat's buttons tapped twice."""

from __future__ import annotations

import re
import uuid

from tests.http import test_pokir
from tests.http.city_setup import sign_in
from tests.http.test_pages import hidden
from tests.http.test_pokir import POKIR, _events, _submit

dprd = test_pokir.dprd  # the module's own copy of its history and server


async def test_a_reses_date_typed_otherwise_is_read_or_named_not_called_missing(dprd) -> None:  # noqa: ANN001
    """A phone without a date picker sends what was typed: "12/03/2023" is a day, "kemarin" is not — and
    the member was told the date was missing."""
    client, pool, ctx = dprd
    browser = await sign_in(str(client.base_url), f"member-{ctx['tag']}")
    try:
        page = await browser.get("/petugas/pokir/baru")
        fields = {k: str(v) for k, v in POKIR.items()} | {"_csrf_token": hidden(page.text, "_csrf_token")}
        before = await _events(pool)
        wrong = await browser.post("/petugas/pokir/baru", data={**fields, "idempotency_key": str(uuid.uuid4()),
                                                               "reses_on": "kemarin"})  # fmt: skip
        assert wrong.status_code == 422 and 'id="reses_on-error"' in wrong.text
        assert "wajib diisi" not in wrong.text and "31/03/2022" in wrong.text and "kemarin" in wrong.text
        assert await _events(pool) == before
        saved = await browser.post("/petugas/pokir/baru", data={**fields, "idempotency_key": str(uuid.uuid4()),
                                                               "reses_on": "12/03/2023"})  # fmt: skip
        assert saved.status_code == 303, saved.text[-2000:]
        code = saved.headers["location"].rsplit("/", 1)[1]
        assert (await client.get(f"/api/v1/pokir/{code}")).json()["reses_on"] == "2023-03-12"
    finally:
        await browser.aclose()


async def test_the_secretariat_tapping_twice_is_answered_as_once(dprd) -> None:  # noqa: ANN001
    """The second tap on "Teruskan" (or "Kembalikan") answered 422 "sudah diperiksa" though the first had
    done it; with the form's key it is the same request, answered the same."""
    client, pool, ctx = dprd
    setwan = await sign_in(str(client.base_url), f"setwan-{ctx['tag']}")
    try:
        for action, extra in (("teruskan", {"note": "lengkap"}), ("kembalikan", {"reason": "sertakan foto"})):
            code = (await _submit(client, ctx["auth"]["member"], title=f"Pokir ketuk dua kali {action}")).json()["code"]
            page = await setwan.get(f"/petugas/pokir/{code}")
            form = page.text[page.text.index(f"/{action}"):]
            fields = {"_csrf_token": hidden(page.text, "_csrf_token"),
                      "idempotency_key": hidden(form, "idempotency_key"), **extra}  # fmt: skip
            before = await _events(pool)
            first = await setwan.post(f"/petugas/pokir/{code}/{action}", data=fields)
            again = await setwan.post(f"/petugas/pokir/{code}/{action}", data=fields)
            assert (first.status_code, again.status_code) == (303, 303), (action, again.text[-2000:])
            assert await _events(pool) == before + 1
            # Back, the reason or note changed, sent again under the same key: said, not silently dropped.
            field = next(iter(extra))
            changed = await setwan.post(f"/petugas/pokir/{code}/{action}", data={**fields, field: "lengkapi RAB"})
            assert changed.status_code == 422 and "sudah terkirim sebelumnya dengan isi lain" in changed.text, (
                action, re.findall(r'class="error"[^>]*>([^<]*)', changed.text))
            assert await _events(pool) == before + 1
    finally:
        await setwan.aclose()
