"""GET /photos/{id}: the re-encoded photo bytes. An id never changes its content, so caches keep it."""

from __future__ import annotations

import uuid

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from musrenbang.http import page_cache
from musrenbang.http.deps import PoolDep
from musrenbang.http.reads import FROM_REPLICA


class PhotoApi(Controller):
    """Public: a photo is shown with its proposal, to anyone."""

    path = "/photos"
    tags = ["proposals"]

    @get("/{photo_id:str}", summary="A proposal photo (JPEG, metadata removed)", media_type="image/jpeg",
         dependencies=FROM_REPLICA)  # fmt: skip
    async def photo(self, request: Request, pool: PoolDep, photo_id: FromPath[str]) -> Response[bytes]:
        try:
            key = uuid.UUID(photo_id)
        except ValueError:
            raise NotFoundException() from None
        row = await pool.fetchrow("SELECT content_type, data, sha256 FROM photos WHERE id = $1", key)
        if row is None:
            raise NotFoundException()
        headers = {"Cache-Control": KEPT, "ETag": f'"{row["sha256"]}"'}
        if page_cache.has_it(request, headers["ETag"]):  # a browser asking again (a reload) has these bytes
            return Response(b"", status_code=304, headers=headers)
        return Response(row["data"], media_type=row["content_type"], headers=headers)


KEPT = "public, max-age=31536000, immutable"
"""A photo's id never names other bytes: any cache may keep it for good."""
