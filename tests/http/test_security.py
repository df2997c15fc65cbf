"""Hardened for the open internet, through the real server: no CSRF through the API, client addresses a
client cannot choose, logins that nobody can lock and that cannot be raced, cookies and headers, the
public address from configuration, and busy databases answered with 503."""

from __future__ import annotations

import asyncio
import html
import re
import time
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from musrenbang.config import TrustedProxies
from musrenbang.http.ratelimit import _without_port, limit_key, pick_client
from musrenbang.http.security import CONTENT_SECURITY_POLICY
from musrenbang.services import accounts
from tests.conftest import SUBMISSIONS_PER_HOUR, with_database
from tests.http.conftest import event_count, payload
from tests.http.test_pages import hidden
from tests.http.test_staff import PASSWORD, add_user, new_proposal, users  # noqa: F401  (module fixture)
from tests.server import Server, serving

pytestmark = pytest.mark.edge  # the HTTP edge: the same on every PostgreSQL (.ci/run)


async def signed_in_cookie(client: httpx.AsyncClient, username: str) -> httpx.Cookies:
    form = await client.get("/masuk")
    r = await client.post("/masuk", data={"_csrf_token": hidden(form.text, "_csrf_token"), "username": username,
                                          "password": PASSWORD})  # fmt: skip
    assert r.status_code == 303, r.text
    return client.cookies


async def test_the_api_takes_no_authority_from_the_session_cookie(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    """What another site could make a signed-in facilitator's browser send: the cookie rides along, but
    the API answers 401 and writes nothing (staff use `Authorization: Bearer`)."""
    code = await new_proposal(client)
    await signed_in_cookie(client, users["admin"])
    assert (await client.get("/petugas")).status_code == 200  # the cookie works on pages
    before = await event_count(app_pool)
    forged = await client.post(f"/api/v1/proposals/{code}/verification", content=b'{"decision": "accept"}',
                               headers={"Content-Type": "text/plain"})  # fmt: skip
    as_json = await client.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"})
    assert forged.status_code in (400, 401, 415) and as_json.status_code == 401  # text/plain: as a form sends
    assert await event_count(app_pool) == before
    assert (await client.get(f"/api/v1/proposals/{code}")).json()["status"] == "diajukan"


def test_the_client_is_the_rightmost_hop_no_trusted_proxy_wrote() -> None:
    one = TrustedProxies(hops=1)
    assert pick_client(["6.6.6.6", "10.1.2.3"], "192.168.0.9", one) == "10.1.2.3"
    assert pick_client(["6.6.6.6", "7.7.7.7", "10.1.2.3", "10.0.0.7"], "10.0.0.8", TrustedProxies(hops=2)) == (
        "10.1.2.3")  # fmt: skip
    nets = TrustedProxies(networks=("10.0.0.0/8",))
    assert pick_client(["6.6.6.6", "8.8.8.8", "10.0.0.2"], "10.0.0.1", nets) == "8.8.8.8"
    assert pick_client(["not-an-address", "10.0.0.2"], "10.0.0.1", nets) == "not-an-address"
    assert pick_client(["6.6.6.6"], "192.168.0.9", TrustedProxies()) == "192.168.0.9"  # no proxy trusted
    # A proxy on a dual-stack socket shows as ::ffff:10.0.0.1: still inside 10.0.0.0/8.
    assert pick_client(["6.6.6.6", "8.8.8.8"], "::ffff:10.0.0.1", nets) == "8.8.8.8"


def test_ports_in_forwarded_hops_are_dropped_and_ipv6_counts_by_its_64() -> None:
    assert [_without_port(h) for h in ("1.2.3.4:5555", "[2001:db8::1]:443", "2001:db8::1", "1.2.3.4")] == [
        "1.2.3.4", "2001:db8::1", "2001:db8::1", "1.2.3.4"]  # fmt: skip
    # One household or phone is given a /64 and picks any address in it: the limits count the /64.
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("::ffff:10.1.2.3") == "10.1.2.3" and limit_key("10.1.2.3") == "10.1.2.3"
    assert limit_key("unknown") == "unknown"


async def test_an_ipv6_client_cannot_escape_the_limit_by_changing_address(app_server: Server) -> None:
    prefix = f"2001:db8:{uuid.uuid4().int % 65000:x}:1"
    answers = []
    async with httpx.AsyncClient(base_url=app_server.base_url, timeout=30) as client:
        for n in range(SUBMISSIONS_PER_HOUR + 3):
            r = await client.post("/api/v1/proposals", json=payload(), headers={
                "Idempotency-Key": str(uuid.uuid4()), "X-Forwarded-For": f"{prefix}:{n + 1:x}::7"})  # fmt: skip
            answers.append(r.status_code)
    assert answers.count(201) == SUBMISSIONS_PER_HOUR and answers.count(429) == 3


async def test_a_client_cannot_choose_its_address_through_x_forwarded_for(app_server: Server) -> None:
    """The test server trusts one proxy: the client is the last entry. Varying the first entry, as a
    client behind that proxy could, gets nowhere past the per-address limit."""
    real = f"10.77.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    answers = []
    async with httpx.AsyncClient(base_url=app_server.base_url, timeout=30) as client:
        for n in range(SUBMISSIONS_PER_HOUR + 7):
            r = await client.post("/api/v1/proposals", json=payload(), headers={
                "Idempotency-Key": str(uuid.uuid4()), "X-Forwarded-For": f"1.2.3.{n}, {real}"})  # fmt: skip
            answers.append(r.status_code)
    assert answers.count(201) == SUBMISSIONS_PER_HOUR and answers.count(429) == 7


async def test_concurrent_wrong_guesses_cannot_pass_the_count(app_server: Server, app_database: str) -> None:
    name = f"raced-{uuid.uuid4().hex[:6]}"
    add_user(app_database, name, "auditor")
    async with httpx.AsyncClient(base_url=app_server.base_url, timeout=60) as client:

        async def guess(n: int) -> int:
            r = await client.post("/api/v1/auth/token", json={"username": name, "password": f"tebakan-{n}"},
                                  headers={"X-Forwarded-For": "10.66.0.1"})  # fmt: skip
            return r.status_code

        answers = await asyncio.gather(*(guess(n) for n in range(40)))
    checked = answers.count(401)  # the guesses that reached the password check
    assert answers.count(429) >= 30  # the race: 40 at once, nearly all turned away before the check
    assert 5 <= checked <= 7, answers  # the free attempts, and at most the odd one after a delay ran out


async def test_concurrent_right_passwords_all_get_in(app_server: Server, app_database: str) -> None:
    """The free attempts are free also when they arrive together: each one that waited for another's row
    lock compares against the time after the wait (clock_timestamp), not its transaction's start, and so
    does not find the other's next_try still ahead. Before, 1-2 of 4 such logins got 429 in 5 runs of 6."""
    name = f"together-{uuid.uuid4().hex[:6]}"
    add_user(app_database, name, "auditor")
    async with httpx.AsyncClient(base_url=app_server.base_url, timeout=60) as client:

        async def log_in() -> tuple[int, float, float]:
            start = time.monotonic()
            r = await client.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD},
                                  headers={"X-Forwarded-For": "10.65.0.1"})  # fmt: skip
            return r.status_code, start, time.monotonic()

        for _ in range(3):
            answers = await asyncio.gather(*(log_in() for _ in range(4)))
            assert [status for status, _, _ in answers] == [200] * 4, answers
            # The race happened: all four were in flight at the same moment.
            assert max(start for _, start, _ in answers) < min(end for _, _, end in answers)


async def test_throttle_rows_of_names_nobody_logs_in_as_are_forgotten(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    """Guesses at made-up usernames never succeed, and success is when rows used to be cleared: a failed
    login also forgets rows quiet for an hour, so the table cannot grow without end."""
    long_ago = "now() - interval '2 hours'"
    await app_pool.execute("INSERT INTO login_throttle (key, failures, next_try, last_try)"
                           f" VALUES ('dibuat-buat|10.9.9.9', 3, {long_ago}, {long_ago})")  # fmt: skip
    r = await client.post("/api/v1/auth/token", json={"username": f"tidak-ada-{uuid.uuid4().hex[:6]}",
                                                      "password": "bukan-kata-sandinya"})  # fmt: skip
    assert r.status_code == 401
    assert await app_pool.fetchval("SELECT count(*) FROM login_throttle WHERE key = 'dibuat-buat|10.9.9.9'") == 0


def test_an_unknown_username_costs_the_same_password_check() -> None:
    """Timing cannot tell whether a username exists: an unknown one is checked against a hash made with the
    very parameters of real ones (bench/logins.py measures both)."""
    real = accounts._hasher.hash("kata-sandi-yang-panjang")
    params = re.sub(r"\$[^$]+\$[^$]+$", "", real)  # $argon2id$v=19$m=...,t=...,p=...
    assert accounts._dummy_hash().startswith(params) and params.count("$") == 3


async def test_the_session_cookie_lives_hours_not_decades(client: httpx.AsyncClient, users: dict[str, str]) -> None:  # noqa: F811
    form = await client.get("/masuk")
    r = await client.post("/masuk", data={"_csrf_token": hidden(form.text, "_csrf_token"),
                                          "username": users["auditor"], "password": PASSWORD})  # fmt: skip
    cookie = r.headers["set-cookie"]
    max_age = int(re.search(r"Max-Age=(\d+)", cookie, re.I)[1])  # type: ignore[index]
    assert 11 * 3600 < max_age <= 12 * 3600
    assert "2083" not in cookie


async def test_signing_in_makes_a_csrf_token_planted_before_worth_nothing(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    """A host that may set cookies for this one plants a CSRF pair it knows; the staff member signs in.
    The pair was still good for any form afterwards (a security review): signing in drops it."""
    planted = hidden((await client.get("/masuk")).text, "_csrf_token")
    r = await client.post("/masuk", data={"_csrf_token": planted, "username": users["auditor"], "password": PASSWORD})
    assert r.status_code == 303
    fresh = hidden((await client.get("/petugas")).text, "_csrf_token")
    assert fresh != planted
    before = await event_count(app_pool)
    assert (await client.post("/keluar", data={"_csrf_token": planted})).status_code == 403
    assert (await client.get("/petugas")).status_code == 200  # still signed in: the forged sign-out failed
    assert (await client.post("/keluar", data={"_csrf_token": fresh})).status_code == 303
    assert await event_count(app_pool) == before


async def test_every_response_carries_the_security_headers(client: httpx.AsyncClient) -> None:
    for path in ("/", "/usulan/baru", "/api/v1/log/head", "/static/app.css", "/tidak-ada"):
        r = await client.get(path)
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in r.headers  # plain HTTP here
    page = (await client.get("/usulan/baru")).text
    assert "<script>" not in page and " style=" not in page  # nothing inline for the policy to allow


@pytest.fixture(scope="module")
def https_site(app_database: str) -> Iterator[Server]:
    with serving(app_database, extra_env={"MUSRENBANG_PUBLIC_URL": "https://musrenbang.example.go.id"}) as server:
        yield server


async def test_over_https_cookies_are_secure_and_hsts_is_sent(https_site: Server) -> None:
    async with httpx.AsyncClient(base_url=https_site.base_url, timeout=30) as client:
        r = await client.get("/usulan/baru")
    assert r.headers["strict-transport-security"].startswith("max-age=")
    # Named __Host-: only this very host, over HTTPS, can set it (no sibling host of the city's domain).
    assert "secure" in r.headers["set-cookie"].lower() and "__Host-csrftoken=" in r.headers["set-cookie"]


async def test_links_use_the_configured_address_never_the_host_header(
    city_server: Server, city_database: str
) -> None:
    conn = await asyncpg.connect(city_database)
    try:
        forum_id = await conn.fetchval("SELECT forum_id FROM forums WHERE status = 'closed' LIMIT 1")
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        page = await client.get(f"/forum/{forum_id}/berita-acara", headers={"Host": "evil.example"})
        # Browsers drop tab, CR and LF from a URL and read a backslash as a slash.
        others = [await client.get(path) for path in ("//evil.example/", "/\\evil.example/", "/%09/evil.example/",
                                                      "/%0a/evil.example/x", "/%5C%09/evil.example")]  # fmt: skip
    assert page.status_code == 200 and "evil.example" not in page.text
    assert f"{city_server.base_url}/periksa/" in page.text  # the default public address: where serve listens
    for r in others:
        links = [re.sub(r"[\t\r\n]", "", html.unescape(link)).replace("\\", "/")
                 for link in re.findall(r'href="([^"]*)"', r.text)]  # fmt: skip
        # a path on this site, or a place on the page (the skip link's #isi)
        assert links and all(link[:1] in "/#" and not link.startswith("//") for link in links), links
    # And the log: a %0a in the path does not start a line of the attacker's writing.
    assert not any(line.startswith("INJECTED") for line in city_server.output().splitlines())
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        assert (await client.get("/%0aINJECTED line/x")).status_code == 404
    output = city_server.logged("%0AINJECTED")
    assert not any(line.startswith("INJECTED") for line in output.splitlines())


async def test_a_busy_database_answers_503_not_500(server_url: str, template_name: str) -> None:
    """An ordinary role (as in production) with a connection limit: when PostgreSQL has no connection
    left for the server, requests that need a new one get 503 with Retry-After."""
    role, name = f"busy_{uuid.uuid4().hex[:8]}", f"mtest_busy_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 4')
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
        conn = await asyncpg.connect(with_database(server_url, name))
        try:
            for grant in ("ALL ON ALL TABLES", "ALL ON ALL SEQUENCES", "EXECUTE ON ALL FUNCTIONS"):
                await conn.execute(f'GRANT {grant} IN SCHEMA public TO "{role}"')
            await conn.execute(f'GRANT CREATE, USAGE ON SCHEMA public TO "{role}"')
        finally:
            await conn.close()
        url = re.sub(r"//[^@/]*@", f"//{role}@", with_database(server_url, name))
        if "@" not in url:
            url = url.replace("://", f"://{role}@", 1)
        with serving(url) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
                answers = await asyncio.gather(*(client.get(f"/kelurahan/32.75.01.10{n % 8 + 1:02d}")
                                                 for n in range(40)))  # fmt: skip
            statuses = [r.status_code for r in answers]
            assert 500 not in statuses and 503 in statuses, statuses
            assert all(r.headers.get("retry-after") == "5" for r in answers if r.status_code == 503)
            assert "500 GET" not in server.output()  # no request fell through to the server-error handler
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()



async def test_a_static_file_name_no_file_system_takes_is_not_found(client: httpx.AsyncClient) -> None:
    """A NUL in the name, or a part longer than a file name may be, once reached the file system (500)."""
    for path in ("/static/app.css%00", "/static/" + "a" * 300, "/static/" + "é" * 200 + ".css", "/static/%00/x"):
        r = await client.get(path)
        assert r.status_code == 404, (path, r.status_code)
    assert (await client.get("/static/app.css")).status_code == 200


async def test_responses_a_shared_cache_may_keep_set_no_csrf_cookie(city_server: Server) -> None:
    """A cache that kept `Set-Cookie` with a public response would give every visitor the same token."""
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        for path in ("/static/app.css", "/rkpd/2022.atom", "/kelurahan/32.75.01.1001.atom"):
            r = await client.get(path)
            assert r.status_code == 200 and "public" in r.headers["cache-control"], path
            assert "set-cookie" not in r.headers, (path, r.headers["set-cookie"])
        form = await client.get("/usulan/baru")  # a page with a form still gets its token
    assert "csrftoken=" in form.headers["set-cookie"]


async def test_a_response_that_sets_a_cookie_is_kept_by_the_browser_alone(city_server: Server) -> None:
    """The RKPD list is `no-cache` (a proxy may keep it and ask again); its first view also sets the CSRF
    token, and a proxy that kept that response would hand the token to everyone after. So a response with
    Set-Cookie is `private`, and the same page asked with the cookie is shareable again."""
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        for path in ("/rkpd/2022", "/"):
            client.cookies.clear()
            first = await client.get(path)
            assert "csrftoken=" in first.headers["set-cookie"], path
            assert "private" in first.headers["cache-control"].split(", "), (path, first.headers["cache-control"])
            again = await client.get(path)
            assert "set-cookie" not in again.headers, path
            assert "private" not in again.headers.get("cache-control", ""), path
        cached = await client.get("/rkpd/2022")
        assert cached.headers["cache-control"] == "no-cache"
        # The proposal form is never kept by anyone: its idempotency key is one visitor's (review s20).
        client.cookies.clear()
        first, again = await client.get("/usulan/baru"), await client.get("/usulan/baru")
        assert "csrftoken=" in first.headers["set-cookie"] and "set-cookie" not in again.headers
        assert first.headers["cache-control"] == again.headers["cache-control"] == "no-store"


async def test_no_answer_to_a_signed_in_request_is_kept_by_the_browser(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
) -> None:
    """On the shared computer of a kelurahan office, Back after "Keluar" showed the previous person's
    screens from the browser's cache: the verification queue, a forum, the audit log sent no Cache-Control.
    Whatever answers a request with a session or a bearer token is `no-store`; the static files are not
    anyone's and stay kept, and the same public page asked without a session is shareable again."""
    form = await client.get("/masuk")
    signed_in = await client.post("/masuk", data={"_csrf_token": hidden(form.text, "_csrf_token"),
                                                  "username": users["kelurahan"], "password": PASSWORD})  # fmt: skip
    assert signed_in.status_code == 303
    for path in ("/petugas/verifikasi", "/audit", "/petugas/musyawarah/baru", "/rkpd/2022", "/tidak-ada"):
        r = await client.get(path)
        assert r.headers.get("cache-control") == "no-store", (path, r.status_code, r.headers.get("cache-control"))
    assert "no-store" not in (await client.get("/static/app.css")).headers["cache-control"]
    token = await client.post("/api/v1/auth/token", json={"username": users["kelurahan"], "password": PASSWORD})
    async with httpx.AsyncClient(base_url=str(client.base_url), timeout=30) as api:
        bearer = {"Authorization": f"Bearer {token.json()['token']}"}
        assert (await api.get("/api/v1/me", headers=bearer)).headers.get("cache-control") == "no-store"
        assert "no-store" not in (await api.get("/rkpd/2022")).headers.get("cache-control", "")


def test_https_behind_a_proxy_with_an_http_public_address_is_told_once_in_the_log(app_database: str) -> None:
    """A TLS proxy in front, MUSRENBANG_PUBLIC_URL left at http://: the CSRF cookie goes without Secure, no
    HSTS, and messages to residents link to plain HTTP. Nothing showed it; the log now says so, once."""
    env = {"MUSRENBANG_PUBLIC_URL": "http://musrenbang.example.go.id", "MUSRENBANG_TRUST_PROXY": "1"}
    with serving(app_database, extra_env=env) as server, httpx.Client(base_url=server.base_url, timeout=30) as client:
        assert client.get("/").status_code == 200  # plain HTTP, as the address says: nothing to tell
        assert "MUSRENBANG_PUBLIC_URL" not in server.output()
        for _ in range(3):
            assert client.get("/", headers={"X-Forwarded-Proto": "https"}).status_code == 200
        # Logged through a queue and a thread of its own: the line lands a moment after the answer (read
        # at once, it was missed once under CI load); counted once the server has stopped and written all.
        server.logged("requests arrive over HTTPS but MUSRENBANG_PUBLIC_URL is http://")
    told = server.log.read_text().count("requests arrive over HTTPS but MUSRENBANG_PUBLIC_URL is http://")
    assert told == 1
