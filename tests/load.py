"""Load on a running `musrenbang serve`, for the stop tests and bench/stop.py: what a busy server holds
when an operator stops it.

- `wrk` POSTing new proposals (each its own Idempotency-Key) over many connections;
- projector screens (`/forum/{id}/layar/aliran`, Server-Sent Events) held open: a response that never
  ends by itself while its forum is open;
- slow readers: clients that ask for a large page and then read nothing, so the server's writes block.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.cycles import open_test_cycle_at

PROPOSAL = {
    "kelurahan": "32.75.01.1001", "rw": 5, "rt": 3, "kind": "fisik", "bidang": "infrastruktur",
    "title": "Perbaikan saluran air", "problem": "Saluran tersumbat sehingga banjir setiap hujan deras",
    "solution": "Normalisasi saluran sepanjang 150 meter", "beneficiaries": 300, "volume": 150, "unit": "meter",
    "estimated_cost": 25000000, "address": "Jl. Melati RW 05", "proposer": {"name": "Budi", "phone": "081234567890"},
}  # fmt: skip

# `thread_id` is the global each thread's `setup` sets, so that the threads' keys differ.
_WRK_SCRIPT = """
local counter = 0
local threads = {}
setup = function(thread) table.insert(threads, thread); thread:set("thread_id", #threads) end
request = function()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json",
                   ["Idempotency-Key"] = "%s-" .. thread_id .. "-" .. counter}
  return wrk.format("POST", "/api/v1/proposals", headers, [==[%s]==])
end
"""

ADMIN, PASSWORD = "admin-stop", "kata-sandi-berhenti"
LOAD_ENV = {"MUSRENBANG_SUBMISSIONS_PER_HOUR": "100000000"}
"""What a server under this load needs: wrk's proposals all come from one address."""


def open_forum(base_url: str, env: dict[str, str]) -> str:
    """Set up a database for the load (the test cycle, an admin account) and schedule a forum, whose
    projector stream then stays open; `env` names the server's database (MUSRENBANG_DATA_DIR or
    MUSRENBANG_DATABASE_URL). Returns the forum's id."""
    url = subprocess.run(["musrenbang", "db", "url"], env=env, capture_output=True, text=True, check=True).stdout
    open_test_cycle_at(url.strip())
    subprocess.run(["musrenbang", "user", "add", "--username", ADMIN, "--role", "admin"], input=PASSWORD + "\n",
                   env=env, capture_output=True, text=True, check=True)  # fmt: skip
    with httpx.Client(base_url=base_url, timeout=30) as http:
        token = http.post("/api/v1/auth/token", json={"username": ADMIN, "password": PASSWORD}).json()["token"]
        made = http.post("/api/v1/forums", headers={"Authorization": f"Bearer {token}"}, json={
            "level": "kelurahan", "region": "32.75.01.1001", "year": 2022, "held_on": "2021-01-20",
            "title": "Musrenbang yang dihentikan", "ceiling": 50_000_000, "rule": "greedy", "ballot_kind": "approval",
        })  # fmt: skip
        made.raise_for_status()
        return str(made.json()["forum_id"])


@dataclasses.dataclass
class Load:
    streams: list[socket.socket]
    readers: list[socket.socket]


@contextlib.contextmanager
def under_load(base_url: str, forum_id: str, *, connections: int = 32, streams: int = 6, slow_readers: int = 4,
               stuck_readers: int = 0) -> Iterator[Load]:  # fmt: skip
    """The server under load for the block: wrk running, `streams` projector streams open (each has had
    its first event), `slow_readers` clients with a few large responses unread (the server's socket
    buffers can take them), `stuck_readers` clients with ~10 MB of responses unread (they cannot: the
    server's writes wait for ever)."""
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is needed: apt-get install -y wrk")
    host, port = base_url.removeprefix("http://").split(":")
    load = Load([], [])
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(_WRK_SCRIPT % (uuid.uuid4().hex, json.dumps(PROPOSAL)))
        wrk = subprocess.Popen(
            ["wrk", "-t2", f"-c{connections}", "-d600s", "-s", str(script), base_url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            load.streams = [_stream(host, int(port), forum_id) for _ in range(streams)]
            load.readers = [_unread(host, int(port), "/schema/openapi.json", 4) for _ in range(slow_readers)]
            load.readers += [_unread(host, int(port), "/schema/openapi.json", 100) for _ in range(stuck_readers)]
            yield load
        finally:
            wrk.kill()
            wrk.wait()
            for s in load.streams + load.readers:
                s.close()


def _stream(host: str, port: int, forum_id: str) -> socket.socket:
    """A projector screen: the stream's headers and first snapshot read, then nothing more."""
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(f"GET /forum/{forum_id}/layar/aliran HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    seen = b""
    while b"data:" not in seen:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"the projector stream ended before its first event: {seen!r}")
        seen += chunk
    if b" 200 " not in seen.split(b"\r\n", 1)[0]:
        raise AssertionError(f"the projector stream was refused: {seen[:200]!r}")
    return s


def _unread(host: str, port: int, path: str, times: int) -> socket.socket:
    """A client that asks for `path` `times` times over (pipelined, uncompressed), with a tiny receive
    buffer, and never reads the answers."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    s.settimeout(30)
    s.connect((host, port))
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n\r\n"
    s.sendall(request.encode() * times)
    # Until the first answer starts (peeked at, not read), the server may not have read the requests
    # yet, and a stop would simply close the connection.
    if not s.recv(1, socket.MSG_PEEK):
        raise AssertionError(f"the server closed the connection instead of answering {path}")
    return s


def ended(stream: socket.socket, timeout: float = 10) -> bool:
    """Whether the server ended the stream's response (its closing chunk came) within `timeout` seconds;
    False when it stayed open, or the connection was cut without it (a killed worker)."""
    stream.settimeout(timeout)
    seen = b""
    try:
        while chunk := stream.recv(65536):
            seen += chunk
            if seen.endswith(b"0\r\n\r\n"):  # the last chunk (the first event was read before)
                return True
    except (TimeoutError, ConnectionResetError):
        pass
    return False


def server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}
    env["MUSRENBANG_DATA_DIR"] = str(data_dir)
    return env
