"""The proposals API through the real server: idempotency, bad input, photos, revision, rate limit."""

from __future__ import annotations

import asyncio
import io
import socket
import uuid

import asyncpg
import httpx
import pytest
from PIL import Image

from musrenbang.db.connect import create_pool
from musrenbang.domain import proposal as rules
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.proposals import ProposalService
from tests.http.conftest import PROPOSER, SUBMISSIONS_PER_HOUR, event_count, payload
from tests.images import jpeg_with_gps, png_with_alpha
from tests.waiting import eventually


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def submit(client: httpx.AsyncClient, **changes: object) -> dict:
    r = await client.post("/api/v1/proposals", json=payload(**changes), headers=key())
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_submitted_proposal_can_be_followed_by_its_code(client: httpx.AsyncClient) -> None:
    created = await submit(client, title="Lampu jalan gang Mawar", kelurahan="32.75.02.1001")
    assert created["status"] == "diajukan"
    assert len(created["code"]) == 8 and len(created["revision_secret"]) == 16
    r = await client.get(f"/api/v1/proposals/{created['code']}")
    assert r.status_code == 200
    body = r.json()
    assert body["title"] == "Lampu jalan gang Mawar" and body["kecamatan"] == "32.75.02"
    assert body["estimated_cost"] == 25_000_000 and body["volume"] == "150"
    assert [step["kind"] for step in body["timeline"]] == ["proposal.submitted"]
    assert "proposer" not in body and PROPOSER["name"] not in r.text
    # The code as a person might type it.
    lower = created["code"].lower()
    assert (await client.get(f"/api/v1/proposals/{lower[:4]}-{lower[4:]}")).json()["code"] == created["code"]


async def test_the_same_key_again_answers_the_same_proposal_and_writes_nothing(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    headers = key()
    first = await client.post("/api/v1/proposals", json=payload(), headers=headers)
    before = await event_count(app_pool)
    again = await client.post("/api/v1/proposals", json=payload(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert await event_count(app_pool) == before


async def test_the_same_key_with_a_different_body_is_a_conflict(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    headers = key()
    await client.post("/api/v1/proposals", json=payload(), headers=headers)
    before = await event_count(app_pool)
    r = await client.post("/api/v1/proposals", json=payload(title="Sesuatu yang lain sama sekali"), headers=headers)
    assert r.status_code == 409
    assert r.json()["error"] == "idempotency_key_reused"
    assert await event_count(app_pool) == before


async def test_twenty_concurrent_identical_posts_make_exactly_one_proposal(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    headers = key()
    body = payload(title=f"Serentak {uuid.uuid4().hex[:6]}")
    answers = await asyncio.gather(*(client.post("/api/v1/proposals", json=body, headers=headers) for _ in range(20)))
    odd = [(a.status_code, a.text[:300]) for a in answers if "code" not in a.json()]
    assert len({a.json().get("code") for a in answers}) == 1, odd
    assert sorted(a.status_code for a in answers) == [200] * 19 + [201]
    assert await app_pool.fetchval("SELECT count(*) FROM proposals WHERE title = $1", body["title"]) == 1
    assert (
        await app_pool.fetchval(
            "SELECT count(*) FROM proposer_contacts WHERE proposal_code = $1", answers[0].json()["code"]
        )
        == 1
    )


BAD_BODIES = [
    ({"kelurahan": "32.75.99.9999"}, 422, "kelurahan"),
    ({"rw": 0}, 422, "rw"),
    ({"rt": 100}, 422, "rt"),
    ({"estimated_cost": -25_000_000}, 422, "estimated_cost"),
    ({"estimated_cost": 10**15}, 422, "estimated_cost"),
    ({"title": ""}, 422, "title"),
    ({"title": "x" * 151}, 422, "title"),
    ({"problem": "x" * 6000}, 422, "problem"),  # beyond the edge's limit: as the domain's (s26)
    ({"kind": "lainnya"}, 422, "kind"),
    ({"latitude": 48.85, "longitude": 2.35}, 422, "latitude"),
    ({"beneficiaries": "banyak"}, 422, "beneficiaries"),
    ({"unexpected": 1}, 400, None),
    ({"proposer": {"name": "A", "phone": "12"}}, 422, "proposer.phone"),
    ({"year": 1_000_000_000}, 422, "year"),  # no RKPD year: a mistake in the body, not "cycle not opened yet"
    ({"year": 1999}, 422, "year"),
]


@pytest.mark.parametrize(("changes", "status", "field"), BAD_BODIES)
async def test_bad_input_is_explained_and_writes_nothing(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, changes: dict, status: int, field: str | None
) -> None:
    before = await event_count(app_pool)
    r = await client.post("/api/v1/proposals", json=payload(**changes), headers=key())
    assert r.status_code == status, r.text
    body = r.json()
    assert body["message"]
    if field:
        assert body["errors"][field]
    assert await event_count(app_pool) == before


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"kelurahan": "\xff\xfe"}', "application/json", 400),  # invalid UTF-8
        (b"[1, 2, 3]", "application/json", 400),  # JSON of the wrong shape
        (b"{not json", "application/json", 400),
        (b'{"a":' + b"1" * (70 * 1024) + b"}", "application/json", 413),  # over the size limit
    ],
)
async def test_unreadable_bodies_are_refused(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, content: bytes, content_type: str, status: int
) -> None:
    before = await event_count(app_pool)
    r = await client.post("/api/v1/proposals", content=content, headers={**key(), "Content-Type": content_type})
    assert r.status_code == status
    assert await event_count(app_pool) == before


async def test_a_missing_idempotency_key_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/proposals", json=payload())
    assert r.status_code == 400
    assert "Idempotency-Key" in r.text


async def test_english_messages_on_request(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/proposals?lang=en", json=payload(rw=0), headers=key())
    assert r.json()["errors"]["rw"] == "the RW number is between 1 and 99"


async def test_submissions_per_address_are_limited(client: httpx.AsyncClient, app_pool: asyncpg.Pool,
                                                   address: str) -> None:
    first = key()
    assert (await client.post("/api/v1/proposals", json=payload(), headers=first)).status_code == 201
    for _ in range(SUBMISSIONS_PER_HOUR - 1):
        await submit(client)
    before = await event_count(app_pool)
    r = await client.post("/api/v1/proposals", json=payload(), headers=key())
    assert r.status_code == 429
    assert "terlalu banyak usulan" in r.json()["message"]
    assert r.headers["Retry-After"]
    assert await event_count(app_pool) == before
    # The window keeps its count beside the keys (one row, not a count of every key), and refusals are
    # not counted; a retry of a submission that was counted still gets its answer at the limit.
    assert await app_pool.fetchval("SELECT n FROM rate_limit_windows WHERE bucket = $1", f"submit:{address}") == (
        SUBMISSIONS_PER_HOUR)
    assert (await client.post("/api/v1/proposals", json=payload(), headers=first)).status_code == 200


async def test_kelurahan_list_is_paged(client: httpx.AsyncClient) -> None:
    kelurahan = "32.75.12.1004"
    codes = {(await submit(client, kelurahan=kelurahan, rw=n + 1))["code"] for n in range(3)}
    first = (await client.get(f"/api/v1/kelurahan/{kelurahan}/proposals", params={"per_page": 2})).json()
    second = (await client.get(f"/api/v1/kelurahan/{kelurahan}/proposals", params={"per_page": 2, "page": 2})).json()
    assert first["total"] == 3 and first["kelurahan"]["nama"] and len(first["items"]) == 2
    assert {i["code"] for i in first["items"] + second["items"]} == codes
    only_rw2 = (await client.get(f"/api/v1/kelurahan/{kelurahan}/proposals", params={"rw": 2})).json()
    assert [i["rw"] for i in only_rw2["items"]] == [2]
    missing = await client.get("/api/v1/kelurahan/32.75.01/proposals")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert "halaman" not in missing.json()["message"]  # an API client asked for a thing, not a page
    assert "halaman tidak ditemukan" in (await client.get("/kelurahan/32.75.99.9999")).text
    assert (await client.get(f"/api/v1/kelurahan/{kelurahan}/proposals", params={"per_page": 0})).status_code == 400


def announced_too_large(client: httpx.AsyncClient, path: str, length: int) -> int:
    """Announce a body of `length` bytes and read the answer before sending it, as curl does with
    `Expect: 100-continue`: the server refuses by the announced size without reading the body."""
    host, port = client.base_url.host, client.base_url.port
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        status_line = s.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


async def upload(client: httpx.AsyncClient, code: str, secret: str, data: bytes, name: str = "foto.jpg"):
    return await client.post(
        f"/api/v1/proposals/{code}/photos",
        files={"photo": (name, data, "image/jpeg")},
        data={"revision_secret": secret},
    )


async def test_photos_are_attached_with_the_secret_and_served_without_metadata(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    created = await submit(client)
    code, secret = created["code"], created["revision_secret"]
    original = jpeg_with_gps()
    r = await upload(client, code, secret, original)
    assert r.status_code == 201, r.text
    url = r.json()["url"]
    served = await client.get(url)
    assert served.headers["content-type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(served.content)).getexif()
    etag = served.headers["etag"]
    for asked in (etag, f"W/{etag}", f'"x", {etag}', "*"):  # a reload sends what it has: the bytes stay
        again = await client.get(url, headers={"If-None-Match": asked})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag), asked
    assert (await client.get(url, headers={"If-None-Match": '"other"'})).content == served.content
    assert (await upload(client, code, secret, original)).status_code == 200  # the same photo again
    proposal = (await client.get(f"/api/v1/proposals/{code}")).json()
    assert proposal["photos"] == [url]
    assert [s["kind"] for s in proposal["timeline"]] == ["proposal.submitted", "proposal.photo_attached"]

    before = await event_count(app_pool)
    assert (await upload(client, code, "WRONGSECRET00000", png_with_alpha())).status_code == 403
    assert (await upload(client, code, secret, b"\xff\xd8\xff\xe0 not really a jpeg")).status_code == 422
    assert (await upload(client, code, secret, original + b"\0" * (5 * 1024 * 1024))).status_code == 413
    assert announced_too_large(client, f"/api/v1/proposals/{code}/photos", 8 * 1024 * 1024) == 413
    assert (await upload(client, "ZZZZZZZZ", secret, original)).status_code in (403, 404)
    assert await event_count(app_pool) == before


async def test_a_fourth_photo_is_refused(client: httpx.AsyncClient) -> None:
    created = await submit(client)
    for color in ("red", "green", "blue"):
        r = await upload(client, created["code"], created["revision_secret"], jpeg_with_gps(color=color))
        assert r.status_code == 201
    r = await upload(client, created["code"], created["revision_secret"], jpeg_with_gps(color="white"))
    assert r.status_code == 409
    assert "3 foto" in r.json()["message"]


async def test_a_returned_proposal_is_revised_with_the_secret(
    client: httpx.AsyncClient, app_database: str, app_pool: asyncpg.Pool
) -> None:
    created = await submit(client, title="Pengecoran jalan lingkungan")
    code, secret = created["code"], created["revision_secret"]
    revision = {k: v for k, v in payload(title="Pengecoran jalan lingkungan RT 03").items() if k != "proposer"}
    not_yet = await client.post(f"/api/v1/proposals/{code}/revision", json={**revision, "revision_secret": secret})
    assert not_yet.status_code == 409

    # A verifier returns it (the facilitators' screens come later; the command is the same).
    pool = await create_pool(app_database, min_size=1, max_size=2)
    try:
        runner = ProjectionRunner(pool, all_projections())
        service = ProposalService(pool, EventStore(pool), b"unused-for-verification" * 2, runner)
        await service.verify(rules.VerifyProposal(code=code, decision="return", reason="Sebutkan RT yang dilalui"),
                             Metadata(actor="fasilitator", role="facilitator"))  # fmt: skip
    finally:
        await pool.close()

    wrong = await client.post(f"/api/v1/proposals/{code}/revision", json={**revision, "revision_secret": "X" * 16})
    assert wrong.status_code == 403
    # Its kelurahan stays: moved to another kecamatan, it would leave everyone who returned or will weigh it.
    async def revision_form() -> str | None:  # once the server's read model has the return
        page = (await client.get(f"/lacak/{code}/perbaiki")).text
        return page if "Kirim perbaikan" in page else None

    form = await eventually(revision_form, "the revision form")
    assert 'id="kelurahan-fixed"' in form and 'id="kelurahan"' not in form
    moved = await client.post(f"/api/v1/proposals/{code}/revision",
                              json={**revision, "kelurahan": "32.75.12.1001", "revision_secret": secret})  # fmt: skip
    assert moved.status_code == 422 and "kelurahan tidak dapat diubah" in moved.json()["errors"]["kelurahan"]
    headers = key()
    r = await client.post(f"/api/v1/proposals/{code}/revision", json={**revision, "revision_secret": secret},
                          headers=headers)  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "diajukan" and body["title"] == "Pengecoran jalan lingkungan RT 03"
    assert [s["kind"] for s in body["timeline"]] == ["proposal.submitted", "proposal.returned", "proposal.revised"]
    assert body["timeline"][1]["details"]["reason"] == "Sebutkan RT yang dilalui"
    # The answer lost, the program sends it again with its key: the same answer, nothing written (it used to
    # be refused, 409 "only after it was returned", as if the revision had failed).
    before = await event_count(app_pool)
    again = await client.post(f"/api/v1/proposals/{code}/revision", json={**revision, "revision_secret": secret},
                              headers=headers)  # fmt: skip
    assert again.status_code == 200 and again.json() == body, again.text
    other = {**revision, "title": "Judul lain", "revision_secret": secret}
    reused = await client.post(f"/api/v1/proposals/{code}/revision", json=other, headers=headers)
    assert reused.status_code == 409 and reused.json()["error"] == "idempotency_key_reused", reused.text
    assert await event_count(app_pool) == before


async def test_a_proposer_chooses_how_to_be_told_and_it_never_reaches_the_log(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    """`notify` at submission: the proposal's first message (its code) is queued in the same transaction,
    to the phone for SMS and WhatsApp, to the e-mail for e-mail; "none" (the default) queues nothing. A
    retry queues nothing again. Bad choices are refused and write nothing."""
    person = PROPOSER["name"]
    sms = await submit(client, proposer={"name": person, "phone": "0812-7000-1111", "notify": "sms"})
    wa = await submit(client, proposer={"name": person, "phone": "0812-7000-2222", "notify": "whatsapp"})
    headers = key()
    body = payload(proposer={"name": person, "phone": "0812-7000-3333", "email": "Warga.Tujuh@Contoh.ID",
                             "notify": "email"})  # fmt: skip
    mail = await client.post("/api/v1/proposals", json=body, headers=headers)
    again = await client.post("/api/v1/proposals", json=body, headers=headers)
    assert (mail.status_code, again.status_code) == (201, 200)
    none = await submit(client, proposer={"name": person, "phone": "0812-7000-4444"})
    rows = await app_pool.fetch("SELECT link, channel, address, purpose FROM outbox"
                                " WHERE address LIKE '+62812700%' OR address = 'warga.tujuh@contoh.id'")  # fmt: skip
    queued = {r["link"]: (r["channel"], r["address"], r["purpose"]) for r in rows}
    code = mail.json()["code"]
    assert queued == {
        f"/lacak/{sms['code']}": ("sms", "+6281270001111", "submitted"),
        f"/lacak/{wa['code']}": ("whatsapp", "+6281270002222", "submitted"),
        f"/lacak/{code}": ("email", "warga.tujuh@contoh.id", "submitted"),
    }
    assert f"/lacak/{none['code']}" not in queued
    # The e-mail and the four numbers (in any of their forms: 0812-7000-1111, 81270001111), not "7000"
    # anywhere: the shared database holds other tests' events, whose ids and costs may well contain it.
    assert await app_pool.fetchval(
        "SELECT count(*) FROM events WHERE (data::text || metadata::text) ILIKE '%warga.tujuh%'"
        " OR (data::text || metadata::text) ~ '7000.?(1111|2222|3333|4444)'") == 0  # fmt: skip
    before = await event_count(app_pool)
    for proposer, field in (({"name": person, "phone": "0812-7000-5555", "notify": "email"}, "proposer.email"),
                            ({"name": person, "phone": "0812-7000-5555", "notify": "merpati"}, "proposer.notify"),
                            ({"name": person, "phone": "0812-7000-5555", "email": "bukan-email"}, "proposer.email")):
        r = await client.post("/api/v1/proposals", json=payload(proposer=proposer), headers=key())
        assert r.status_code == 422 and field in r.json()["errors"], r.text
    assert await event_count(app_pool) == before
