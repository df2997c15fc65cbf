"""`musrenbang verify --file F --against URL`: compare what a running server publishes with what the
exported log recomputes to.

For each closed forum: `GET /api/v1/forums/{id}` (status, the ranked result with selection and
reasons, and the delegates and women delegates as corrected, those withdrawn left out); for each RKPD year
with an adoption: `GET /api/v1/rkpd/{year}` (the published list is the latest adopted revision: revision,
head hash, every line and its origins, the total). Uses httpx when it is installed, the standard library
otherwise. The server's read models follow the log within moments; a server that has moved on since the
export (a newer adoption) shows as a difference.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

from musrenbang.domain.events import RankedItem, RkpdLine
from musrenbang.recompute import Recomputer, line_differences, ranking_differences

PUBLISHED, RECOMPUTED = "published", "recomputed"


class Unreachable(Exception):
    """The server did not answer (or not with JSON)."""


Fetch = Callable[[str], tuple[int, Any]]


def _fetcher(base_url: str) -> tuple[Fetch, Callable[[], None]]:
    base = base_url.rstrip("/")
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is there in tests
        httpx = None  # type: ignore[assignment]  # then the standard library's client below
    if httpx is not None:
        client = httpx.Client(base_url=base, timeout=30, follow_redirects=True)

        def fetch_httpx(path: str) -> tuple[int, Any]:
            try:
                r = client.get(path, headers={"Accept": "application/json"})
            except httpx.HTTPError as exc:
                raise Unreachable(f"{base}{path}: {exc}") from None
            return r.status_code, _json(base + path, r.status_code, r.content)

        return fetch_httpx, client.close

    def fetch_urllib(path: str) -> tuple[int, Any]:
        request = urllib.request.Request(base + path, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310 (the auditor's own URL)
                return r.status, _json(base + path, r.status, r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except (urllib.error.URLError, OSError) as exc:
            raise Unreachable(f"{base}{path}: {exc}") from None

    return fetch_urllib, lambda: None


def _json(url: str, status: int, body: bytes) -> Any:
    if status != 200:
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise Unreachable(f"{url}: the answer is not JSON") from None


def compare_with_server(base_url: str, recomputed: Recomputer) -> list[str]:
    """One line per difference between the server's published results and the recomputed ones."""
    fetch, close = _fetcher(base_url)
    try:
        return list(_differences(fetch, recomputed))
    finally:
        close()


def _differences(fetch: Fetch, rec: Recomputer) -> Iterator[str]:
    for forum_id, closed in sorted(rec.closed.items()):
        if closed.recomputed is None:
            continue  # already reported: nothing to compare with
        where = f"forum {forum_id} (/api/v1/forums/{forum_id})"
        status, body = fetch(f"/api/v1/forums/{urllib.parse.quote(forum_id, safe='')}")
        if status != 200:
            yield f"{where}: the server answers {status}"
            continue
        if body.get("status") != "closed" or body.get("result") is None:
            yield f"{where}: the server publishes status {body.get('status')!r} and no result; the log closed it"
            continue
        published = [
            RankedItem(
                item_id=r["item_id"],
                rank=r["rank"],
                score=r["score"],
                cost=r["cost"],
                selected=r["selected"],
                reason=r.get("reason"),
            )  # fmt: skip
            for r in body["result"]
        ]
        for line in ranking_differences(published, closed.recomputed.ranking, PUBLISHED, RECOMPUTED):
            yield f"{where}: {line}"
        if body.get("spent") != closed.recomputed.spent:
            yield f"{where}: spent {body.get('spent')} {PUBLISHED}, {closed.recomputed.spent} {RECOMPUTED}"
        # The attendance: delegates as corrected, without those withdrawn (forum.delegate_corrected, _withdrawn).
        if body.get("delegates") != closed.delegates:
            yield f"{where}: delegates {body.get('delegates')} {PUBLISHED}, {closed.delegates} {RECOMPUTED}"
        if body.get("women_delegates") != closed.women:
            yield f"{where}: women delegates {body.get('women_delegates')} {PUBLISHED}, {closed.women} {RECOMPUTED}"
    for year, adoption in sorted(rec.adoptions.items()):
        where = f"rkpd {year} (/api/v1/rkpd/{year})"
        status, body = fetch(f"/api/v1/rkpd/{year}")
        if status != 200:
            yield f"{where}: the server answers {status}"
            continue
        if body.get("revision") != adoption.revision:
            yield f"{where}: revision {body.get('revision')} {PUBLISHED}, {adoption.revision} adopted in the log"
            continue
        head = body.get("head") or {}
        if head.get("hash") != adoption.at.hash.hex():
            yield f"{where}: head hash {head.get('hash')} {PUBLISHED}, {adoption.at.hash.hex()} in the log"
        try:
            published_lines = [_line(item) for item in body.get("items", [])]
        except (KeyError, TypeError) as exc:
            yield f"{where}: an item cannot be read: {exc!r}"
            continue
        for line in line_differences(published_lines, adoption.lines, PUBLISHED, RECOMPUTED):
            yield f"{where}: {line}"
        total = sum(x.pagu for x in adoption.lines)
        if body.get("total_pagu") != total:
            yield f"{where}: total pagu {body.get('total_pagu')} {PUBLISHED}, {total} {RECOMPUTED}"


def _line(item: dict[str, Any]) -> RkpdLine:
    """A published RKPD item in the shape of the log's line."""
    return RkpdLine(
        line_id=item["id"], agency=item["agency"], origins=tuple(o["code"] for o in item["origins"]),
        locations=tuple(p["kode"] for p in item["locations"]), priority_program=item["priority_program"],
        sub_kegiatan_code=item["sub_kegiatan_code"], nomenclature=item["nomenclature"], program=item["program"],
        kegiatan=item["kegiatan"], sub_kegiatan=item["sub_kegiatan"], funding_source=item["funding_source"],
        volume=item["volume"], unit=item["unit"], pagu=item["pagu"], output_indicator=item["output_indicator"],
        target=item["target"], target_unit=item["target_unit"], renja_reason=item.get("renja_reason", ""),
    )  # fmt: skip
