"""What Litestar could not convert, told as the domain tells its own refusals.

Litestar converts a handler's arguments with msgspec, against the constraints declared at the edge
(`msgspec.Meta(max_length=…)`, `ge`/`le`, a `dt.date`, a pattern), and refuses what fails with a
`ValidationException` whose `extra` lists, per argument, msgspec's English message and where it failed:

    {"message": "Expected `str` of length <= 5000", "key": "title", "source": "body"}
    {"message": "Expected `int` >= 0", "key": "pagu_kecamatan[0].pagu", "source": "body"}
    {"message": "Object missing required field `title`", "key": "data", "source": "body"}
    {"message": "Expected `int` >= 1", "key": "per_page", "source": "query"}

(`key` is the field's path in the body, `data` for the body itself; msgspec stops at the first wrong field
of the body.) A field of the body that breaks its constraint is a field to correct, as the domain's own
checks say one is (`ValidationFailed`: 422, one message per field, the domain's words): `field_errors`
reads the field's path as the domain writes paths (`pagu_kecamatan.0.pagu`, as `calendar.kickoff` and
`3.tanggal`) and msgspec's message as one of a few Indonesian messages (the domain's own where it has
one: "terlalu panjang: paling banyak 5000 huruf", "wajib diisi"), or a general one for a message not
known here; msgspec's English never becomes the message. A request refused for anything else keeps its
400 (`refusal`): a path, query or header parameter (named in the message), a field the body may not have,
a body that is not an object (or not the list the operation takes).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

from musrenbang.domain import values
from musrenbang.domain.errors import N_, Message, ValidationFailed
from musrenbang.http.i18n import translate

GENERAL = N_("isian tidak sah")
"""What a failure not known here says (the domain's word for a value it cannot take)."""
REQUIRED = N_("wajib diisi")
TOO_LONG = N_("terlalu panjang: paling banyak %(max)d huruf")
"""The domain's own (bounds.clean_text), so that a text over the edge's limit reads as one over the domain's."""
TOO_SHORT = N_("terlalu pendek: paling sedikit %(min)d huruf")
TOO_MANY = N_("paling banyak %(max)d butir")
TOO_FEW = N_("paling sedikit %(min)d butir")
AT_MOST = N_("paling besar %(max)s")
AT_LEAST = N_("paling kecil %(min)s")
BELOW = N_("harus kurang dari %(max)s")
ABOVE = N_("harus lebih dari %(min)s")
MULTIPLE = N_("harus kelipatan %(step)s")
PATTERN = N_("bentuknya tidak sesuai dengan yang diminta")
NOT_A_DATE = N_("bukan tanggal yang sah: tulis seperti 2025-01-31")
NOT_A_TIME = N_("bukan jam yang sah: tulis seperti 09:00")
NOT_A_MOMENT = N_("bukan tanggal dan jam yang sah: tulis seperti 2025-01-31T09:00:00+07:00")

ClockText = Annotated[str, msgspec.Meta(max_length=40, description="On the city's clock: 09:00 (or 09:00:00)")]
"""A time of day as the JSON API takes it, read by `clock_time`: msgspec's own `time` asks for seconds, and
refused the "09:00" the documentation and the refusal's own message show."""
_CLOCK = re.compile(r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?")
"""09:00, 09:00:00; seconds, fractions and a zone are read, then refused by the rules: a starting time is the
city's wall clock (`bounds.clock_time`)."""


def clock_time(text: str | None, field: str = "starts_at") -> dt.time | None:
    """A `ClockText` as a time, or 422 on `field` with NOT_A_TIME."""
    if text is None:
        return None
    try:
        if _CLOCK.fullmatch(text):
            return dt.time.fromisoformat(text)
    except ValueError:  # 25:00
        pass
    raise ValidationFailed({field: NOT_A_TIME})

UNKNOWN_CHOICE = N_("pilihan tidak dikenal: %(value)s")
UNKNOWN_FIELD = N_("isian tidak dikenal: %(field)s")
"""400: a field the body may not have (every body refuses unknown fields)."""
BAD_PARAMETER = N_("parameter «%(name)s» tidak sah: %(reason)s")
MISSING_PARAMETER = N_("parameter «%(name)s» wajib diisi")
UNREADABLE = N_("permintaan tidak dapat dibaca")

_KINDS = {  # what a value of the wrong kind is asked to be (json_body.py's words where it has them)
    "int": N_("isi dengan bilangan bulat"),
    "bool": N_("isi dengan true atau false"),
    "float": N_("isi dengan angka"),
    "str": N_("isi dengan teks (dalam tanda kutip)"),
    "array": N_("isi dengan daftar (array JSON)"),
    "object": N_("isi dengan objek JSON"),
    "date": NOT_A_DATE,
    "time": NOT_A_TIME,
    "datetime": NOT_A_MOMENT,
}
_KINDS_FROM_TEXT = {  # a number or true/false sent as text that no reading makes one ("lima juta")
    "int": N_("isi dengan bilangan bulat (angka tanpa tanda kutip)"),
    "float": N_("isi dengan angka (tanpa tanda kutip)"),
    "bool": N_("isi dengan true atau false (tanpa tanda kutip)"),
}

_LENGTH = re.compile(r"Expected `(\w+)` of length (<=|>=) (\d+)")
_RANGE = re.compile(r"Expected `(\w+)` (<=|>=|<|>) (\S+)")
_MULTIPLE = re.compile(r"Expected `(\w+)` that's a multiple of (\S+)")
_PATTERN = re.compile(r"Expected `str` matching regex ")
_KIND = re.compile(r"Expected `([^`]+)`, got `(\w+)`")
_FORMAT = re.compile(r"Invalid RFC3339 encoded (date|time|datetime)")
_ZONE = re.compile(r"Expected `(date|time|datetime)` with (?:a|no) timezone component")
_CHOICE = re.compile(r"Invalid enum value (.*)")
_MISSING = re.compile(r"Object missing required field `([^`]*)`")
_UNKNOWN = re.compile(r"Object contains unknown field `([^`]*)`")
_MISSING_PARAMETER = re.compile(r"Missing required (\w+) parameter '([^']*)'")
_BODY_PATH = re.compile(r" - at `\$\.data([^`]*)`$")


def field_errors(exc: ValidationException) -> dict[str, str] | None:
    """The body's fields that failed their constraints, each with its message (the domain's kind), or None
    if the request is refused for something else (a parameter, an unknown field, the body's own shape)."""
    failures = _failures(exc)
    if not failures or any(f.get("source") != "body" or "key" not in f for f in failures):
        return None
    errors: dict[str, str] = {}
    for failure in failures:
        path, message = _body_path(exc, failure), str(failure.get("message", ""))
        missing, unknown = _MISSING.fullmatch(message), _UNKNOWN.fullmatch(message)
        if unknown or (not path and _KIND.fullmatch(message)):
            return None  # a field no body here has, or a body that is not an object (nor the list taken)
        if missing:
            errors.setdefault(_joined(path, missing.group(1)), REQUIRED)
        else:
            errors.setdefault(path or "data", reason(message))
    return errors


def refusal(request: Request[Any, Any, Any], exc: ValidationException) -> str:
    """What a 400 says: the parameter it names, the field no body here has, or that the body is unreadable
    (a message to translate; `BAD_PARAMETER`'s reason comes translated, as a parameter of it)."""
    failures = _failures(exc)
    for failure in failures:
        if failure.get("source") != "body" and "key" in failure:
            name = _parameter_name(request, str(failure["key"]), failure.get("source"))
            why = translate(request, reason(str(failure.get("message", ""))))
            return Message(BAD_PARAMETER, name=name, reason=why)
    for failure in failures:
        unknown = _UNKNOWN.fullmatch(str(failure.get("message", "")))
        if unknown and "key" in failure:
            return Message(UNKNOWN_FIELD, field=_joined(_body_path(exc, failure), unknown.group(1)))
    missing = _MISSING_PARAMETER.match(str(exc.detail))
    if missing:
        return Message(MISSING_PARAMETER, name=missing.group(2))
    return UNREADABLE


def reason(message: str) -> str:
    """msgspec's message for one value as one of the domain's kind (`GENERAL` for one not known here).

    >>> reason("Expected `str` of length <= 5000")
    'terlalu panjang: paling banyak 5000 huruf'
    >>> reason("Expected `int` >= 0"), reason("Expected `int` <= 1000000000000000")
    ('paling kecil 0', 'paling besar 1.000.000.000.000.000')
    >>> reason("Invalid RFC3339 encoded time"), reason("Invalid enum value 'merah'")
    ('bukan jam yang sah: tulis seperti 09:00', 'pilihan tidak dikenal: merah')
    >>> reason("Expected `int | null`, got `str`"), reason("Expected `str`, got `int`")
    ('isi dengan bilangan bulat (angka tanpa tanda kutip)', 'isi dengan teks (dalam tanda kutip)')
    >>> reason("Invalid UUID")
    'isian tidak sah'
    """
    if found := _LENGTH.fullmatch(message):
        kind, bound, n = found.group(1), found.group(2), int(found.group(3))
        if kind == "str":
            return Message(TOO_LONG, max=n) if bound == "<=" else Message(TOO_SHORT, min=n)
        return Message(TOO_MANY, max=n) if bound == "<=" else Message(TOO_FEW, min=n)
    if found := _RANGE.fullmatch(message):
        bound, limit = found.group(2), _number(found.group(3))
        template = {"<=": AT_MOST, ">=": AT_LEAST, "<": BELOW, ">": ABOVE}[bound]
        return Message(template, **{"max" if bound in ("<=", "<") else "min": limit})
    if found := _MULTIPLE.fullmatch(message):
        return Message(MULTIPLE, step=_number(found.group(2)))
    if _PATTERN.match(message):
        return PATTERN
    if found := _FORMAT.fullmatch(message) or _ZONE.fullmatch(message):
        return _KINDS[found.group(1)]
    if found := _KIND.fullmatch(message):
        kinds = {kind.strip() for kind in found.group(1).split("|")} - {"null"}
        if len(kinds) != 1:
            return GENERAL
        kind = kinds.pop()
        return (_KINDS_FROM_TEXT.get(kind) if found.group(2) == "str" else None) or _KINDS.get(kind, GENERAL)
    if found := _CHOICE.fullmatch(message):
        return Message(UNKNOWN_CHOICE, value=found.group(1).strip("'\"")[:40])
    if _MISSING.fullmatch(message):
        return REQUIRED
    return GENERAL


def _failures(exc: ValidationException) -> list[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, list) else [exc.extra] if isinstance(exc.extra, dict) else []
    return [f for f in extra if isinstance(f, dict)]


def _body_path(exc: ValidationException, failure: dict[str, Any]) -> str:
    """The failed field's path in the body, dotted (`pagu_kecamatan.0.pagu`), "" for the body itself. For a
    body that is a list Litestar names no item (`data`): msgspec's own error, which Litestar's came from,
    says which when it is about the same failure."""
    key = str(failure.get("key", ""))
    if key == "data":
        cause, message = exc.__cause__, str(failure.get("message", ""))
        found = _BODY_PATH.search(str(cause)) if isinstance(cause, msgspec.ValidationError) else None
        key = found.group(1) if found and str(cause).startswith(message + " - ") else ""
    key = re.sub(r"\[(\d+)\]", r".\1", key).replace("[...]", "")
    return key.strip(".")


def _joined(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def _number(text: str) -> str:
    """A bound as the domain writes large numbers (1.000.000; a year, 2100, stays as it is); a fraction as
    msgspec wrote it."""
    try:
        n = int(text)
    except ValueError:
        return text
    return values.grouped(n) if abs(n) >= 10_000 else str(n)


def _parameter_name(request: Request[Any, Any, Any], key: str, source: object) -> str:
    """A parameter as the client writes it (a header's name, a query parameter's alias), not as the
    handler's argument is called."""
    try:
        parameter = request.route_handler.parsed_fn_signature.parameters.get(key)
    except AttributeError:
        return key
    declared = parameter.kwarg_definition if parameter is not None else None
    kind = str(getattr(source, "value", source))  # Litestar's ParamType, a str enum
    alias = (getattr(declared, kind, None) or getattr(declared, "name", None)) if kind in (
        "header", "query", "cookie") else None  # fmt: skip
    return alias if isinstance(alias, str) and alias else key
