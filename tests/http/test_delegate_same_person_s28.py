"""One person entered twice at the registration desk, under two ids, voted twice: a second delegate of the
same name for the same group is refused with what to do, by the form and by the API, and registered only
once the desk says it is another person (session 28)."""

from __future__ import annotations

import asyncpg
import httpx

from tests.http.test_forum_entry import _signed_in
from tests.http.test_pages import hidden
from tests.http.test_review_forums import _count, _scheduled
from tests.http.test_staff import token, users  # noqa: F401  (a fixture)


async def test_the_api_refuses_the_same_person_under_a_second_id_unless_confirmed(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    auth = await token(client, users["kelurahan"])
    forum_id = await _scheduled(client, auth)
    url = f"/api/v1/forums/{forum_id}/delegates"
    siti = {"name": "Siti Aminah", "represents": "RW 05", "gender": "P"}
    assert (await client.post(url, headers=auth, json=[{"delegate_id": "a1", **siti}])).status_code == 200
    again = [{"delegate_id": "a2", **siti, "name": "siti  aminah"}]
    refused = await client.post(url, headers=auth, json=again)
    assert refused.status_code == 422, refused.text
    assert "sudah terdaftar sebagai peserta nomor 1" in refused.text and "same_name_confirmed" in refused.text
    # Two of one name in one list: the second is refused and neither is written.
    both = [{"delegate_id": "a3", "name": "Budi"}, {"delegate_id": "a4", "name": "BUDI"}]
    assert (await client.post(url, headers=auth, json=both)).status_code == 422
    assert await _count(app_pool, forum_id, "forum.delegate_registered") == 1
    assert (await client.post(url, headers=auth, json=[{**again[0], "same_name_confirmed": "true"}])
            ).status_code == 422  # a boolean, not text  # fmt: skip
    confirmed = await client.post(url, headers=auth, json=[{**again[0], "same_name_confirmed": True}])
    assert confirmed.status_code == 200, confirmed.text
    assert await _count(app_pool, forum_id, "forum.delegate_registered") == 2


async def test_the_form_asks_whether_it_is_another_person_and_registers_once_told(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    forum_id = await _scheduled(client, await token(client, users["kelurahan"]))
    typed = {"_csrf_token": csrf, "name": "Ibu Sari", "role": "Ketua RT 02", "represents": "RW 05", "gender": "P"}

    async def send(**more: str) -> httpx.Response:
        shown = hidden((await client.get(f"/forum/{forum_id}")).text, "delegate_id")  # a fresh page each time
        return await client.post(f"/forum/{forum_id}/peserta", data={**typed, "delegate_id": shown, **more})

    assert (await send()).status_code == 303
    page = await send(role="Ketua RW 05")
    assert page.status_code == 422
    assert "Ibu Sari yang mewakili RW 05 sudah terdaftar sebagai peserta nomor 1" in page.text
    assert 'name="same_name_confirmed"' in page.text and 'href="#delegate_same_name_confirmed"' in page.text
    assert 'value="Ketua RW 05"' in page.text  # kept as typed
    assert await _count(app_pool, forum_id, "forum.delegate_registered") == 1
    assert (await send(same_name_confirmed="1")).status_code == 303
    assert await _count(app_pool, forum_id, "forum.delegate_registered") == 2
    english = await client.post(f"/forum/{forum_id}/peserta?lang=en", data={
        **typed, "delegate_id": hidden((await client.get(f"/forum/{forum_id}")).text, "delegate_id")})  # fmt: skip
    # s29h: the message now names the person and their number on the list; its English ("... is already
    # registered as delegate number 1 ...") comes with the catalogue's entry for the new msgid.
    assert english.status_code == 422 and "Ibu Sari" in english.text and "RW 05" in english.text
