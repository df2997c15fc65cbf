"""Fuzzing the staff API with an admin's bearer token (schemathesis): whatever an admin sends, never a
5xx, successful responses match the schema, and whatever the commands accepted, the read models hold.

tests/http/test_fuzz.py fuzzes the whole API anonymously, so the staff operations there never get past
the 401. Here a server of its own, on a database holding the complete small cycle of tests/history.py
plus two new proposals, a forum left scheduled and one open, is fuzzed with an `admin` token. Random
values alone rarely get past the first lookup (a forum id, a kelurahan code, a rule name), so each
request is made realistic from real ids and values (`hints`) except for one or two odd parts: what
schemathesis generated, or a value that has broken servers before (`ODD`). The admin changes that
database at will, which is why it is not the shared `app_server`'s.

A 5xx fails with the server's own traceback (its last frames) next to schemathesis's curl line."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import content_type_conformance, response_schema_conformance
from schemathesis.core.failures import ServerError

from musrenbang.domain import agency, forum, proposal
from tests import history
from tests.server import Server, serving

pytestmark = pytest.mark.fuzz

EXAMPLES = 30  # per operation, after schemathesis's coverage cases; bounded so that CI stays fast
PASSWORD = "kata-sandi-fuzz-yang-panjang"
OTHER_KELURAHAN = "32.75.02.1001"  # no forum in the history: one scheduled and one open go here

# Left out: the token operations (DELETE would revoke the token the run depends on; POST takes
# credentials, not a token, and failed logins lock the client out). Everything else is fuzzed as admin.
NOT_WITH_A_TOKEN = r"^/api/v1/auth/token$"


class Staff:
    def __init__(self, server: Server, token: str, hints: dict[str, list[Any]]) -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {token}"}
        self.hints = hints
        """path parameter or body field name -> real values that replace the generated ones"""


@pytest.fixture(scope="module")
async def staff_database(server_url: str, template_name: str) -> AsyncIterator[tuple[str, history.History]]:
    async with history.database(server_url, template_name) as (url, built):
        yield url, built


@pytest.fixture(scope="module")
def staff_server(staff_database: tuple[str, history.History]) -> Iterator[Server]:
    with serving(staff_database[0], extra_env={"MUSRENBANG_SUBMISSIONS_PER_HOUR": "100000"}) as server:
        yield server


def add_admin(database: str) -> str:
    username = f"fuzz-admin-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": database}
    done = subprocess.run(["musrenbang", "user", "add", "--username", username, "--role", "admin"],
                          input=PASSWORD + "\n", env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return username


async def _seed_live_forums(client: httpx.AsyncClient) -> tuple[dict[str, str], list[str]]:
    """Two new proposals in OTHER_KELURAHAN (one accepted), a forum there with a delegate left scheduled
    and another opened: states in which the commands do their work instead of answering 409. Returns
    the new proposals (code -> revision secret) and the forum ids."""
    codes = {}
    for n in range(2):
        body = {"kelurahan": OTHER_KELURAHAN, "rw": n + 1, "rt": 1, "kind": "fisik", "bidang": "infrastruktur",
                "title": f"Usulan uji fuzz {n}", "problem": "Masalah yang cukup panjang untuk diuji",
                "solution": "Penyelesaian yang jelas dan terukur", "beneficiaries": 40, "volume": 10, "unit": "meter",
                "estimated_cost": 5_000_000, "address": "Jl. Uji",
                "proposer": {"name": "Penguji Fuzz", "phone": "0812-0000-1111"}}  # fmt: skip
        r = await client.post("/api/v1/proposals", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        assert r.status_code == 201, r.text
        codes[r.json()["code"]] = r.json()["revision_secret"]
    accepted = await client.post(f"/api/v1/proposals/{next(iter(codes))}/verification", json={"decision": "accept"})
    assert accepted.status_code == 200, accepted.text
    forums = []
    for title in ("Musrenbang Kelurahan (terjadwal)", "Musrenbang Kelurahan (dibuka)"):
        r = await client.post("/api/v1/forums", json={
            "level": "kelurahan", "region": OTHER_KELURAHAN, "year": history.NEXT_YEAR, "held_on": "2021-01-20",
            "title": title,
            "ceiling": 50_000_000, "rule": "greedy", "ballot_kind": "approval"})  # fmt: skip
        assert r.status_code == 201, r.text
        forum_id = r.json()["forum_id"]
        delegates = [{"delegate_id": "d1", "name": "Ketua RW 01", "gender": "P"}]
        assert (await client.post(f"/api/v1/forums/{forum_id}/delegates", json=delegates)).status_code == 200
        forums.append(forum_id)
    for _ in range(100):  # the open forum's agenda is read from the projections
        opened = await client.post(f"/api/v1/forums/{forums[1]}/open")
        if opened.status_code == 200 and opened.json()["agenda"]:
            break
        await asyncio.sleep(0.1)
    assert opened.status_code == 200, opened.text
    return codes, forums


@pytest.fixture(scope="module")
async def staff(staff_server: Server, staff_database: tuple[str, history.History]) -> Staff:
    database, built = staff_database
    username = add_admin(database)
    async with httpx.AsyncClient(base_url=staff_server.base_url, timeout=30) as client:
        r = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        secrets, forums = await _seed_live_forums(client)
        rkpd = (await client.get(f"/api/v1/rkpd/{built.year}")).json()
    lines = [item["id"] for item in rkpd["items"]]
    assert lines, rkpd
    new = list(secrets)
    codes = [*built.codes, *new]
    kelurahan = [history.KELURAHAN_A, history.KELURAHAN_B, OTHER_KELURAHAN]
    criteria = {c.key: 4 for c in forum.DEFAULT_CRITERIA}
    # Real values, and combinations that go together (a kelurahan forum in a kelurahan, a line's agency
    # and its sub-kegiatan code), so that the request gets to the command unless its odd part stops it.
    hints: dict[str, list[Any]] = {
        # path parameters
        "code": codes,
        "forum_id": [*built.forums.values(), *forums],
        "year": [built.year],
        "line_id": lines,
        "item_id": [*codes, *lines],  # a forum's agenda item (body) or an RKPD line (path)
        "kode": kelurahan,
        # request bodies: verification, merge
        "decision": list(proposal.DECISIONS),
        "reason": ["usulan serupa sudah ada"],
        "agreed_volume": ["10"],
        "agreed_cost": [4_000_000],
        "into": codes,
        "codes": [codes[:2], codes[4:5], new],
        # forums
        "level": ["kelurahan"],
        "region": [OTHER_KELURAHAN, history.KELURAHAN_A],
        "title": ["Musrenbang Kelurahan uji"],
        "held_on": ["2022-01-20"],
        "place": ["Aula kelurahan"],
        "chair": ["Lurah"],
        "ceiling": [50_000_000],
        "quota": [None, 2],
        "rule": ["weighted-criteria"],  # the default: needs no ballot kind, which the body may lack
        "ballot_kind": [None],
        "rule_params": [{}],
        "criteria": [None, [{"key": c.key, "label": c.label, "weight": c.weight} for c in forum.DEFAULT_CRITERIA]],
        "key": [c.key for c in forum.DEFAULT_CRITERIA],
        "label": ["Tingkat kemendesakan"],
        "weight": [1, 2],
        "delegate_id": ["d1", "d2"],
        "name": ["Ketua RW 02"],
        "role": ["ketua RW"],
        "represents": ["RW 02"],
        "gender": ["P", "L"],
        "delegate_ids": [["d1"]],
        "approvals": [codes[:2], new, [new[0]]],
        "points": [{new[0]: 1}, {code: 2 for code in codes[:3]}],
        "ranking": [codes[:2], new],
        "sheet": ["konsensus"],
        "marks": [{code: criteria for code in new}, {codes[0]: criteria}],
        # RKPD
        "to_agency": ["DISPERKIMTAN"],
        "agency": ["DBMSDA"],
        "origins": [codes[:1], codes[1:3], new],
        "priority_program": [1],
        "sub_kegiatan_code": ["1.03.10.2.01.0017"],
        "nomenclature": ["Kepmendagri 050-5889/2021"],
        "program": ["Program Penyelenggaraan Jalan"],
        "kegiatan": ["Penyelenggaraan Jalan Kabupaten/Kota"],
        "sub_kegiatan": ["Rehabilitasi Jalan"],
        "funding_source": list(agency.FUNDING_SOURCES),
        "volume": ["300"],
        "unit": ["m"],
        "pagu": [9_000_000],
        "output_indicator": ["Panjang jalan yang direhabilitasi"],
        "target": ["300"],
        "target_unit": ["m"],
        "note": ["penetapan uji"],
        # a resident's revision
        "revision_secret": list(secrets.values()),
        "kelurahan": kelurahan,
        "rw": [1],
        "rt": [2],
        "kind": list(proposal.KINDS),
        "bidang": list(proposal.BIDANG),
        "problem": ["Saluran tersumbat sehingga banjir setiap hujan"],
        "solution": ["Normalisasi saluran sepanjang 150 meter"],
        "beneficiaries": [300],
        "estimated_cost": [25_000_000],
        "address": ["Jl. Melati"],
        "latitude": [None],
        "longitude": [None],
    }
    return Staff(staff_server, token, hints)


# Values that have broken servers before, by the type schemathesis generated for a field: the limits of
# PostgreSQL's integer columns and of JSON numbers, NUL (which PostgreSQL text cannot hold), non-ASCII
# text, numbers in strings that do not fit a NUMERIC, long and empty texts.
ODD: dict[type, list[Any]] = {
    int: [0, -1, 2**31, -(2**31) - 1, 2**63, 2**70, 10**40],
    float: [1e40, -1e40, 1e-40, 0.5],
    str: ["", " ", "\x00", "Aula\x00Kelurahan", "Désa ✓", "1e40", "-1", "NaN", "Infinity", "9" * 40, "x" * 5000],
    list: [[]],
    dict: [{}],
}


def hinted(value: Any, hints: dict[str, list[Any]], odd_parts: int = 1) -> st.SearchStrategy:
    """`value` as schemathesis generated it, turned into a realistic request with a few odd parts: in
    every object, each field named in `hints` takes a real value, except `odd_parts` to two fields (any,
    hinted or not) that keep what schemathesis generated or take one of the ODD values. So the odd
    values get past the lookups and the other fields' checks and reach the commands and the database;
    shrinking goes towards the realistic request."""

    def usual(name: str, generated: Any) -> st.SearchStrategy:
        real = hints.get(name)
        return st.sampled_from(real) if real else hinted(generated, hints)

    def odd(generated: Any) -> st.SearchStrategy:
        return st.one_of(hinted(generated, hints), st.sampled_from([*ODD.get(type(generated), []), None]))

    if isinstance(value, dict) and value:
        keys = sorted(value)
        return st.sets(st.sampled_from(keys), min_size=min(odd_parts, len(keys)), max_size=2).flatmap(
            lambda off: st.fixed_dictionaries({k: odd(value[k]) if k in off else usual(k, value[k]) for k in keys})
        )
    if isinstance(value, list):
        return st.tuples(*(hinted(v, hints) for v in value)).map(list)
    return st.just(value)


@pytest.fixture(scope="module")
def staff_schema(staff: Staff) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(staff.server.base_url + "/schema/openapi.json")

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: Any) -> st.SearchStrategy:  # noqa: ARG001
        # Mostly real: the body is what varies. Never an empty segment: `/api/v1/cycles/{year}` without
        # its year is another resource (the list), whose answer the detail's schema does not describe.
        return hinted(path_parameters, staff.hints, odd_parts=0).filter(
            lambda given: all(v is not None and v != "" for v in given.values()) if isinstance(given, dict) else True
        )

    @schema.hook
    def flatmap_body(context: Any, body: Any) -> st.SearchStrategy:  # noqa: ARG001
        return hinted(body, staff.hints)

    return schema


schema = schemathesis.pytest.from_fixture("staff_schema").exclude(path_regex=NOT_WITH_A_TOKEN)


# A frame of the application's code (in a work tree or installed), not of a library it calls.
APPLICATION_FRAME = re.compile(r'^  File "((?![^"]*site-packages/)[^"]*/|[^"]*site-packages/)musrenbang/')


def server_traceback(server: Server, offset: int) -> str:
    """The last exception the server logged after byte `offset` of its log: the application's last two
    frames and the exception."""
    for _ in range(40):  # the log is written by a queue handler, a moment after the response
        with server.log.open("rb") as log:
            log.seek(offset)
            logged = log.read().decode(errors="replace")
        if "Traceback (most recent call last)" in logged:
            break
        time.sleep(0.05)
    else:
        return "(no traceback)"
    entry = re.split(r"\n(?=ERROR - )", logged)[-1].rstrip().splitlines()
    frames = [i for i, line in enumerate(entry) if line.startswith("  File ")]
    ours = [i for i in frames if APPLICATION_FRAME.search(entry[i])][-2:] or frames[-1:]
    excerpt = []
    for i in ours:
        excerpt.append(entry[i])
        excerpt += [line for line in entry[i + 1 : i + 2] if line.startswith("    ")]
    return "\n".join(excerpt + [line for line in entry[frames[-1] + 1 :] if not line.startswith(" ")])


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_admin_request_makes_the_server_fail(case: schemathesis.Case, staff: Staff) -> None:
    offset = staff.server.log.stat().st_size

    def no_server_error(ctx: Any, response: Any, case: schemathesis.Case) -> None:
        if response.status_code >= 500:
            raise ServerError(
                operation=case.operation.label,
                status_code=response.status_code,
                message="The server logged:\n\n" + server_traceback(staff.server, offset),
            )

    def documented_success(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
        # Error bodies are the application's own ({"error", "message", ...}) while the schema
        # documents Litestar's default 400 body, so only successful responses are held to the schema.
        return response_schema_conformance(ctx, response, case) if response.status_code < 400 else None

    case.call_and_validate(
        base_url=staff.server.base_url,
        checks=[no_server_error, documented_success, content_type_conformance],
        headers=staff.headers,
        timeout=30,
    )


def test_every_read_model_took_in_what_the_admin_wrote(staff: Staff) -> None:
    """After the fuzzing, whatever the commands accepted into the log, every projection applied: a value
    the log took but a read model cannot hold (a number too big for its column) stalls it for good."""
    lags: dict[str, Any] = {}
    for _ in range(100):
        projections = httpx.get(staff.server.base_url + "/health", timeout=10).json()["projections"]
        lags = {name: p for name, p in projections.items() if p.get("lag") or p.get("state", "ok") != "ok"}
        if not lags:
            return
        time.sleep(0.1)
    failures = [line for line in staff.server.output().splitlines() if "projection" in line and "fail" in line]
    raise AssertionError(f"projections behind: {lags}\n" + "\n".join(failures[-5:]))
