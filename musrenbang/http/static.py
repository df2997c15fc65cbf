"""The stylesheet and the script, served from memory.

Litestar's static files router opened, stat-ed and read the file on a worker thread for every request,
and the compression middleware gzipped it again each time: about 1,200 requests a second on one worker
against 16,000 for the same bytes returned by a handler (`bench.static_files`). Every page links both
files, so a phone's first view (or any view after the hour they are kept) paid that. The files are few
and small, and change only with a new release: read once at start, compressed once, sent with a strong
ETag per encoding (a new release's bytes have new ones) and `Cache-Control: public, max-age=3600`, 304 when the
client has them.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from litestar import Controller, Request, Response, get
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
    digest: str
    """Of the plain bytes: each encoding's entity tag is made from it (RFC 9110 8.8.3: one per representation)."""
    media_type: str
    """As Litestar takes it: it adds `charset=utf-8` to text types itself."""

    def etag(self, gzipped: bool) -> str:
        return f'"{self.digest}-gz"' if gzipped else f'"{self.digest}"'


async def _as_is(request: Request) -> None:
    """The app's `before_request` (the city's settings, a JSON body's check) is not for these: a file must
    not wait on the database, least of all while it is away and the 503 page needs its stylesheet."""


def load(directory: Path) -> dict[str, StaticFile]:
    """Every file directly in `directory`, by name."""
    files = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        plain = path.read_bytes()
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        files[path.name] = StaticFile(plain, gzip.compress(plain, compresslevel=9, mtime=0),
                                      hashlib.sha256(plain).hexdigest()[:32], kind)  # fmt: skip
    return files


class StaticFiles(Controller):
    """Public, and kept by any cache: every page links these, signed in or not, so no guard."""

    path = "/static"
    include_in_schema = False

    @get("/{file_path:str}", sync_to_thread=False, before_request=_as_is)
    def static_file(self, request: Request, file_path: FromPath[str]) -> Response:
        """A file of `static_dir()` (loaded into `app.state.static_files` when the app is made); any other
        name, a NUL or a path included, is a file that does not exist (404)."""
        return _send(request, file_path)


@get("/favicon.ico", sync_to_thread=False, before_request=_as_is, include_in_schema=False)
def favicon(request: Request) -> Response:
    """The icon a browser asks for on every page that names none (a Berita Acara, the projector screen):
    a 404 each time cost a phone a round trip and the log a line. The SVG every page links, under the name
    browsers ask for (they go by its media type)."""
    return _send(request, "favicon.svg")


def _send(request: Request, file_path: str) -> Response:
    """`file_path` of the loaded files, gzipped when the client takes it, 304 when it has these bytes."""
    found: StaticFile | None = request.app.state.static_files.get(file_path)
    if found is None:
        raise NotFoundException()
    gzipped = takes_gzip(request.headers.get("accept-encoding", ""))
    headers = {"ETag": found.etag(gzipped), "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    if has_it(request, found.etag(True)) or has_it(request, found.etag(False)):  # the same bytes, either way
        return Response(content=b"", status_code=304, headers=headers)
    ScopeState.from_scope(request.scope).is_cached = True  # compressed already: the middleware passes it on
    if gzipped:
        return Response(content=found.gzipped, media_type=found.media_type,
                        headers={**headers, "Content-Encoding": "gzip"})  # fmt: skip
    return Response(content=found.plain, media_type=found.media_type, headers=headers)
