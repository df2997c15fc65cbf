"""JSON bodies read as written: a number sent as text is a client's mistake, told, not guessed at.

Litestar converts every handler's arguments in msgspec's lax mode (`strict=False`, hard-coded), which is
right for query strings and forms, where everything is text, but reads a JSON body's `"80"` as 80,
`"true"` as True and `"null"` as None. For a JSON API that hides a client's bug (a spreadsheet export
that quotes every cell) behind a guess. `strict_json_body` runs before the arguments are converted: a
body that only lax mode can read (text for a number; 1500000.0 for a whole number, 1 for true) is refused with
422, naming the field, and nothing is done; a body that neither mode can read is left to Litestar's own
400, which names it too. The body's Content-Type is not asked here: a JSON handler's body under another
one is refused with 415 before (http/edge.py), and this check holds whichever door a body comes through.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.params import BodyKwarg

from musrenbang.domain.errors import N_, ValidationFailed

_EXPECTED = re.compile(r"Expected `([^`]+)`, got `(\w+)`(?: - at `\$\.?([^`]*)`)?")
_ASK = {  # the value was text ("80"): what to write instead
    "int": N_("isi dengan bilangan bulat (angka tanpa tanda kutip)"),
    "float": N_("isi dengan angka (tanpa tanda kutip)"),
    "bool": N_("isi dengan true atau false (tanpa tanda kutip)"),
}
_ASK_OTHER = {  # the value was of another kind (1500000.0 for a whole number, 1 for true)
    "int": N_("isi dengan bilangan bulat"),
    "bool": N_("isi dengan true atau false"),
}
_ANY = N_("isi dengan nilai sesuai jenisnya, tanpa tanda kutip")


def _json_body_type(request: Request[Any, Any, Any]) -> Any | None:
    """The type the handler reads its JSON body as, or None if it reads none (or a form, a file)."""
    field = request.route_handler.parsed_fn_signature.parameters.get("data")
    if field is None:
        return None
    declared = field.kwarg_definition
    if isinstance(declared, BodyKwarg) and declared.media_type != RequestEncodingType.JSON:
        return None
    return field.annotation


async def strict_json_body(request: Request[Any, Any, Any]) -> None:
    """`before_request`: refuse a JSON body whose values are of the right type only if text is read as one."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    wanted = _json_body_type(request)
    if wanted is None:
        return
    body = await request.body()
    try:
        msgspec.json.decode(body, type=wanted, strict=True)
    except msgspec.ValidationError as strict_error:
        try:
            msgspec.json.decode(body, type=wanted, strict=False)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return  # wrong in both modes: Litestar's own 400 says what
        raise _refusal(str(strict_error)) from None
    except msgspec.DecodeError:
        return  # not JSON at all: Litestar's 400


def _refusal(message: str) -> ValidationFailed:
    found = _EXPECTED.search(message)
    if found is None:
        return ValidationFailed({"data": _ANY})
    expected, got, path = found.group(1), found.group(2), found.group(3) or "data"
    kinds = {kind.strip() for kind in expected.split("|")} - {"null"}
    asks = _ASK if got == "str" else _ASK_OTHER
    ask = asks.get(kinds.pop()) if len(kinds) == 1 else None
    return ValidationFailed({path: ask or _ANY})
