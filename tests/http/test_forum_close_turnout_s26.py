"""Review s26: a forum with proposals on its agenda could be closed, from the staff page or the API, before a
single ballot or score was recorded, and every proposal was then "not selected" for good. The close is
refused (409, saying how many delegates are registered and that none has voted yet, and what to do), and the
staff page's close section says how many have voted before its button, on a real server."""

from __future__ import annotations

import asyncpg
import httpx

from tests.http.test_forum_entry import _open_forum, _signed_in
from tests.http.test_staff import token, users  # noqa: F401  (a fixture)


async def test_the_close_section_counts_the_votes_and_a_close_before_any_is_refused(
    client: httpx.AsyncClient, users, app_pool: asyncpg.Pool  # noqa: ANN001, F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    auth = await token(client, users["kelurahan"])
    forum_id, _ = await _open_forum(client, auth)
    page = (await client.get(f"/forum/{forum_id}")).text
    refusal = "4 peserta terdaftar, tetapi belum satu pun memberikan suara"
    section = page[page.index('id="tutup"'):]
    assert "0 dari 4 peserta sudah memberikan suara" in section
    assert section.index("0 dari 4 peserta") < section.index("Tutup musyawarah dan hitung hasil")
    assert refusal in section  # said before the button is pressed
    before = await app_pool.fetchval("SELECT count(*) FROM events")
    refused = await client.post(f"/forum/{forum_id}/tutup", data={"_csrf_token": csrf, "understood": "ya"})
    assert refused.status_code == 409 and refusal in refused.text
    assert "Catat dan simpan surat suara peserta dulu" in refused.text
    api = await client.post(f"/api/v1/forums/{forum_id}/close", headers=auth)
    assert api.status_code == 409 and refusal in api.text
    assert await app_pool.fetchval("SELECT count(*) FROM events") == before
    assert (await client.get(f"/api/v1/forums/{forum_id}")).json()["status"] == "open"
    # One ballot typed: counted above the button, and the forum closes.
    assert (await client.post(f"/forum/{forum_id}/suara", data={"_csrf_token": csrf, "b_d2": "1"})).status_code == 303
    page = (await client.get(f"/forum/{forum_id}")).text
    assert "1 dari 4 peserta sudah memberikan suara" in page and refusal not in page
    closed = await client.post(f"/forum/{forum_id}/tutup", data={"_csrf_token": csrf, "understood": "ya",
                                                                 "no_mandate": "ya"})  # fmt: skip
    assert closed.status_code == 303 and closed.headers["location"].endswith("/berita-acara")


async def test_a_scored_forum_s_close_section_counts_the_consensus_marks(
    client: httpx.AsyncClient, users  # noqa: ANN001, F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    auth = await token(client, users["kelurahan"])
    forum_id, items = await _open_forum(client, auth, rule="weighted-criteria")
    page = (await client.get(f"/forum/{forum_id}")).text
    assert f"Nilai konsensus: 0 dari {items} usulan sudah dinilai" in page
    assert "4 peserta terdaftar, tetapi belum ada nilai sama sekali" in page
    forum = (await client.get(f"/api/v1/forums/{forum_id}")).json()
    item = forum["agenda"][0]["item_id"]
    marks = {f"m_{item}_{c['key']}": "4" for c in forum["criteria"]}
    assert (await client.post(f"/forum/{forum_id}/nilai", data={"_csrf_token": csrf, **marks})).status_code == 303
    page = (await client.get(f"/forum/{forum_id}")).text
    assert f"Nilai konsensus: 1 dari {items} usulan sudah dinilai" in page and "belum ada nilai sama sekali" not in page
    assert (await client.post(f"/api/v1/forums/{forum_id}/close", json={"no_mandate_confirmed": True},
                              headers=auth)).status_code == 200  # fmt: skip
