"""A history up to the city level, for the tests of the Forum Perangkat Daerah and Musrenbang Kota pages:
residents' proposals in one kelurahan, accepted, selected by the kelurahan forum and by the kecamatan
forum (ceiling Rp 100 juta), so that they wait to be taken up by the city. Built through the services
before the server starts, on a database of its own (the city level of a year is one stream, shared by
everything that acts on it)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg
import httpx

from musrenbang.db.connect import create_pool
from musrenbang.domain import forum as f
from musrenbang.domain import proposal as rules
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.forums import ForumService, new_forum_id
from musrenbang.services.proposals import ProposalService
from tests.conftest import _throwaway_database
from tests.cycles import FORUM_DAY, open_test_cycle
from tests.http.test_staff import PASSWORD, add_user
from tests.server import serving

KELURAHAN, KECAMATAN = "32.75.01.1001", "32.75.01"
CEILING = 100_000_000
META = Metadata(actor="uji", role="admin")

# title -> bidang: infrastructure goes to DBMSDA first, health to DINKES.
PROPOSALS = {
    "Perbaikan saluran RW 01": "infrastruktur",
    "Perbaikan saluran RW 02": "infrastruktur",
    "Jalan lingkungan RW 03": "infrastruktur",
    "Penerangan jalan RW 04": "infrastruktur",
    "Turap kali RW 05": "infrastruktur",
    "Posyandu RW 06": "kesehatan",
}


async def _submit(proposals: ProposalService, n: int, title: str, bidang: str) -> str:
    content = await proposals.validate(rules.ProposalInput(
        kelurahan=KELURAHAN, rw=str(n + 1), rt="1", kind="fisik", bidang=bidang, title=title,
        problem="Masalah yang cukup panjang untuk diuji", solution="Penyelesaian yang jelas", beneficiaries="50",
        volume="100", unit="meter", estimated_cost="10 juta", address="Jl. Uji",
    ), year=2022)  # fmt: skip
    submitted = await proposals.submit(content, rules.Proposer(name="Warga Uji", phone="+6281234567"),
                                       idempotency_key=f"city-{n}", request_fingerprint=str(n), year=2022)  # fmt: skip
    return submitted.code


async def seed(database_url: str, *, close_kecamatan: bool = True) -> dict[str, str]:
    """Returns title -> tracking code of the proposals forwarded to the city (without `close_kecamatan`, the
    kecamatan forum is left open, scored, about to forward them)."""
    pool = await create_pool(database_url, min_size=1, max_size=5)
    try:
        store = EventStore(pool)
        await open_test_cycle(store)
        runner = ProjectionRunner(pool, all_projections())
        await runner.catch_up_all()
        proposals = ProposalService(pool, store, b"c" * 32, runner)
        codes = {t: await _submit(proposals, n, t, b) for n, (t, b) in enumerate(PROPOSALS.items())}
        for code in codes.values():
            await proposals.verify(rules.VerifyProposal(code=code, decision="accept"), META)
        await runner.catch_up_all()
        forums = ForumService(pool, store, runner)
        kelurahan = new_forum_id()
        schedule = f.ScheduleForum(forum_id=kelurahan, level="kelurahan", region=KELURAHAN, year=2022,
                                   title="Musrenbang Kelurahan", held_on=FORUM_DAY, place="Aula", chair="Lurah",
                                   ceiling=CEILING, rule="greedy", ballot_kind="approval")  # fmt: skip
        await forums.schedule(schedule, META)
        await forums.register_delegates(kelurahan, [f.RegisterDelegate(delegate_id="d1", name="A", gender="P")], META)
        await forums.open(kelurahan, META)
        forum, _ = await forums.load(kelurahan)
        ballot = f.CastBallot(delegate_id="d1", approvals=tuple(a.item_id for a in forum.agenda))
        await forums.cast_ballot(kelurahan, ballot, META)
        await forums.close(kelurahan, META, no_mandate_confirmed=True)
        kecamatan = new_forum_id()
        await forums.schedule(f.ScheduleForum(forum_id=kecamatan, level="kecamatan", region=KECAMATAN, year=2022,
                                              title="Musrenbang Kecamatan", held_on=FORUM_DAY, place="Aula",
                                              chair="Camat",
                                              ceiling=CEILING), META)  # fmt: skip
        await runner.catch_up_all()
        await forums.open(kecamatan, META)
        forum, _ = await forums.load(kecamatan)
        assert len(forum.agenda) == len(PROPOSALS)
        marks = {a.item_id: {c.key: 4 for c in f.DEFAULT_CRITERIA} for a in forum.agenda}
        await forums.give_scores(kecamatan, f.GiveScores(sheet="konsensus", marks=marks), META)
        if close_kecamatan:
            await forums.close(kecamatan, META, no_mandate_confirmed=True)
        await runner.catch_up_all()
        return codes
    finally:
        await pool.close()


async def sign_in(base_url: str, username: str) -> httpx.AsyncClient:
    """A browser-like client signed in through the login form (session cookie, CSRF cookie)."""
    from tests.http.test_pages import hidden

    client = httpx.AsyncClient(base_url=base_url, timeout=30, headers={"X-Forwarded-For": f"10.77.{len(username)}.1"})
    form = await client.get("/masuk")
    r = await client.post("/masuk", data={"_csrf_token": hidden(form.text, "_csrf_token"), "username": username,
                                          "password": PASSWORD})  # fmt: skip
    assert r.status_code == 303, r.text
    return client


class City:
    """A server on a seeded database of its own: its accounts by key, browsers signed in as them (made on
    first use), and with `tokens`, an API client and bearer headers for the keys named."""

    def __init__(self, base_url: str, pool: asyncpg.Pool, codes: dict[str, str], users: dict[str, str]) -> None:
        self.base_url, self.pool, self.codes, self.users = base_url, pool, codes, users
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.api = httpx.AsyncClient(base_url=base_url, timeout=30)
        self.tokens: dict[str, dict[str, str]] = {}

    async def as_(self, who: str) -> httpx.AsyncClient:
        if who not in self.clients:
            self.clients[who] = await sign_in(self.base_url, self.users[who])
        return self.clients[who]


@asynccontextmanager
async def city_site(server_url: str, template_name: str, accounts: dict[str, tuple[str, ...]],
                    tokens: Sequence[str] = ()) -> AsyncIterator[City]:  # fmt: skip
    """`seed`ed, with one account per key (`accounts`: role and scope options of `musrenbang user add`),
    served with a trusted proxy (each signed-in browser its own address)."""
    async with _throwaway_database(server_url, template_name) as url:
        codes = await seed(url)
        tag = uuid.uuid4().hex[:6]
        users = {key: f"{key}-{tag}" for key in accounts}
        for key, (role, *scope) in accounts.items():
            add_user(url, users[key], role, *scope)
        with serving(url, extra_env={"MUSRENBANG_TRUST_PROXY": "1"}) as server:
            pool = await create_pool(url, min_size=1, max_size=3)
            city = City(server.base_url, pool, codes, users)
            try:
                for key in tokens:
                    r = await city.api.post("/api/v1/auth/token", json={"username": users[key], "password": PASSWORD})
                    city.tokens[key] = {"Authorization": f"Bearer {r.json()['token']}"}
                yield city
            finally:
                for client in [*city.clients.values(), city.api]:
                    await client.aclose()
                await pool.close()


def form_of(page: str, action: str) -> str:
    """The form of `page` that posts to `action`."""
    found = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', page, re.S)
    assert found, f"no form for {action}"
    return found.group(0)
