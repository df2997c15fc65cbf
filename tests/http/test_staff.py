"""Accounts, the permission matrix, verification and merge, and a forum run through the staff API."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import uuid

import asyncpg
import httpx
import pytest

from tests.http.conftest import payload
from tests.http.test_pages import hidden

PASSWORD = "kata-sandi-yang-panjang"
KELURAHAN, OTHER_KELURAHAN, KECAMATAN = "32.75.01.1002", "32.75.02.1001", "32.75.01"


def add_user(database: str, username: str, role: str, *scope: str) -> None:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": database}
    done = subprocess.run(["musrenbang", "user", "add", "--username", username, "--role", role, *scope],
                          input=PASSWORD + "\n", env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def users(app_database: str) -> dict[str, str]:
    """One account per role and scope; returns role name -> username."""
    tag = uuid.uuid4().hex[:6]
    accounts = {
        "admin": ("admin", ()),
        "kelurahan": ("facilitator", ("--region", KELURAHAN)),
        "kecamatan": ("facilitator", ("--region", KECAMATAN)),
        "other": ("facilitator", ("--region", OTHER_KELURAHAN)),
        "opd": ("opd", ("--opd", "DBMSDA")),
        "auditor": ("auditor", ()),
    }
    names = {}
    for key, (role, scope) in accounts.items():
        names[key] = f"{key}-{tag}"
        add_user(app_database, names[key], role, *scope)
    return names


async def token(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def new_proposal(client: httpx.AsyncClient, **changes: object) -> str:
    r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, **changes),
                          headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()["code"]


async def test_tokens_for_right_credentials_only_and_they_can_be_revoked(client: httpx.AsyncClient, users) -> None:  # noqa: ANN001
    wrong = await client.post("/api/v1/auth/token", json={"username": users["admin"], "password": "salah"})
    assert wrong.status_code == 401 and wrong.json()["message"] == "nama pengguna atau kata sandi salah"
    auth = await token(client, users["admin"])
    assert (await client.get("/api/v1/me", headers=auth)).json()["role"] == "admin"
    assert (await client.delete("/api/v1/auth/token", headers=auth)).status_code == 204
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 401
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_failed_logins_slow_down_that_address_for_that_name_only(
    client: httpx.AsyncClient, app_database: str
) -> None:
    name = f"victim-{uuid.uuid4().hex[:6]}"
    add_user(app_database, name, "auditor")
    for _ in range(5):  # four typing mistakes cost nothing; the fifth failure delays the next attempt
        assert (
            await client.post("/api/v1/auth/token", json={"username": name, "password": "tebak"})
        ).status_code == 401
    r = await client.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1  # this address waits a moment...
    elsewhere = await client.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD},
                                  headers={"X-Forwarded-For": "10.254.0.9"})  # fmt: skip
    assert elsewhere.status_code == 200  # ...the account is not locked for anyone else
    await asyncio.sleep(int(r.headers["retry-after"]) + 0.2)
    assert (await client.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})).status_code == 200


async def test_a_disabled_account_loses_its_tokens(client: httpx.AsyncClient, app_database: str) -> None:
    name = f"leaver-{uuid.uuid4().hex[:6]}"
    add_user(app_database, name, "auditor")
    auth = await token(client, name)
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": app_database}
    assert subprocess.run(["musrenbang", "user", "disable", name], env=env, capture_output=True).returncode == 0
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 401
    listed = subprocess.run(["musrenbang", "user", "list"], env=env, capture_output=True, text=True).stdout
    assert re.search(rf"{name}\s+auditor\s+-\s+disabled", listed)


@pytest.mark.parametrize(
    ("who", "expected"),
    [("admin", 200), ("kelurahan", 200), ("kecamatan", 200), ("other", 403), ("opd", 403), ("auditor", 403),
     (None, 401)],
)  # fmt: skip
async def test_who_may_verify_a_proposal(
    client: httpx.AsyncClient,
    app_pool: asyncpg.Pool,
    users,
    who: str | None,
    expected: int,  # noqa: ANN001
) -> None:
    code = await new_proposal(client)
    headers = await token(client, users[who]) if who else {}
    before = await app_pool.fetchval("SELECT count(*) FROM events")
    r = await client.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"}, headers=headers)
    assert r.status_code == expected, r.text
    after = await app_pool.fetchval("SELECT count(*) FROM events")
    assert after == before + (1 if expected == 200 else 0)
    if expected == 200:
        meta = await app_pool.fetchval(
            "SELECT metadata->>'role' FROM events WHERE stream_id = $1 AND event_type = 'proposal.accepted'",
            f"proposal-{code}",
        )
        assert meta == ("admin" if who == "admin" else "facilitator")
        # The answer is the proposal as GET gives it (its `history` was null here, a list there: review s22).
        shown = (await client.get(f"/api/v1/proposals/{code}")).json()
        assert r.json()["history"] is not None and r.json()["history"] == shown["history"]


@pytest.mark.parametrize(
    ("body", "status", "on_timeline"),
    [
        ({"decision": "accept_with_changes", "agreed_cost": 20_000_000, "reason": "harga satuan 2022"}, 200,
         "diterima_dengan_perubahan"),
        ({"decision": "return", "reason": "lengkapi foto lokasi"}, 200, "dikembalikan"),
        ({"decision": "reject", "reason": "bukan kewenangan kota"}, 200, "ditolak"),
        ({"decision": "reject"}, 422, None),
        ({"decision": "approve"}, 422, None),
    ],
)  # fmt: skip
async def test_each_verification_decision_reaches_the_residents_timeline(
    client: httpx.AsyncClient,
    users,
    body: dict,
    status: int,
    on_timeline: str | None,  # noqa: ANN001
) -> None:
    code = await new_proposal(client)
    r = await client.post(f"/api/v1/proposals/{code}/verification", json=body,
                          headers=await token(client, users["kelurahan"]))  # fmt: skip
    assert r.status_code == status, r.text
    if on_timeline:
        public = (await client.get(f"/api/v1/proposals/{code}")).json()
        assert public["status"] == on_timeline
        assert public["timeline"][-1]["details"].get("reason") == body["reason"]
        page = (await client.get(f"/lacak/{code}")).text
        assert body["reason"] in page


async def test_three_duplicates_merged_stay_linked_both_ways(client: httpx.AsyncClient, users) -> None:  # noqa: ANN001
    target = await new_proposal(client, beneficiaries=100)
    dupes = [await new_proposal(client, beneficiaries=n) for n in (10, 20, 30)]
    auth = await token(client, users["kecamatan"])
    r = await client.post("/api/v1/proposals/merge", json={"into": target, "codes": dupes, "reason": "usulan sama"},
                          headers=auth)  # fmt: skip
    assert r.status_code == 200, r.text
    merged = r.json()
    assert sorted(merged["merged_from"]) == sorted(dupes) and merged["beneficiaries"] == 160
    assert merged["timeline"][-1]["kind"] == "proposal.merged_in"
    for code in dupes:
        original = (await client.get(f"/api/v1/proposals/{code}")).json()
        assert original["status"] == "digabungkan" and original["merged_into"] == target
        assert original["title"]  # nothing deleted
        assert f"/lacak/{target}" in (await client.get(f"/lacak/{code}")).text
    again = await client.post("/api/v1/proposals/merge", json={"into": target, "codes": dupes[:1], "reason": "x"},
                              headers=auth)  # fmt: skip
    assert again.status_code == 409


async def test_a_forum_run_through_the_api(client: httpx.AsyncClient, users) -> None:  # noqa: ANN001
    auth = await token(client, users["kelurahan"])
    codes = [await new_proposal(client, estimated_cost=cost) for cost in (10_000_000, 20_000_000)]
    for code in codes:
        await client.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"}, headers=auth)
    r = await client.post("/api/v1/forums", headers=auth, json={
        "level": "kelurahan", "region": KELURAHAN, "year": 2022, "title": "Musrenbang Kelurahan Margahayu",
        "held_on": "2021-01-20", "place": "Aula kelurahan", "chair": "Lurah Margahayu", "ceiling": 25_000_000,
        "rule": "greedy", "ballot_kind": "approval", "starts_at": "09:30:00",
    })  # fmt: skip
    assert r.status_code == 201, r.text
    forum_id = r.json()["forum_id"]
    other = await client.post("/api/v1/forums", headers=await token(client, users["other"]), json={
        "level": "kelurahan", "region": KELURAHAN, "year": 2022, "held_on": "2021-01-20", "title": "x", "ceiling": 1,
        "rule": "greedy",
        "ballot_kind": "approval"})  # fmt: skip
    assert other.status_code == 403
    delegates = [{"delegate_id": "d1", "name": "Ibu RW 01", "gender": "P"}, {"delegate_id": "d2", "name": "Pak RW 02",
                 "gender": "L"}]  # fmt: skip
    assert (await client.post(f"/api/v1/forums/{forum_id}/delegates", json=delegates, headers=auth)).status_code == 200
    opened = await client.post(f"/api/v1/forums/{forum_id}/open", headers=auth)
    assert opened.json()["status"] == "open"
    agenda = {a["item_id"] for a in opened.json()["agenda"]}
    assert set(codes) <= agenda
    ballots = [{"delegate_id": "d1", "approvals": codes}, {"delegate_id": "d2", "approvals": [codes[1]]}]
    voted = await client.post(f"/api/v1/forums/{forum_id}/ballots", json=ballots, headers=auth)
    assert voted.status_code == 200 and voted.json()["ballots"] == 2
    mandated = await client.post(f"/api/v1/forums/{forum_id}/mandate", json={"delegate_ids": ["d1"]}, headers=auth)
    assert mandated.status_code == 200
    nobody = await client.post(f"/api/v1/forums/{forum_id}/mandate", json={"delegate_ids": ["nobody"]}, headers=auth)
    assert nobody.status_code == 422 and "tidak terdaftar" in nobody.json()["errors"]["delegate_ids"], nobody.text
    closed = (await client.post(f"/api/v1/forums/{forum_id}/close", headers=auth)).json()
    assert closed["status"] == "closed" and closed["women_delegates"] == 1
    minutes = (await client.get(f"/forum/{forum_id}/berita-acara")).text
    assert "Pada hari ini, 20 Januari 2021, pukul 09.30 WIB, bertempat di Aula kelurahan" in minutes
    section = minutes.split("IV. Delegasi")[1].split("V. Tanda tangan")[0]
    assert "Ibu RW 01" in section and "Pak RW 02" not in section
    result = {x["item_id"]: x for x in closed["result"]}
    assert result[codes[1]]["selected"] and result[codes[1]]["rank"] == 1
    late = await client.post(f"/api/v1/forums/{forum_id}/ballots", json=ballots[:1], headers=auth)
    assert late.status_code == 409 and "sudah ditutup" in late.json()["message"]
    assert (await client.get(f"/api/v1/proposals/{codes[1]}")).json()["status"] == "diteruskan"


async def test_browser_login_and_logout(client: httpx.AsyncClient, users) -> None:  # noqa: ANN001
    form = await client.get("/masuk")
    csrf = hidden(form.text, "_csrf_token")
    bad = await client.post("/masuk", data={"_csrf_token": csrf, "username": users["auditor"], "password": "x"})
    assert bad.status_code == 401 and "nama pengguna atau kata sandi salah" in bad.text
    good = await client.post("/masuk", data={"_csrf_token": csrf, "username": users["auditor"], "password": PASSWORD})
    assert good.status_code == 303
    cookie = good.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    async with httpx.AsyncClient(base_url=str(client.base_url), cookies=client.cookies) as proxied:
        assert (await proxied.post("/masuk", data={"_csrf_token": csrf})).status_code == 403  # replaced at sign-in
        fresh = hidden((await proxied.get("/masuk")).text, "_csrf_token")
        behind_tls = await proxied.post(
            "/masuk",
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.253.0.1"},
            data={"_csrf_token": fresh, "username": users["auditor"], "password": PASSWORD},
        )
    assert "secure" in behind_tls.headers["set-cookie"].lower()  # TLS ended at the (trusted) proxy
    home = await client.get("/petugas")
    assert home.status_code == 200 and users["auditor"] in home.text
    no_csrf = await client.post("/keluar")
    assert no_csrf.status_code == 403
    out = await client.post("/keluar", data={"_csrf_token": hidden(home.text, "_csrf_token")})
    assert out.status_code == 303
    gone = await client.get("/petugas")
    assert gone.status_code == 303 and gone.headers["location"] == "/masuk?kembali=/petugas"


async def _open_forum(client: httpx.AsyncClient, auth: dict[str, str], delegates: int, items: int) -> tuple[str, list]:
    codes = [await new_proposal(client, estimated_cost=1_000_000 * (n + 1)) for n in range(items)]
    for code in codes:
        await client.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"}, headers=auth)
    r = await client.post("/api/v1/forums", headers=auth, json={
        "level": "kelurahan", "region": KELURAHAN, "year": 2022, "held_on": "2021-01-20", "title": "Forum uji serentak",
        "ceiling": 10_000_000, "rule": "greedy", "ballot_kind": "approval"})  # fmt: skip
    forum_id = r.json()["forum_id"]
    people = [{"delegate_id": f"d{i}", "name": f"Delegasi {i}"} for i in range(delegates)]
    await client.post(f"/api/v1/forums/{forum_id}/delegates", json=people, headers=auth)
    agenda = (await client.post(f"/api/v1/forums/{forum_id}/open", headers=auth)).json()["agenda"]
    return forum_id, [a["item_id"] for a in agenda]


async def test_fifty_delegates_ballots_entered_at_once_all_count(client: httpx.AsyncClient, users) -> None:  # noqa: ANN001
    auth = await token(client, users["kelurahan"])
    forum_id, items = await _open_forum(client, auth, 50, 3)
    answers = await asyncio.gather(*(
        client.post(f"/api/v1/forums/{forum_id}/ballots", json=[{"delegate_id": f"d{i}", "approvals": [items[i % 3]]}],
                    headers=auth)
        for i in range(50)
    ))  # fmt: skip
    assert [a.status_code for a in answers] == [200] * 50
    closed = (await client.post(f"/api/v1/forums/{forum_id}/close", json={"no_mandate_confirmed": True},
                                headers=auth)).json()  # fmt: skip
    assert closed["ballots"] == 50
    assert sorted(int(x["score"]) for x in closed["result"]) == [16, 17, 17]


async def test_facilitators_acting_at_once_lose_nothing_and_the_loser_is_told(
    client: httpx.AsyncClient,
    users,  # noqa: ANN001
) -> None:
    auth = await token(client, users["kelurahan"])
    other = await token(client, users["kecamatan"])
    forum_id, items = await _open_forum(client, auth, 2, 4)
    answers = await asyncio.gather(*(
        client.post(f"/api/v1/forums/{forum_id}/adjustments", headers=(auth, other)[n % 2],
                    json={"item_id": items[n % 4], "reason": f"penyesuaian {n}", "agreed_cost": 500_000 + n})
        for n in range(8)
    ))  # fmt: skip
    accepted = [n for n, a in enumerate(answers) if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert all(a.status_code == 409 and "data berubah" in a.json()["message"] for a in refused)
    agenda = {a["item_id"]: a for a in (await client.get(f"/api/v1/forums/{forum_id}")).json()["agenda"]}
    applied = [a for a in agenda.values() if a["adjust_reason"]]
    # Every accepted adjustment is there, none applied twice, none that was refused.
    assert {a["adjust_reason"] for a in applied} <= {f"penyesuaian {n}" for n in accepted}
    assert {items[n % 4] for n in accepted} == {a["item_id"] for a in applied}


async def test_the_log_head_check_page_tells_intact_from_unknown(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    digest = (await app_pool.fetchval("SELECT hash FROM events ORDER BY global_position LIMIT 1")).hex()
    assert "Ada dan utuh" in (await client.get(f"/periksa/{digest}")).text
    unknown = await client.get(f"/periksa/{'0' * 64}")
    assert unknown.status_code == 404 and "tidak memuat" in unknown.text


async def test_the_verification_queue_page_decides_and_merges(client: httpx.AsyncClient, users) -> None:  # noqa: ANN001
    form = await client.get("/masuk")
    await client.post("/masuk", data={"_csrf_token": hidden(form.text, "_csrf_token"), "username": users["kelurahan"],
                                      "password": PASSWORD})  # fmt: skip
    title = f"Antrean {uuid.uuid4().hex[:6]}"
    codes = [await new_proposal(client, title=f"{title} {n}") for n in range(3)]
    queue = await client.get("/petugas/verifikasi")
    assert queue.status_code == 200 and all(code in queue.text for code in codes)
    csrf = hidden(queue.text, "_csrf_token")
    r = await client.post(f"/petugas/verifikasi/{codes[0]}", data={"_csrf_token": csrf, "decision": "return",
                                                                   "reason": "sebutkan panjang saluran"})  # fmt: skip
    assert r.status_code == 303
    assert (await client.get(f"/api/v1/proposals/{codes[0]}")).json()["status"] == "dikembalikan"
    r = await client.post("/petugas/gabung", data={"_csrf_token": csrf, "into": codes[1], "codes": [codes[1], codes[2]],
                                                   "reason": "sama persis"})  # fmt: skip
    assert r.status_code == 303
    assert (await client.get(f"/api/v1/proposals/{codes[2]}")).json()["merged_into"] == codes[1]
    outsider = await token(client, users["other"])
    blocked = await client.post(f"/api/v1/proposals/{codes[1]}/verification", json={"decision": "accept"},
                                headers=outsider)  # fmt: skip
    assert blocked.status_code == 403


@pytest.mark.parametrize(
    ("who", "expected"),
    [("admin", 201), ("kelurahan", 201), ("kecamatan", 201), ("other", 403), ("opd", 403), ("auditor", 403),
     (None, 401)],
)  # fmt: skip
async def test_who_may_schedule_a_forum_for_a_kelurahan(
    client: httpx.AsyncClient,
    app_pool: asyncpg.Pool,
    users,
    who: str | None,
    expected: int,  # noqa: ANN001
) -> None:
    headers = await token(client, users[who]) if who else {}
    before = await app_pool.fetchval("SELECT count(*) FROM events")
    r = await client.post("/api/v1/forums", headers=headers, json={
        "level": "kelurahan", "region": KELURAHAN, "year": 2022, "held_on": "2021-01-20", "title": "Matriks izin",
        "ceiling": 1_000_000,
        "rule": "greedy", "ballot_kind": "approval"})  # fmt: skip
    assert r.status_code == expected, r.text
    assert await app_pool.fetchval("SELECT count(*) FROM events") == before + (1 if expected == 201 else 0)


@pytest.mark.parametrize(
    ("who", "expected"),
    [("admin", 200), ("kelurahan", 200), ("kecamatan", 200), ("other", 403), ("opd", 403), ("auditor", 403)],
)
async def test_who_may_merge_proposals(
    client: httpx.AsyncClient,
    app_pool: asyncpg.Pool,
    users,
    who: str,
    expected: int,  # noqa: ANN001
) -> None:
    target, dupe = await new_proposal(client), await new_proposal(client)
    before = await app_pool.fetchval("SELECT count(*) FROM events")
    r = await client.post("/api/v1/proposals/merge", json={"into": target, "codes": [dupe], "reason": "sama"},
                          headers=await token(client, users[who]))  # fmt: skip
    assert r.status_code == expected, r.text
    assert await app_pool.fetchval("SELECT count(*) FROM events") == before + (2 if expected == 200 else 0)
