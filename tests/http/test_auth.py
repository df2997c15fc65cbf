"""Signing in through the real server: back to the page that asked for it, and never to another site;
and over HTTPS, with the `__Host-` cookies a browser keeps."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.http.test_pages import hidden
from tests.http.test_staff import KELURAHAN, PASSWORD, add_user
from tests.server import Server, serving

ASKED = "/petugas/verifikasi?status=dikembalikan&bidang=infrastruktur"


@pytest.fixture(scope="module")
def facilitator(app_database: str) -> str:
    username = f"kembali-{uuid.uuid4().hex[:6]}"
    add_user(app_database, username, "facilitator", "--region", KELURAHAN)
    return username


async def _sign_in(client: httpx.AsyncClient, username: str, form_address: str, back: str | None) -> httpx.Response:
    form = await client.get(form_address)
    assert form.status_code == 200
    fields = {"_csrf_token": hidden(form.text, "_csrf_token"), "username": username, "password": PASSWORD}
    return await client.post("/masuk", data=fields if back is None else {**fields, "kembali": back})


async def test_signing_in_returns_to_the_page_asked_for(client: httpx.AsyncClient, facilitator: str) -> None:
    asked = await client.get(ASKED)
    assert asked.status_code == 303
    sign_in = asked.headers["location"]
    assert sign_in == "/masuk?kembali=/petugas/verifikasi%3Fstatus%3Ddikembalikan%26bidang%3Dinfrastruktur"
    form = await client.get(sign_in)
    assert hidden(form.text, "kembali") == ASKED
    signed_in = await _sign_in(client, facilitator, sign_in, hidden(form.text, "kembali"))
    assert signed_in.status_code == 303 and signed_in.headers["location"] == ASKED
    assert (await client.get(ASKED)).status_code == 200


async def test_a_wrong_password_keeps_the_page_to_return_to(client: httpx.AsyncClient, facilitator: str) -> None:
    form = await client.get("/masuk?kembali=/petugas/verifikasi")
    typed = {"_csrf_token": hidden(form.text, "_csrf_token"), "username": facilitator, "password": "salah",
             "kembali": "/petugas/verifikasi"}  # fmt: skip
    refused = await client.post("/masuk", data=typed)
    assert refused.status_code == 401 and hidden(refused.text, "kembali") == "/petugas/verifikasi"


@pytest.mark.parametrize(
    "elsewhere",
    ["//evil.example/", "https://evil.example/", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
     "/%0a/x\n/evil.example", "javascript:alert(1)", "evil.example", "/" + "a" * 3000],
)  # fmt: skip
async def test_a_page_to_return_to_on_another_site_is_ignored(
    client: httpx.AsyncClient, facilitator: str, elsewhere: str
) -> None:
    form = await client.get("/masuk", params={"kembali": elsewhere})
    assert form.status_code == 200 and 'name="kembali"' not in form.text
    signed_in = await _sign_in(client, facilitator, "/masuk", elsewhere)  # a form made elsewhere
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/petugas"


# --- over HTTPS: a TLS-terminating proxy in front, as a deployment has (SECURITY.md, checklist) --------


@contextlib.contextmanager
def tls_in_front(certificate: Path, key: Path) -> Iterator[tuple[int, list[int]]]:
    """A TLS-terminating proxy on a free port of 127.0.0.1 that passes the bytes to the backend port put
    into the returned list (the server starts once its public address, the proxy's, is known)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    backend: list[int] = []
    loop = asyncio.new_event_loop()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", backend[0])
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)

    proxy = loop.run_until_complete(asyncio.start_server(relay, "127.0.0.1", 0, ssl=context))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield proxy.sockets[0].getsockname()[1], backend
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        proxy.close()
        loop.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def https_site(app_database: str, certificate: tuple[Path, Path]) -> Iterator[tuple[str, Server]]:
    """The server behind TLS at https://127.0.0.1:PORT, which MUSRENBANG_PUBLIC_URL names."""
    with tls_in_front(*certificate) as (port, backend):
        public = f"https://127.0.0.1:{port}"
        with serving(app_database, extra_env={"MUSRENBANG_PUBLIC_URL": public}) as server:
            backend.append(server.port)
            yield public, server


def host_only_cookies(response: httpx.Response) -> dict[str, list[str]]:
    """Each `Set-Cookie` of the response by name, its attributes lower-cased (`secure`, `path=/`, ...)."""
    found: dict[str, list[str]] = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        found[name] = [part.strip().lower() for part in rest.split(";")[1:]]
    return found


def assert_host_only(response: httpx.Response, *names: str) -> None:
    """What a browser demands of a `__Host-` cookie, or it drops the header (also one that would delete
    the cookie): Secure, Path=/, no Domain."""
    cookies = host_only_cookies(response)
    for name in names:
        assert name in cookies, (name, response.headers.get_list("set-cookie"))
        attributes = cookies[name]
        assert "secure" in attributes and "path=/" in attributes, (name, attributes)
        assert not any(a.startswith("domain") for a in attributes), (name, attributes)
    assert set(cookies) <= {"__Host-sesi", "__Host-csrftoken"}, cookies  # no cookie without the prefix


async def test_signing_in_and_out_over_https_uses_host_only_cookies(
    https_site: tuple[str, Server], facilitator: str, certificate: tuple[Path, Path]
) -> None:
    public, _ = https_site
    trust = ssl.create_default_context(cafile=certificate[0])
    async with httpx.AsyncClient(base_url=public, verify=trust, timeout=30) as browser:
        form = await browser.get("/masuk")
        assert form.status_code == 200 and form.url.scheme == "https"
        assert_host_only(form, "__Host-csrftoken")
        signed_in = await browser.post("/masuk", data={"_csrf_token": hidden(form.text, "_csrf_token"),
                                                       "username": facilitator, "password": PASSWORD})  # fmt: skip
        assert signed_in.status_code == 303, signed_in.text
        assert_host_only(signed_in, "__Host-sesi", "__Host-csrftoken")
        session = host_only_cookies(signed_in)["__Host-sesi"]
        assert "httponly" in session and "samesite=lax" in session
        assert [c.name for c in browser.cookies.jar] == ["__Host-sesi"]  # the planted-before CSRF cookie dropped
        # The session works: the cookie jar sends a Secure cookie only over HTTPS, as a browser does.
        home = await browser.get("/petugas")
        assert home.status_code == 200 and facilitator in home.text
        signed_out = await browser.post("/keluar", data={"_csrf_token": hidden(home.text, "_csrf_token")})
        assert signed_out.status_code == 303
        assert_host_only(signed_out, "__Host-sesi", "__Host-csrftoken")
        assert "max-age=0" in host_only_cookies(signed_out)["__Host-sesi"]
        assert not list(browser.cookies.jar)
        assert (await browser.get("/petugas")).status_code == 303  # to the sign-in page again
