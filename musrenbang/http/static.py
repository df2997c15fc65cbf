"""The stylesheet and the script, served from memory.

Litestar's static files router opened, stat-ed and read the file on a worker thread for every request,
and the compression middleware gzipped it again each time: about 1,200 requests a second on one worker
against 16,000 for the same bytes returned by a handler (`bench.static_files`). Every page links both
files, so a phone's first view (or any view after the hour they are kept) paid that. The files are few
and small, and change only with a new release: read once at start, compressed once, sent with a strong
ETag (a new release's bytes have a new one) and `Cache-Control: public, max-age=3600`, 304 when the
client has them.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from litestar import Request, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.utils.scope.state import ScopeState

from musrenbang.http.page_cache import has_it, takes_gzip

CACHE_CONTROL = CacheControlHeader(max_age=3600, public=True).to_header()


@dataclass(frozen=True)
class StaticFile:
    plain: bytes
    gzipped: bytes
    etag: str
    media_type: str


def load(directory: Path) -> dict[str, StaticFile]:
    """Every file directly in `directory`, by name."""
    files = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        plain = path.read_bytes()
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        media_type = f"{kind}; charset=utf-8" if kind.startswith("text/") or kind.endswith("javascript") else kind
        files[path.name] = StaticFile(plain, gzip.compress(plain, compresslevel=9, mtime=0),
                                      '"' + hashlib.sha256(plain).hexdigest()[:32] + '"', media_type)  # fmt: skip
    return files


@get("/static/{file_path:str}", include_in_schema=False, sync_to_thread=False)
def static_file(request: Request, file_path: FromPath[str]) -> Response:
    """A file of `static_dir()` (loaded into `app.state.static_files` when the app is made); any other
    name, a NUL or a path included, is a file that does not exist (404)."""
    found: StaticFile | None = request.app.state.static_files.get(file_path)
    if found is None:
        raise NotFoundException()
    headers = {"ETag": found.etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    if has_it(request, found.etag):
        return Response(content=b"", status_code=304, headers=headers)
    ScopeState.from_scope(request.scope).is_cached = True  # compressed already: the middleware passes it on
    if takes_gzip(request.headers.get("accept-encoding", "")):
        return Response(content=found.gzipped, media_type=found.media_type,
                        headers={**headers, "Content-Encoding": "gzip"})  # fmt: skip
    return Response(content=found.plain, media_type=found.media_type, headers=headers)
