"""GET /photos/{id}: the re-encoded photo bytes. An id never changes its content, so caches keep it."""

from __future__ import annotations

import uuid

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from musrenbang.http.deps import PoolDep
from musrenbang.http.reads import FROM_REPLICA


@get("/photos/{photo_id:str}", summary="A proposal photo (JPEG, metadata removed)", tags=["proposals"],
     media_type="image/jpeg", dependencies=FROM_REPLICA)  # fmt: skip
async def photo(pool: PoolDep, photo_id: FromPath[str]) -> Response[bytes]:
    try:
        key = uuid.UUID(photo_id)
    except ValueError:
        raise NotFoundException() from None
    row = await pool.fetchrow("SELECT content_type, data, sha256 FROM photos WHERE id = $1", key)
    if row is None:
        raise NotFoundException()
    return Response(
        row["data"],
        media_type=row["content_type"],
        headers={"Cache-Control": "public, max-age=31536000, immutable", "ETag": f'"{row["sha256"]}"'},
    )
