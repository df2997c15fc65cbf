"""A proposal (usulan): what it must contain, and how its status moves.

Statuses use the SIMDA/SIPD vocabulary residents and officials already know. A proposal is one stream;
its tracking code is its identity.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping
from decimal import Decimal

import msgspec

from musrenbang.domain import bounds, values
from musrenbang.domain.errors import N_, DomainError, Message, NotFound, Term, ValidationFailed
from musrenbang.domain.events import (
    CoordinateBounds,
    Event,
    PokirForwarded,
    PokirFrom,
    ProposalAccepted,
    ProposalCarriedOver,
    ProposalContent,
    ProposalMerged,
    ProposalPhotoAttached,
    ProposalRejected,
    ProposalReturned,
    ProposalRevised,
    ProposalsMergedIn,
    ProposalSubmitted,
)

KINDS = {"fisik": N_("Fisik"), "non_fisik": N_("Non-fisik")}
BIDANG = {
    "infrastruktur": N_("Infrastruktur"),
    "ekonomi": N_("Ekonomi"),
    "pendidikan": N_("Pendidikan"),
    "kesehatan": N_("Kesehatan"),
    "sosial_budaya": N_("Sosial budaya"),
    "lingkungan_hidup": N_("Lingkungan hidup"),
    "pemerintahan": N_("Pemerintahan"),
}
SOURCES = ("warga", "pokir", "opd")

DIAJUKAN = "diajukan"
DIKEMBALIKAN = "dikembalikan"
DITERIMA = "diterima"
DITERIMA_DENGAN_PERUBAHAN = "diterima_dengan_perubahan"
DITOLAK = "ditolak"
DIGABUNGKAN = "digabungkan"
DITERUSKAN = "diteruskan"
DITERUSKAN_SETWAN = "diteruskan_setwan"
TIDAK_TERAKOMODASI = "tidak_terakomodasi"
MASUK_RKPD = "masuk_rkpd"
TIDAK_DIPROSES = "tidak_diproses"
"""Not processed to the end when its year's RKPD was adopted (`CLOSED_AT_ADOPTION`): closed without a
decision. Not on the proposal's stream: the proposals read model derives it from `rkpd.adopted` (nothing
can be decided on the proposal once the year is adopted: services/proposals.py)."""
CLOSED_AT_ADOPTION = {
    "diajukan": "belum_diverifikasi",
    "dikembalikan": "belum_diperbaiki",
    "diterima": "belum_dimusyawarahkan",
    "diterima_dengan_perubahan": "belum_dimusyawarahkan",
}
"""Where a proposal can still stand when its year's RKPD is adopted, short of any outcome → why it is then
closed TIDAK_DIPROSES (its `status_reason`): still waiting for verification (or a pokir for the DPRD
secretariat's check), returned and never corrected, or accepted and never decided at a forum. Each would
otherwise read as waiting for ever: nothing can be verified, revised or put on an agenda in an adopted year."""
UNPROCESSED_REASONS = {
    "belum_diverifikasi": N_("belum diverifikasi ketika RKPD ditetapkan"),
    "belum_diperbaiki": N_("dikembalikan untuk diperbaiki dan belum diperbaiki ketika RKPD ditetapkan"),
    "belum_dimusyawarahkan": N_("lolos verifikasi, tetapi belum dibahas di musyawarah ketika RKPD ditetapkan"),
}
"""The reasons of `CLOSED_AT_ADOPTION`, in words (a row closed before the reason was kept has none: it was
waiting for verification)."""
STATUSES = {
    DIAJUKAN: N_("Diajukan, menunggu verifikasi"),
    DIKEMBALIKAN: N_("Dikembalikan untuk diperbaiki"),
    DITERIMA: N_("Diterima"),
    DITERIMA_DENGAN_PERUBAHAN: N_("Diterima dengan perubahan"),
    DITOLAK: N_("Ditolak"),
    DIGABUNGKAN: N_("Digabungkan ke usulan lain"),
    DITERUSKAN: N_("Disepakati di musyawarah, diteruskan ke tingkat berikutnya"),
    DITERUSKAN_SETWAN: N_("Pokok pikiran DPRD, diteruskan Sekretariat DPRD ke Forum Perangkat Daerah"),
    TIDAK_TERAKOMODASI: N_("Tidak terakomodasi"),
    MASUK_RKPD: N_("Masuk RKPD"),
    TIDAK_DIPROSES: N_("Tidak diproses sampai RKPD ditetapkan"),
}

POKIR_STATUSES = {
    **STATUSES,
    DIAJUKAN: N_("Diajukan, menunggu pemeriksaan Sekretariat DPRD"),
    DIKEMBALIKAN: N_("Dikembalikan Sekretariat DPRD untuk diperbaiki"),
}
"""A pokir's statuses as its pages name them: the DPRD secretariat checks it, no verifier does."""

OUTCOMES = {
    "menunggu": N_("Menunggu verifikasi"),
    "dikembalikan": N_("Dikembalikan"),
    "ditolak": N_("Ditolak"),
    "diterima": N_("Diterima, menunggu musyawarah"),
    "diteruskan": N_("Disepakati musyawarah, diteruskan"),
    "tidak_terakomodasi": N_("Tidak terakomodasi"),
    "masuk_rkpd": N_("Masuk RKPD"),
    "tidak_diproses": N_("Tidak diproses sampai RKPD ditetapkan"),
}
"""Where a proposal stands, as a public summary counts it: one column per outcome, every status in exactly
one of them, so the columns add up to the proposals counted. A duplicate merged into another is not one of
them: it lives on in the proposal it was merged into, and counting it too would count one need twice."""
OUTCOME_OF = {
    DIAJUKAN: "menunggu",
    DIKEMBALIKAN: "dikembalikan",
    DITOLAK: "ditolak",
    DITERIMA: "diterima",
    DITERIMA_DENGAN_PERUBAHAN: "diterima",
    DITERUSKAN: "diteruskan",
    DITERUSKAN_SETWAN: "diteruskan",
    TIDAK_TERAKOMODASI: "tidak_terakomodasi",
    MASUK_RKPD: "masuk_rkpd",
    TIDAK_DIPROSES: "tidak_diproses",
}
"""Every status but DIGABUNGKAN (merged duplicates are counted apart)."""

MAX_PHOTOS = 3
MAX_MERGED = 50
MAX_COST = 50_000_000_000  # Rp 50 miliar: far above any kelurahan-level proposal; catches typos
MAX_BENEFICIARIES = 10_000_000  # more than any kabupaten or kota has people (Kabupaten Bogor: 5.6 million)
MAX_MERGED_BENEFICIARIES = 10 * MAX_BENEFICIARIES  # a proposal with its duplicates; well inside an integer
MAX_VOLUME = Decimal(1_000_000_000)
# Indonesia with a margin: what any event may carry. A city's own bounds (its settings, domain/city.py)
# are narrower, and are what a new proposal is checked against.
LATITUDE_RANGE = (Decimal("-11.5"), Decimal("6.5"))
LONGITUDE_RANGE = (Decimal("94.5"), Decimal("141.5"))
MAX_PROPOSER_NAME = 100
TEXT_LIMITS = {"title": (5, 150), "problem": (10, 2000), "solution": (10, 2000), "address": (5, 300),
               "unit": (1, 30)}  # fmt: skip


def stream_id(code: str) -> str:
    return f"proposal-{code}"


class ProposalInput(msgspec.Struct, kw_only=True):
    """What a proposer typed, before any checking (every field may be missing or wrong)."""

    kelurahan: str = ""
    rw: int | str | None = None
    rt: int | str | None = None
    kind: str = ""
    bidang: str = ""
    title: str = ""
    problem: str = ""
    solution: str = ""
    beneficiaries: int | str | None = None
    volume: int | float | Decimal | str | None = None
    """Text as a person types it in a form ("1.500", "2,5": values.parse_quantity); a number as it is."""
    unit: str = ""
    estimated_cost: int | str | None = None
    priority_program: int | str | None = None
    address: str = ""
    latitude: float | int | str | None = None
    longitude: float | int | str | None = None


class Proposer(msgspec.Struct, frozen=True, kw_only=True):
    """Personal data: kept in its own table, never in the log or any public view."""

    name: str
    phone: str
    email: str | None = None
    notify: str = "none"
    """How the proposer wants to be told of each change: `NOTIFY_CHANNELS`, or "none"."""


NOTIFY_CHANNELS = ("sms", "whatsapp", "email")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL = re.compile(
    rf"{_ATOM}(?:\.{_ATOM})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z]{{2,63}}", re.ASCII
)
"""A dot-atom address as people type them (RFC 5322 without quoted local parts and IP literals)."""


def normalize_email(text: str) -> str:
    """An e-mail address trimmed and in lower case (how it is stored, compared and counted everywhere);
    refused unless it looks like one (local@domain.tld, at most 254 characters, no spaces or control
    characters). Whether it exists is for the mail server to say."""
    value = (text or "").strip()
    if len(value) > 254 or not _EMAIL.fullmatch(value) or len(value.split("@", 1)[0]) > 64:
        raise ValueError(N_("tulis alamat e-mail yang benar, misalnya nama@contoh.id"))
    return value.lower()


def validate_content(raw: ProposalInput, *, kelurahan: Container[str], priority_programs: int,
                     area: CoordinateBounds | None = None, city_name: str = "") -> ProposalContent:  # fmt: skip
    """Check and normalise every field, reporting all problems at once (field -> message). `kelurahan`:
    the codes of the city's kelurahan and desa; `area`: where its coordinates may lie (Indonesia when
    None), `city_name` to say so.

    The fields are checked in the form's order, so the error summary lists them as a person meets them;
    the location as a whole (both coordinates or neither, a swapped pair) is judged last, once each
    coordinate's own check has had its say."""
    latitudes, longitudes = _coordinate_ranges(area)
    city_name = city_name if area else ""  # no area of its own: Indonesia is what is checked, and named
    outside = _outside_message(city_name)
    checks = bounds.Checks()
    needs_rw = _needs_rw(raw.kelurahan, kelurahan)
    content = {
        "kelurahan": checks.check("kelurahan", _kelurahan_code, raw.kelurahan, kelurahan),
        "rw": checks.check("rw", _place_number, raw.rw, needs_rw, N_("nomor RW antara 1 dan 99"), under=raw.rt),
        "rt": checks.check("rt", _place_number, raw.rt, needs_rw, N_("nomor RT antara 1 dan 99")),
        "kind": checks.check("kind", _choice, raw.kind, KINDS),
        "bidang": checks.check("bidang", _choice, raw.bidang, BIDANG),
        "title": checks.check("title", _typed_text, "title", raw.title),
        "problem": checks.check("problem", _typed_text, "problem", raw.problem),
        "solution": checks.check("solution", _typed_text, "solution", raw.solution),
        "beneficiaries": checks.check("beneficiaries", _required_whole, raw.beneficiaries, 1, MAX_BENEFICIARIES,
                                      N_("jumlah penerima manfaat tidak masuk akal")),
        "volume": checks.check("volume", _typed_volume, raw.volume),
        "unit": checks.check("unit", _typed_text, "unit", raw.unit),
        "estimated_cost": checks.check("estimated_cost", _typed_cost, raw.estimated_cost),
        "priority_program": checks.check("priority_program", _priority_program, raw.priority_program,
                                         priority_programs),
        "address": checks.check("address", _typed_text, "address", raw.address),
        "latitude": checks.check("latitude", _typed_coordinate, raw.latitude, latitudes, outside),
        "longitude": checks.check("longitude", _typed_coordinate, raw.longitude, longitudes, outside),
    }  # fmt: skip
    _check_location(checks.errors, raw, content, (latitudes, longitudes), city_name)
    checks.done()
    return ProposalContent(**content)  # type: ignore[arg-type]  # every field checked above, or errors raised


_Range = tuple[Decimal, Decimal]
"""The lowest and highest value a coordinate may take."""


def _coordinate_ranges(area: CoordinateBounds | None) -> tuple[_Range, _Range]:
    """The (south, north) and (west, east) a new proposal's location must lie within: the city's own
    area when it has one, else Indonesia with a margin."""
    latitudes = (Decimal(area.south), Decimal(area.north)) if area else LATITUDE_RANGE
    longitudes = (Decimal(area.west), Decimal(area.east)) if area else LONGITUDE_RANGE
    return latitudes, longitudes


def _outside_message(city_name: str) -> str:
    """What a location outside the area is told: the city by name when there is one to name."""
    return (
        Message(N_("lokasi berada di luar %(city)s"), city=city_name)
        if city_name
        else N_("lokasi berada di luar Indonesia")
    )


def _blank_text(value: object) -> bool:
    """Text of nothing but spaces, or nothing at all: a field left blank, like one left out (None). A
    number, even 0, is something typed, and is checked as one."""
    return isinstance(value, str) and not value.strip()


def _typed_text(name: str, value: str) -> str:
    """One of the TEXT_LIMITS fields, cleaned: required, and long enough to say something (its length
    limit is checked by `_clean`, with the limit named in the message)."""
    low, high = TEXT_LIMITS[name]
    text = _clean(value, multiline=name in ("problem", "solution"), max_length=high)
    if not text:
        raise ValueError(N_("wajib diisi"))
    if len(text) < low:
        raise ValueError(N_("terlalu singkat: tulis sedikit lebih jelas"))
    return text


def _kelurahan_code(value: str, known: Container[str]) -> str:
    """A kelurahan or desa of this city, by its code."""
    code = value.strip()
    if not code:
        raise ValueError(N_("pilih kelurahan"))
    if code not in known:
        raise ValueError(N_("kelurahan tidak dikenal"))
    return code


RT_WITHOUT_RW = N_("RT tidak dapat diisi tanpa RW: isi nomor RW, atau kosongkan RT juga")
"""A desa's proposal may leave out RW and RT (many desa have neither: Bali's banjar, Aceh's dusun), or RT
only; an RT without its RW names no place."""


def rw_required(kelurahan: str) -> bool:
    """Whether a proposal in this kelurahan or desa (its code) must name its RW and RT: a kelurahan's must
    (every kelurahan is divided into RW and RT); a desa's may leave them out, for many desa have none
    (Bali's banjar, Aceh's dusun): `values.village_level`, by the code's own numbering.

        >>> rw_required("32.75.01.1001"), rw_required("51.01.01.2001")
        (True, False)
    """
    return values.village_level(kelurahan.strip()) == "kelurahan"


def _needs_rw(code: str, known: Container[str]) -> bool:
    """Whether the RW and RT the form was sent with must be there: as the place chosen says
    (`rw_required`), or, with no known place chosen, unless the city has a desa (the place's own error is
    said; a desa's resident is not told to fill what their desa may not have)."""
    code = (code or "").strip()
    if code in known:
        return rw_required(code)
    return not isinstance(known, Iterable) or all(rw_required(c) for c in known)


def _place_number(value: int | str | None, required: bool, message: str, *,
                  under: int | str | None = None) -> int | None:  # fmt: skip
    """An RW or RT number within 1..99; left blank, None where the place may leave it out (`required`
    False), "wajib diisi" otherwise. An RW left blank with an RT typed (`under`) is refused: RT_WITHOUT_RW."""
    if not required and (value is None or _blank_text(value)):
        if under is not None and not _blank_text(under):
            raise ValueError(RT_WITHOUT_RW)
        return None
    return _required_whole(value, 1, 99, message)


def _required_whole(value: int | str | None, low: int, high: int, message: str) -> int:
    """A required whole number within [low, high]; outside it, the field's own `message`."""
    if value is None or _blank_text(value):
        raise ValueError(N_("wajib diisi"))
    n = _whole(value)
    if not low <= n <= high:
        raise ValueError(message)
    return n


def _choice(value: str, options: Container[str]) -> str:
    """One of `options` (KINDS, BIDANG), by its key."""
    choice = value.strip()
    if not choice:
        raise ValueError(N_("pilih salah satu"))
    if choice not in options:
        raise ValueError(N_("pilihan tidak dikenal"))
    return choice


def _typed_volume(value: int | float | Decimal | str | None) -> str:
    """The volume as a canonical decimal string; typed text is read the Indonesian way (`parse_quantity`:
    a form's "1.500" is fifteen hundred)."""
    if value is None or _blank_text(value):
        raise ValueError(N_("wajib diisi"))
    text = values.parse_quantity(value, places=3)
    if not Decimal(0) < Decimal(text) <= MAX_VOLUME:
        raise ValueError(N_("volume harus lebih dari nol dan masuk akal"))
    return text


def _typed_cost(value: int | str | None) -> int:
    """The estimated cost in whole rupiah, up to MAX_COST (a larger one is a typo at this level)."""
    if value is None or _blank_text(value):
        raise ValueError(N_("wajib diisi"))
    amount = values.parse_rupiah(value)
    if amount <= 0:
        raise ValueError(N_("biaya harus lebih dari nol"))
    if amount > MAX_COST:
        raise ValueError(N_("biaya terlalu besar untuk usulan Musrenbang (paling banyak Rp 50 miliar)"))
    return amount


def _priority_program(value: int | str | None, priority_programs: int) -> int | None:
    """The number of one of the city's `priority_programs` (1-based), or None when none is chosen."""
    if value is None or _blank_text(value):
        return None
    n = _whole(value)
    if not 1 <= n <= priority_programs:
        raise ValueError(N_("program prioritas tidak dikenal"))
    return n


def _typed_coordinate(value: float | int | str | None, within: _Range, outside: str) -> str | None:
    """One coordinate as a canonical decimal string (None when left blank); outside `within`, `outside`."""
    if value is None or _blank_text(value):
        return None
    text = values.parse_decimal(value, places=7)
    if not within[0] <= Decimal(text) <= within[1]:
        raise ValueError(outside)
    return text


def _check_location(errors: dict[str, str], raw: ProposalInput, content: Mapping[str, object],
                    ranges: tuple[_Range, _Range], city_name: str) -> None:  # fmt: skip
    """What the two coordinates' own checks cannot see. Both outside the area but inside it swapped: the
    pair was copied the wrong way round, and both fields say so instead (replacing their messages, so
    they keep their place in `errors`). One given without the other: the blank one is asked for, unless
    either already has an error (fix that first)."""
    if {"latitude", "longitude"} <= errors.keys() and swapped_coordinates(raw.latitude, raw.longitude, *ranges):
        errors["latitude"] = errors["longitude"] = Message(
            N_("lokasi berada di luar %(city)s: garis lintang dan garis bujur tertukar?"), city=city_name or "Indonesia"
        )
    one_only = (content["latitude"] is None) != (content["longitude"] is None)
    if one_only and not errors.keys() & {"latitude", "longitude"}:
        errors["latitude" if content["latitude"] is None else "longitude"] = N_(
            "isi garis lintang dan garis bujur, atau kosongkan keduanya"
        )


def swapped_coordinates(latitude: object, longitude: object, latitudes: tuple[Decimal, Decimal],
                        longitudes: tuple[Decimal, Decimal]) -> bool:  # fmt: skip
    """Whether a location outside the area would lie inside it with latitude and longitude swapped, the
    usual slip when copying from a map (Bekasi typed as 106.99, -6.24 instead of -6.24, 106.99).

        >>> bekasi = (Decimal("-6.4"), Decimal("-6.1")), (Decimal("106.9"), Decimal("107.1"))
        >>> swapped_coordinates("106.99", "-6.24", *bekasi), swapped_coordinates("-6.24", "106.99", *bekasi)
        (True, False)
    """
    try:
        typed_latitude = Decimal(values.parse_decimal(str(latitude), places=7))
        typed_longitude = Decimal(values.parse_decimal(str(longitude), places=7))
    except ValueError:
        return False
    return (latitudes[0] <= typed_longitude <= latitudes[1] and longitudes[0] <= typed_latitude <= longitudes[1]
            and not latitudes[0] <= typed_latitude <= latitudes[1])  # fmt: skip


def validate_proposer(name: str, phone: str, email: str | None = None, notify: str | None = None) -> Proposer:
    """The proposer's contact and how they want to be told: e-mail is optional unless news goes by e-mail;
    SMS and WhatsApp go to the phone number every proposer gives."""
    errors: dict[str, str] = {}
    try:
        clean_name = _clean(name, multiline=False, max_length=MAX_PROPOSER_NAME)
    except ValueError as exc:
        errors["proposer_name"], clean_name = exc.args[0], ""
    if "proposer_name" not in errors and len(clean_name) < 2:
        errors["proposer_name"] = N_("tulis nama pengusul")
    try:
        clean_phone = values.normalize_phone(phone or "")
    except ValueError as exc:
        errors["proposer_phone"] = exc.args[0]
    clean_email = None
    if email and email.strip():
        try:
            clean_email = normalize_email(email)
        except ValueError as exc:
            errors["proposer_email"] = exc.args[0]
    channel = (notify or "none").strip() or "none"
    if channel not in (*NOTIFY_CHANNELS, "none"):
        errors["notify"] = N_("pilih SMS, WhatsApp, e-mail, atau tidak usah")
    elif channel == "email" and clean_email is None and "proposer_email" not in errors:
        errors["proposer_email"] = N_("tulis alamat e-mail untuk menerima kabar lewat e-mail")
    if errors:
        raise ValidationFailed(errors)
    return Proposer(name=clean_name, phone=clean_phone, email=clean_email, notify=channel)


def _clean(value: str, *, multiline: bool, max_length: int) -> str:
    """Trimmed text without NUL or control characters, at most the field's own `max_length` once cleaned
    (bounds.clean_text: "terlalu panjang: paling banyak N huruf", N that field's limit)."""
    return bounds.clean_text(value, max_length=max_length, multiline=multiline)


_WHOLE = re.compile(r"-?(?:[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+)")
"""A whole number as typed: ASCII digits (\\d and int() would also take ٣٠٠), plain or grouped in threes by
dots as Indonesian writes thousands ("1.500")."""


def _whole(value: int | str | float) -> int:
    """A whole number as a form or a caller gives it: an int, a float with nothing after the point, or text
    of digits, perhaps grouped by dots in threes ("1.500" is 1500). Anything else is refused, never
    rounded or read past: "1.5" is not 15, "0,5" not 0, "0.0001" not 1."""
    if isinstance(value, bool):
        raise ValueError(N_("tulis bilangan bulat"))
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():  # NaN and infinities are not either
            raise ValueError(N_("tulis bilangan bulat"))
        return int(value)
    text_value = value.strip() if isinstance(value, str) else ""
    if _WHOLE.fullmatch(text_value):
        digits = text_value.replace(".", "")
        if len(digits.lstrip("-")) > 18:
            raise ValueError(N_("angka terlalu besar"))
        return int(digits)
    if re.fullmatch(r"-?[0-9.]*\.[0-9.]*", text_value):  # a dot where no thousands group is
        raise ValueError(values.GROUPED_IN_THREES)
    raise ValueError(N_("tulis bilangan bulat"))


def _volume(text: str) -> str:
    """A volume as events carry it: a canonical positive decimal up to MAX_VOLUME, 3 decimals at most."""
    try:
        return bounds.quantity(text, high=MAX_VOLUME + 1)
    except ValueError:
        raise ValueError(N_("volume harus lebih dari nol dan masuk akal")) from None


def check_content(c: ProposalContent) -> None:
    """Whether content (normally from `validate_content`) is what an event may carry: every value within
    its bounds (domain/bounds.py). Content built any other way is checked here before it is recorded."""
    checks = bounds.Checks()
    for name, (_, high) in TEXT_LIMITS.items():
        checks.text(name, getattr(c, name), high, required=True, multiline=name in ("problem", "solution"))
    checks.check("kelurahan", bounds.region_code, c.kelurahan)
    for name in ("rw", "rt"):
        number = getattr(c, name)
        if number is not None:
            checks.check(name, bounds.whole, number, 1, 99)
        elif rw_required(c.kelurahan):
            checks.fail(name, N_("wajib diisi"))
    if c.rt is not None and c.rw is None and "rw" not in checks.errors:
        checks.fail("rw", RT_WITHOUT_RW)
    checks.check("beneficiaries", bounds.whole, c.beneficiaries, 1, MAX_BENEFICIARIES)
    checks.check("estimated_cost", bounds.rupiah, c.estimated_cost, high=MAX_COST)
    checks.check("volume", _volume, c.volume)
    if c.kind not in KINDS:
        checks.fail("kind", N_("pilihan tidak dikenal"))
    if c.bidang not in BIDANG:
        checks.fail("bidang", N_("pilihan tidak dikenal"))
    if c.priority_program is not None:
        checks.check("priority_program", bounds.whole, c.priority_program, 1, 100)
    for name, (least, most) in (("latitude", LATITUDE_RANGE), ("longitude", LONGITUDE_RANGE)):
        value = getattr(c, name)
        if value is not None:
            checks.check(name, _coordinate, value, least, most)
    checks.done()


def _coordinate(text: str, low: Decimal, high: Decimal) -> str:
    value = values.parse_decimal(text, places=7)
    if value != text or not low <= Decimal(value) <= high:
        raise ValueError(N_("lokasi berada di luar Indonesia"))
    return value


def _check_photo(command: AttachPhoto) -> None:
    checks = bounds.Checks()
    checks.check("photo", bounds.identifier, command.photo_id)
    checks.check("photo", bounds.whole, command.width, 1, 100_000)
    checks.check("photo", bounds.whole, command.height, 1, 100_000)
    checks.check("photo", bounds.whole, command.size, 1, 100_000_000)
    if command.content_type not in ("image/jpeg",) or not re.fullmatch(r"[0-9a-f]{64}", command.sha256):
        checks.fail("photo", N_("foto tidak dapat dibaca"))
    checks.done()


# --- the aggregate ----------------------------------------------------------------------------------


class Proposal(msgspec.Struct, frozen=True, kw_only=True):
    code: str | None = None
    year: int = 0
    status: str | None = None
    content: ProposalContent | None = None
    photos: tuple[str, ...] = ()
    merged_into: str | None = None
    beneficiaries: int = 0
    """Its own beneficiaries plus those of the duplicates merged into it."""
    carried_from: str | None = None
    carried_to: str | None = None
    source: str = "warga"
    pokir: PokirFrom | None = None
    decision: ProposalAccepted | ProposalReturned | ProposalRejected | None = None
    """The last verification decision recorded, to know a form sent twice from a new decision."""
    revision: int = 0
    """How many times its content was revised (the proposals read model's `revision`): a decision taken on
    a page showing an earlier content names the revision it saw (`seen_revision`)."""
    photos_when_returned: int = 0
    """How many photos it had when it was last returned: a photo attached since is a correction in itself
    (returned for «lampirkan foto lokasi», the photo is the whole revision), so a revision with the content
    unchanged is then not "nothing changed". Photos are only ever added, so a count says which are new."""

    @property
    def exists(self) -> bool:
        return self.code is not None

    @property
    def submitted(self) -> ProposalContent:
        """The content of a proposal that exists (as submitted or last revised); NotFound if none."""
        if self.content is None:
            raise NotFound(N_("usulan tidak ditemukan"))
        return self.content


class SubmitProposal(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    year: int
    source: str
    content: ProposalContent
    proposer_ref: str
    carried_from: str | None = None
    pokir: PokirFrom | None = None
    """A pokir's member and reses (`source` "pokir"; checked by domain/pokir.py before)."""


class CarryOver(msgspec.Struct, frozen=True, kw_only=True):
    """Propose `code` again for `to_year` as the new proposal `to_code`. `outcome` is where it ended (its
    public status) and `adopted` whether its own year's RKPD is adopted: both read from the read models
    once they have caught up (forum and RKPD outcomes are not on the proposal's stream)."""

    code: str
    to_code: str
    to_year: int
    outcome: str
    adopted: bool
    line_dropped: bool = False
    """Its RKPD line was dropped in the budget year (realisation stage `batal`): in the plan, never built."""


class ReviseProposal(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    content: ProposalContent
    pokir: PokirFrom | None = None


class AttachPhoto(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    photo_id: str
    sha256: str
    content_type: str
    width: int
    height: int
    size: int


class VerifyProposal(msgspec.Struct, frozen=True, kw_only=True):
    """A kelurahan facilitator's verification decision."""

    code: str
    decision: str  # accept | accept_with_changes | return | reject
    reason: str = ""
    agreed_volume: str | None = None
    agreed_cost: int | None = None
    seen_revision: int | None = None
    """The revision of the content the decision was taken on (None: not said, as the demo and older API
    clients). Returned, revised and waiting again, a proposal looks as before to a page opened earlier:
    that page's decision would have accepted a content no one had read."""


class ForwardPokir(msgspec.Struct, frozen=True, kw_only=True):
    """The DPRD secretariat found a pokir complete: on to the Forum Perangkat Daerah."""

    code: str
    note: str = ""
    seen_revision: int | None = None
    """As VerifyProposal's: the revision the secretariat checked."""


class ReturnPokir(msgspec.Struct, frozen=True, kw_only=True):
    """The DPRD secretariat returns a pokir to its member: what is missing or wrong."""

    code: str
    reason: str
    seen_revision: int | None = None


Command = SubmitProposal | ReviseProposal | AttachPhoto | VerifyProposal | CarryOver | ForwardPokir | ReturnPokir

NOT_ACCOMMODATED_ANY_TIME = (DIKEMBALIKAN, DITOLAK, TIDAK_TERAKOMODASI, TIDAK_DIPROSES)
"""Outcomes that already say "not this year": returned and never revised, rejected, not selected or
declined, still unverified when the RKPD was adopted (a status only an adoption gives). Once the year's
RKPD is adopted, anything short of a line in it (or a merge into another proposal, which goes on in that
one) was not accommodated either: accepted but not funded."""


def not_accommodated(outcome: str, adopted: bool, *, line_dropped: bool = False) -> bool:
    """Whether a proposal's need is still unmet, so that it may be proposed again: refused, not taken up by
    an adopted RKPD, or taken up by a line the budget year then dropped (refocusing, a failed tender): its
    status stays "Masuk RKPD", which it was, but nothing will be built."""
    if outcome in NOT_ACCOMMODATED_ANY_TIME:
        return True
    if outcome == MASUK_RKPD and line_dropped:
        return True
    return adopted and outcome not in (MASUK_RKPD, DIGABUNGKAN)


DECISIONS = ("accept", "accept_with_changes", "return", "reject")


def check_room_for_photo(state: Proposal) -> None:
    """Whether another photo may still be attached: before verification, at most MAX_PHOTOS. Asked again
    before a photo is decoded, so that a full proposal costs the server no decoding."""
    if state.status not in (DIAJUKAN, DIKEMBALIKAN):
        raise DomainError(N_("foto hanya dapat ditambahkan sebelum usulan diverifikasi"))
    _not_carried(state)
    if len(state.photos) >= MAX_PHOTOS:
        raise DomainError(N_("paling banyak 3 foto per usulan"))


def photos_added_since_return(state: Proposal) -> bool:
    """Whether photos were attached to a returned proposal since it was returned: then a revision that
    leaves its content as it was still corrects it (the photo the verifier asked for is the correction).

        >>> returned = Proposal(code="AAAA0000", status=DIKEMBALIKAN, photos=("p1",), photos_when_returned=1)
        >>> photos_added_since_return(returned), photos_added_since_return(
        ...     msgspec.structs.replace(returned, photos=("p1", "p2")))
        (False, True)
    """
    return len(state.photos) > state.photos_when_returned


def decide(state: Proposal, command: Command) -> list[Event]:
    if isinstance(command, SubmitProposal):
        if state.exists:
            raise DomainError(N_("usulan dengan kode ini sudah ada"))
        if command.source not in SOURCES:
            raise DomainError(N_("sumber usulan tidak dikenal"))
        if (command.source == "pokir") != (command.pokir is not None):
            raise DomainError(N_("pokok pikiran DPRD memerlukan anggota dan resesnya"))
        checks = bounds.Checks()
        checks.check("year", bounds.year, command.year)
        checks.check("code", values.normalize_code, command.code)
        checks.check("proposer_ref", bounds.identifier, command.proposer_ref)
        if command.carried_from is not None:
            checks.check("carried_from", values.normalize_code, command.carried_from)
        checks.done()
        check_content(command.content)
        return [
            ProposalSubmitted(
                code=command.code,
                year=command.year,
                source=command.source,
                content=command.content,
                proposer_ref=command.proposer_ref,
                carried_from=command.carried_from,
                pokir=command.pokir,
            )
        ]
    if not state.exists:
        raise NotFound(N_("usulan tidak ditemukan"))
    match command:
        case ReviseProposal():
            _not_carried(state)
            if state.status != DIKEMBALIKAN:
                not_returned = N_("pokok pikiran hanya dapat diperbaiki setelah dikembalikan Sekretariat DPRD")
                raise DomainError(not_returned if state.source == "pokir"
                                  else N_("usulan hanya dapat diperbaiki setelah dikembalikan oleh verifikator"))
            if (command.pokir is not None) != (state.pokir is not None):
                raise DomainError(N_("reses hanya untuk pokok pikiran DPRD"))
            pokir = command.pokir if command.pokir != state.pokir else None
            if state.pokir is None and command.content.kelurahan != state.submitted.kelurahan:
                # Returned by its kelurahan's facilitator, weighed next by its kelurahan's and kecamatan's
                # forums: moved elsewhere, it would leave the hands of everyone who saw it. (A pokir goes to
                # the city's Forum Perangkat Daerah, and its member may still correct its place within the
                # dapil: services/pokir.py checks that.)
                raise ValidationFailed({"kelurahan": N_("kelurahan tidak dapat diubah saat memperbaiki usulan:"
                                                        " untuk kelurahan lain, ajukan usulan baru")})  # fmt: skip
            if command.content == state.content and pokir is None and not photos_added_since_return(state):
                raise DomainError(N_("tidak ada yang berubah"))
            check_content(command.content)
            return [ProposalRevised(code=command.code, content=command.content, pokir=pokir)]
        case AttachPhoto():
            if command.photo_id in state.photos:
                raise DomainError(N_("foto ini sudah dilampirkan"))
            check_room_for_photo(state)
            _check_photo(command)
            return [ProposalPhotoAttached(**msgspec.structs.asdict(command))]
        case VerifyProposal():
            return _verify(state, command)
        case CarryOver():
            if state.source == "pokir":
                raise DomainError(N_("pokok pikiran DPRD diajukan lagi oleh anggotanya dari reses berikutnya"))
            return _carry_over(state, command)
        case ForwardPokir() | ReturnPokir():
            return _check_pokir(state, command)
    raise TypeError(f"unknown command {command!r}")


def _not_carried(state: Proposal) -> None:
    """A proposal carried into a later year lives on there: the earlier one is not worked on again (a
    returned one revised in its old year would run in two years at once)."""
    if state.carried_to is not None:
        raise DomainError(Message(N_("usulan ini sudah diusulkan lagi sebagai %(to)s; lanjutkan di sana"),
                                  to=state.carried_to))  # fmt: skip


def _carry_over(state: Proposal, command: CarryOver) -> list[Event]:
    if command.to_year <= state.year:
        raise ValidationFailed(
            {
                "year": Message(
                    N_("usulan %(code)s dari tahun %(year)d hanya dapat diusulkan lagi untuk tahun sesudahnya"),
                    code=command.code,
                    year=state.year,
                )
            }
        )
    if state.carried_to is not None:
        raise DomainError(Message(N_("usulan %(code)s sudah diusulkan lagi sebagai %(to)s"),
                                  code=command.code, to=state.carried_to))  # fmt: skip
    if not not_accommodated(command.outcome, command.adopted, line_dropped=command.line_dropped):
        raise DomainError(Message(N_("usulan %(code)s belum selesai atau sudah diakomodasi: hanya usulan yang tidak"
                                     " terakomodasi yang dapat diusulkan lagi"), code=command.code))  # fmt: skip
    return [ProposalCarriedOver(code=command.code, to_code=command.to_code, to_year=command.to_year)]


def _check_pokir(state: Proposal, command: ForwardPokir | ReturnPokir) -> list[Event]:
    """The secretariat's completeness check: a pokir waiting for it, forwarded or returned with what to fix."""
    if state.source != "pokir":
        raise DomainError(N_("ini usulan warga, bukan pokok pikiran DPRD: diverifikasi di kelurahan"))
    if state.status != DIAJUKAN:
        raise DomainError(N_("pokok pikiran ini sudah diperiksa"))
    _seen_current(state, command.seen_revision)
    checks = bounds.Checks()
    if isinstance(command, ForwardPokir):
        note = checks.text("note", command.note, bounds.REASON, multiline=True)
        checks.done()
        return [PokirForwarded(code=command.code, note=note)]
    reason = checks.text("reason", command.reason, bounds.REASON, multiline=True)
    checks.done()
    if not reason:
        raise ValidationFailed({"reason": N_("tulis apa yang perlu dilengkapi atau diperbaiki")})
    return [ProposalReturned(code=command.code, reason=reason)]


def _seen_current(state: Proposal, seen: int | None) -> None:
    """A decision names the revision it was taken on: one revised since is refused, to be read again
    first."""
    if seen is not None and seen != state.revision:
        raise DomainError(N_("isinya sudah diperbaiki sejak halaman ini dibuka: baca lagi isi yang baru"
                                     " sebelum memutuskan"))  # fmt: skip


def _verify(state: Proposal, command: VerifyProposal) -> list[Event]:
    if state.source == "pokir":
        raise DomainError(N_("pokok pikiran DPRD diperiksa Sekretariat DPRD, bukan diverifikasi di kelurahan"))
    if state.status == DIGABUNGKAN:  # a tab shown before the merge: "already verified" would be untrue
        raise DomainError(Message(N_("usulan %(code)s sudah digabungkan ke %(into)s: putuskan usulan itu"),
                                  code=command.code, into=state.merged_into or ""))  # fmt: skip
    if state.status != DIAJUKAN:  # a second tab: what was decided is said, not only that something was
        raise DomainError(Message(N_("usulan ini sudah diverifikasi: statusnya kini «%(status)s»; muat ulang"
                                     " halaman untuk melihat keputusannya"),
                                  status=Term(STATUSES.get(state.status or "", state.status or ""))))  # fmt: skip
    _seen_current(state, command.seen_revision)
    checks = bounds.Checks()
    reason = checks.text("reason", command.reason, bounds.REASON, multiline=True)
    if command.agreed_cost is not None:
        checks.check("agreed_cost", bounds.rupiah, command.agreed_cost, high=MAX_COST)
    if command.agreed_volume is not None:
        checks.check("agreed_volume", _volume, command.agreed_volume)
    if command.decision in DECISIONS and command.decision != "accept_with_changes":
        # Only an acceptance with changes records them: with any other decision they were dropped unsaid.
        for name in ("agreed_volume", "agreed_cost"):
            if getattr(command, name) is not None:
                checks.fail(name, N_("hanya untuk «Terima dengan perubahan»: kosongkan, atau pilih keputusan itu"))
    checks.done()
    match command.decision:
        case "accept":
            return [ProposalAccepted(code=command.code, reason=reason)]
        case "accept_with_changes":
            if command.agreed_volume is None and command.agreed_cost is None:
                raise ValidationFailed({"agreed_cost": N_("isi volume atau biaya yang disepakati")})
            if not reason:
                raise ValidationFailed({"reason": N_("tulis alasan perubahan")})
            return [
                ProposalAccepted(
                    code=command.code,
                    agreed_volume=command.agreed_volume,
                    agreed_cost=command.agreed_cost,
                    reason=reason,
                )
            ]
        case "return":
            if not reason:
                raise ValidationFailed({"reason": N_("tulis apa yang perlu diperbaiki")})
            return [ProposalReturned(code=command.code, reason=reason)]
        case "reject":
            if not reason:
                raise ValidationFailed({"reason": N_("tulis alasan penolakan")})
            return [ProposalRejected(code=command.code, reason=reason)]
    raise ValidationFailed({"decision": N_("keputusan tidak dikenal")})


def repeats_decision(state: Proposal, command: VerifyProposal) -> bool:
    """Whether `command` is the very decision last recorded, and still in force (a form sent twice: a
    double tap, a retry after a lost answer): the page then answers as the first time, writing nothing."""
    if state.decision is None or state.source == "pokir":
        return False
    try:
        again = _verify(msgspec.structs.replace(state, status=DIAJUKAN), command)
    except DomainError:
        return False
    return again == [state.decision] and evolve(state, again[0]).status == state.status


def repeats_merge(sources: dict[str, Proposal], command: MergeProposals) -> bool:
    """Whether every proposal of `command` is already merged into its target (the merge form sent twice)."""
    return bool(command.codes) and all(
        (s := sources.get(code)) is not None and s.status == DIGABUNGKAN and s.merged_into == command.into
        for code in command.codes
    )


class MergeProposals(msgspec.Struct, frozen=True, kw_only=True):
    into: str
    codes: tuple[str, ...]
    reason: str


MERGEABLE = (DIAJUKAN, DIKEMBALIKAN, DITERIMA, DITERIMA_DENGAN_PERUBAHAN)
MERGE_TARGETS = (DIAJUKAN, DITERIMA, DITERIMA_DENGAN_PERUBAHAN)
"""Not a returned proposal: it waits on its proposer, who may never revise it, and the duplicates merged
into it would wait with it (a returned duplicate may still be merged into one that goes on)."""
VERIFIED = (DITERIMA, DITERIMA_DENGAN_PERUBAHAN)
"""A proposal that passed verification is merged only into one that passed it too: one still waiting could
be rejected or returned, and the accepted need living on in it would end without anyone deciding on it."""


def decide_merge(target: Proposal, sources: dict[str, Proposal], command: MergeProposals) -> dict[str, list[Event]]:
    """Merge duplicates into one: every original stays (status digabungkan, linked to the target), the
    target records which were merged and takes over their beneficiaries. Nothing is deleted."""
    checks = bounds.Checks()
    reason = checks.text("reason", command.reason, bounds.REASON, multiline=True)
    checks.done()
    if not reason:
        raise ValidationFailed({"reason": N_("tulis alasan penggabungan")})
    if len(command.codes) > MAX_MERGED:
        raise ValidationFailed({"codes": Message(N_("paling banyak %(max)d usulan sekaligus"), max=MAX_MERGED)})
    if not command.codes:
        raise ValidationFailed({"codes": N_("pilih usulan yang digabungkan")})
    if command.into in command.codes:
        raise ValidationFailed({"codes": N_("usulan tujuan tidak dapat digabungkan ke dirinya sendiri")})
    if len(set(command.codes)) != len(command.codes):
        raise ValidationFailed({"codes": N_("satu usulan hanya dapat digabungkan sekali")})
    if not target.exists:
        raise NotFound(N_("usulan tujuan tidak ditemukan"))
    if target.source == "pokir" or any(s.source == "pokir" for s in sources.values()):
        raise DomainError(N_("pokok pikiran DPRD tidak digabungkan di kelurahan: perangkat daerah dapat memasukkannya"
                             " ke baris yang sama"))  # fmt: skip
    if target.status not in MERGEABLE:
        raise DomainError(N_("usulan tujuan tidak dapat menerima penggabungan"))
    _not_carried(target)  # duplicates merged into it would be worked on nowhere
    if target.status not in MERGE_TARGETS:
        raise DomainError(N_("usulan tujuan sedang dikembalikan ke pengusul untuk diperbaiki: pilih tujuan lain,"
                             " atau gabungkan setelah usulan itu diperbaiki"))  # fmt: skip
    out: dict[str, list[Event]] = {}
    added = 0
    for code in command.codes:
        source = sources.get(code) or Proposal()
        if not source.exists:
            raise NotFound(Message(N_("usulan %(code)s tidak ditemukan"), code=code))
        if source.status not in MERGEABLE:
            raise DomainError(Message(N_("usulan %(code)s tidak dapat digabungkan lagi"), code=code))
        if source.carried_to is not None:  # it goes on in the later year: merged here too, it would count twice
            raise DomainError(Message(N_("usulan %(code)s sudah diusulkan lagi sebagai %(to)s"), code=code,
                                      to=source.carried_to))  # fmt: skip
        if source.submitted.kelurahan != target.submitted.kelurahan:
            raise DomainError(N_("hanya usulan dari kelurahan yang sama yang dapat digabungkan"))
        if source.year != target.year:
            raise DomainError(N_("hanya usulan untuk tahun RKPD yang sama yang dapat digabungkan"))
        if source.status in VERIFIED and target.status not in VERIFIED:
            # The need passed verification and lives on in the target: a target still to be verified could be
            # rejected or returned, ending a need nobody decided against.
            raise DomainError(Message(N_("usulan %(code)s sudah lolos verifikasi, tetapi usulan tujuan %(into)s"
                                         " belum: verifikasi dulu usulan tujuan, lalu gabungkan"),
                                      code=code, into=command.into))  # fmt: skip
        out[code] = [ProposalMerged(code=code, into=command.into, reason=reason)]
        added += source.beneficiaries
    if target.beneficiaries + added > MAX_MERGED_BENEFICIARIES:  # merges add up: keep the sum storable
        raise ValidationFailed({"codes": N_("jumlah penerima manfaat usulan gabungan tidak masuk akal")})
    out[command.into] = [
        ProposalsMergedIn(code=command.into, merged=command.codes, beneficiaries_added=added, reason=reason)
    ]
    return out


def evolve(state: Proposal, event: Event) -> Proposal:
    match event:
        case ProposalSubmitted():
            return Proposal(code=event.code, year=event.year, status=DIAJUKAN, content=event.content,
                            beneficiaries=event.content.beneficiaries, carried_from=event.carried_from,
                            source=event.source, pokir=event.pokir)  # fmt: skip
        case ProposalCarriedOver():
            return msgspec.structs.replace(state, carried_to=event.to_code)
        case ProposalRevised():
            added = state.beneficiaries - (state.content.beneficiaries if state.content else 0)
            return msgspec.structs.replace(state, status=DIAJUKAN, content=event.content,
                                           beneficiaries=event.content.beneficiaries + added,
                                           pokir=event.pokir or state.pokir, revision=state.revision + 1)  # fmt: skip
        case ProposalMerged():
            return msgspec.structs.replace(state, status=DIGABUNGKAN, merged_into=event.into)
        case ProposalsMergedIn():
            return msgspec.structs.replace(state, beneficiaries=state.beneficiaries + event.beneficiaries_added)
        case ProposalPhotoAttached():
            return msgspec.structs.replace(state, photos=(*state.photos, event.photo_id))
        case ProposalAccepted():
            changed = event.agreed_volume is not None or event.agreed_cost is not None
            return msgspec.structs.replace(state, status=DITERIMA_DENGAN_PERUBAHAN if changed else DITERIMA,
                                           decision=event)  # fmt: skip
        case ProposalReturned():
            return msgspec.structs.replace(state, status=DIKEMBALIKAN, decision=event,
                                           photos_when_returned=len(state.photos))  # fmt: skip
        case PokirForwarded():
            return msgspec.structs.replace(state, status=DITERUSKAN_SETWAN)
        case ProposalRejected():
            return msgspec.structs.replace(state, status=DITOLAK, decision=event)
    return state
