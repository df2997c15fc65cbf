"""What happens to an RKPD line after adoption: the budget, the contract, the work, the handover.

A line adopted into the RKPD is a promise, not money: the KUA-PPAS proposes its pagu, the APBD budgets it
(possibly another amount, for a reason), the DPA releases it, a contract is signed, the work progresses and
is handed over — or the line is dropped somewhere along the way, with the reason. Each of these is a
milestone, recorded by the line's agency or by Bappeda on the line's own stream (`realisasi-{year}-{id}`),
so that a year of updates never weighs on the RKPD stream's commands.

Stages move forward only (a stage may be skipped when nobody recorded it); progress may be reported many
times, never going down, and so may the amount spent (down, or beyond what the line may spend, only with
the reason in the note: `_spent_errors`);
`selesai` (at 100%) and `batal` end the line's story, and no photo of the work is taken after them. Dates
never go back, never lie in the future nor before the year's RKPD was adopted: a milestone is what
happened to an RKPD line, not a plan.
"""

from __future__ import annotations

import datetime as dt
import re

import msgspec

from musrenbang.domain import bounds, values
from musrenbang.domain.access import Forbidden
from musrenbang.domain.errors import N_, DomainError, Message, NotFound, Term, UnreadableFile, ValidationFailed
from musrenbang.domain.events import Event, MilestonePhoto, RkpdLine, RkpdMilestoneRecorded

STAGES = ("kua_ppas", "apbd", "dpa", "kontrak", "pelaksanaan", "selesai", "batal")
ADOPTED = "rkpd"
"""A line's stage before any milestone: adopted into the RKPD."""
LABELS = {
    ADOPTED: N_("Ditetapkan dalam RKPD"),
    "kua_ppas": N_("KUA-PPAS"),
    "apbd": N_("Dianggarkan dalam APBD"),
    "dpa": N_("DPA diterbitkan"),
    "kontrak": N_("Kontrak ditandatangani"),
    "pelaksanaan": N_("Sedang dikerjakan"),
    "selesai": N_("Selesai"),
    "batal": N_("Dibatalkan"),
}
WITH_AMOUNT = frozenset({"kua_ppas", "apbd", "dpa", "kontrak"})
"""Stages whose amount is required: the pagu proposed, budgeted, released, contracted."""
WITH_PHOTOS = frozenset({"pelaksanaan", "selesai"})
MAX_PHOTOS = 3
FINAL = frozenset({"selesai", "batal"})
BUDGETED = frozenset({"kua_ppas", "apbd", "dpa"})
"""Stages whose amount is the line's budget (the latest one recorded wins: the DPA's over the APBD's)."""
SPENT = frozenset({"pelaksanaan", "selesai"})
"""Stages whose amount is what was spent so far."""


def stream_id(year: int, line_id: str) -> str:
    return f"realisasi-{year}-{line_id}"


class LineProgress(msgspec.Struct, kw_only=True):
    """Where one line stands after adoption (immutable in use: evolve returns a new one)."""

    stage: str = ADOPTED
    last_on: dt.date | None = None
    progress: int = 0
    milestones: int = 0
    budget: int | None = None
    """The latest amount proposed, budgeted or released (KUA-PPAS, APBD, DPA); None before any."""
    contract: int | None = None
    spent: int | None = None
    """The latest amount spent reported (pelaksanaan, selesai); None before any."""
    last_report: tuple[dt.date, int | None, int | None, str, frozenset[str]] | None = None
    """The latest `pelaksanaan` report as (day, progress, amount, note, photo ids): the same report again,
    with no new photo, is refused."""

    def ceiling(self, line: RkpdLine) -> int:
        """The most the line may have spent: its budget (the RKPD pagu until one is recorded), or its
        contract's value when that is more."""
        budget = self.budget if self.budget is not None else line.pagu
        return max(budget, self.contract or 0)


class RecordMilestone(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    line_id: str
    stage: str
    on: dt.date
    amount: int | None = None
    progress: int | None = None
    note: str = ""
    contractor: str | None = None
    ends: dt.date | None = None
    photos: tuple[MilestonePhoto, ...] = ()
    by_agency: str | None = None
    """The acting agency (an opd account); None for Bappeda."""


def photo_errors(stage: str, count: int) -> dict[str, str | Message]:
    """Photos show the work itself: only a milestone of its carrying out or its handover has them, and a
    few. Also checked before uploaded photos are kept (http/realisation.py), so that a refused form keeps
    none of them."""
    if count and stage not in WITH_PHOTOS:
        return {"photos": N_("foto hanya untuk pelaksanaan dan serah terima")}
    if count > MAX_PHOTOS:
        return {"photos": Message(N_("paling banyak %(max)d foto"), max=MAX_PHOTOS)}
    return {}


def decide(state: LineProgress, command: RecordMilestone, *, line: RkpdLine | None, today: dt.date,
           adopted_on: dt.date | None = None) -> list[Event]:  # fmt: skip
    """The milestone `command` records on a line of the adopted RKPD (`line`: the line as the latest
    adoption froze it, None when the adopted list has no such line; `adopted_on`: the day the Musrenbang
    Kota first adopted the year's RKPD, rkpd.adopted_day, None when the log does not say)."""
    line = check_line(line, command.by_agency)
    errors: dict[str, str | Message] = {}
    checks = bounds.Checks()
    stage = command.stage
    if stage not in STAGES:
        errors["stage"] = N_("tahap tidak dikenal")
    note = checks.text("note", command.note, bounds.REASON, multiline=True)
    contractor = checks.text("contractor", command.contractor or "", bounds.NAME) or None
    errors.update(checks.errors)
    errors.update(_date_errors(state, command, today, adopted_on))
    if errors:
        raise ValidationFailed(errors)
    _check_order(state, stage)
    if stage == "pelaksanaan":
        _check_progress(state, command.progress)
    errors.update(_amount_errors(state, command, line, note))
    progress = _progress(command, errors)
    if stage == "kontrak" and not contractor:
        errors["contractor"] = N_("tulis nama penyedia (kontraktor)")
    if stage == "batal" and not note:
        errors["note"] = N_("tulis alasan pembatalan")
    if contractor and stage != "kontrak":  # refused, never dropped: it was typed for a reason
        errors["contractor"] = N_("penyedia hanya dicatat pada tahap kontrak")
    if command.ends is not None and stage != "kontrak":
        errors["ends"] = N_("tanggal akhir kontrak hanya dicatat pada tahap kontrak")
    elif command.ends is not None and command.ends < command.on:
        errors["ends"] = N_("tanggal akhir kontrak tidak boleh sebelum tanggal kontrak")
    photos = tuple({p.photo_id: p for p in command.photos}.values())  # the same photo sent twice is one photo
    errors.update(photo_errors(stage, len(photos)))
    if errors:
        raise ValidationFailed(errors)
    last = state.last_report
    if stage == "pelaksanaan" and last is not None and last[:4] == (command.on, progress, command.amount, note) \
            and {p.photo_id for p in photos} <= last[4]:  # fmt: skip
        # A form or file sent again (a re-upload of the same CSV) would repeat the report on every page and
        # feed; another day, figure or note, or a new photo, is a new report.
        raise DomainError(Message(N_("laporan pelaksanaan %(progress)d%% tanggal %(day)s ini sudah tercatat"),
                                  progress=progress or 0, day=values.long_date(command.on)))  # fmt: skip
    return [RkpdMilestoneRecorded(
        year=command.year, line_id=line.line_id, agency=line.agency, origins=line.origins, stage=stage,
        on=command.on, amount=command.amount, progress=progress, note=note,
        contractor=contractor if stage == "kontrak" else None, ends=command.ends, photos=photos,
    )]  # fmt: skip


def public_detail(e: RkpdMilestoneRecorded) -> dict[str, object]:
    """What a milestone shows on a lineage step and a proposal's timeline: everything but the origins."""
    return {"year": e.year, "line_id": e.line_id, "agency": e.agency, "stage": e.stage, "on": e.on.isoformat(),
            "amount": e.amount, "progress": e.progress, "note": e.note, "contractor": e.contractor,
            "ends": e.ends.isoformat() if e.ends else None, "photos": [p.photo_id for p in e.photos]}  # fmt: skip


def check_line(line: RkpdLine | None, by_agency: str | None) -> RkpdLine:
    """`line` exists in the adopted RKPD and the acting agency (None: Bappeda) may record on it."""
    if line is None:
        raise NotFound(N_("baris ini tidak ada dalam RKPD yang ditetapkan, atau sudah ditarik darinya"))
    if by_agency is not None and by_agency != line.agency:
        raise Forbidden(N_("usulan atau baris ini milik perangkat daerah lain"))
    return line


def _date_errors(state: LineProgress, command: RecordMilestone, today: dt.date, adopted_on: dt.date | None
                 ) -> dict[str, str | Message]:  # fmt: skip
    for field, day in (("date", command.on), ("ends", command.ends)):
        try:
            bounds.date(day)
        except ValueError as exc:
            return {field: exc.args[0]}
    if command.on.year < command.year - 1:  # RKPD N is planned, and budgeted, in N-1
        return {"date": Message(N_("tanggal sebelum %(year)d: RKPD ini direncanakan mulai tahun itu"),
                                year=command.year - 1)}  # fmt: skip
    if command.on > today:
        return {"date": N_("tanggal tidak boleh di masa depan: catat yang sudah terjadi")}
    if adopted_on is not None and command.on < adopted_on:  # a KUA-PPAS before there was any RKPD
        return {"date": Message(N_("tanggal tidak boleh sebelum RKPD ini ditetapkan di Musrenbang Kota (%(day)s)"),
                                day=values.long_date(adopted_on))}  # fmt: skip
    if state.last_on is not None and command.on < state.last_on:
        return {"date": Message(N_("tanggal tidak boleh sebelum tahap sebelumnya (%(day)s)"),
                                day=values.long_date(state.last_on))}  # fmt: skip
    return {}


def _check_order(state: LineProgress, stage: str) -> None:
    if state.stage in FINAL:
        raise DomainError(Message(N_("baris ini sudah %(stage)s: tidak ada tahap lagi"),
                                  stage=Term(LABELS[state.stage]).lower()))  # fmt: skip
    if stage == "batal":
        return
    current = STAGES.index(state.stage) if state.stage in STAGES else -1
    wanted = STAGES.index(stage)
    if wanted < current or (wanted == current and stage != "pelaksanaan"):
        raise DomainError(Message(N_("tahap %(stage)s sudah lewat: tahap terakhir %(current)s"),
                                  stage=Term(LABELS[stage]), current=Term(LABELS[state.stage])))  # fmt: skip


def _amount_errors(state: LineProgress, command: RecordMilestone, line: RkpdLine, note: str
                   ) -> dict[str, str | Message]:  # fmt: skip
    amount = command.amount
    if amount is None:
        return {"amount": N_("isi nilai rupiahnya")} if command.stage in WITH_AMOUNT else {}
    if command.stage == "batal":
        return {"amount": N_("pembatalan tidak memakai nilai rupiah")}
    try:
        bounds.rupiah(amount, zero=command.stage in ("pelaksanaan", "selesai"))
    except ValueError as exc:
        return {"amount": exc.args[0]}
    if command.stage == "apbd" and amount != line.pagu and not note:
        return {"note": N_("nilai APBD berbeda dari pagu RKPD: tulis alasannya")}
    if command.stage in SPENT:
        return _spent_errors(state, amount, line, note)
    return {}


OVER_CEILING = 2
"""What was spent may pass what the line may spend, with the reason in the note (a budget amended in the
year, APBD Perubahan, is not recorded as a stage), but not this many times over: a zero too many."""


def _spent_errors(state: LineProgress, amount: int, line: RkpdLine, note: str) -> dict[str, str | Message]:
    """What was spent is a running total read by everyone: less than the last report (a correction of a
    slip) or more than the line may spend (an amended budget) is taken only with its reason in the note, and
    never many times what the line may spend. A hard "never down" left one mistyped report uncorrectable
    for the rest of the line's story."""
    ceiling = state.ceiling(line)
    if amount > OVER_CEILING * ceiling:
        return {"amount": Message(N_("nilai yang dibelanjakan jauh melebihi anggaran baris ini (Rp %(budget)s):"
                                     " periksa angkanya"), budget=values.grouped(ceiling))}  # fmt: skip
    if note:
        return {}
    if state.spent is not None and amount < state.spent:
        return {"note": Message(N_("nilai yang dibelanjakan lebih kecil dari laporan terakhir (Rp %(amount)s):"
                                   " tulis alasannya di catatan (koreksi)"), amount=values.grouped(state.spent))}
    if amount > ceiling:
        return {"note": Message(N_("nilai yang dibelanjakan melebihi anggaran baris ini (Rp %(budget)s): tulis"
                                   " alasannya di catatan (misalnya APBD Perubahan)"), budget=values.grouped(ceiling))}
    return {}


def _progress(command: RecordMilestone, errors: dict[str, str | Message]) -> int | None:
    if command.stage == "selesai":  # the handover is the whole work: a progress other than 100 is refused
        if command.progress is not None and command.progress != 100:
            errors["progress"] = N_("tahap selesai berarti pekerjaan rampung: isi persentase 100 atau kosongkan")
            return None
        return 100
    if command.stage != "pelaksanaan":
        if command.progress is not None:
            errors["progress"] = N_("persentase hanya untuk pelaksanaan")
        return None
    if command.progress is None:
        errors["progress"] = N_("isi persentase kemajuan pekerjaan (0–100)")
        return None
    try:
        return bounds.whole(command.progress, 0, 100)
    except ValueError as exc:
        errors["progress"] = exc.args[0]
        return None


def evolve(state: LineProgress, event: Event) -> LineProgress:
    if not isinstance(event, RkpdMilestoneRecorded):
        return state
    progress = max(state.progress, event.progress or 0)
    budget, contract, spent = state.budget, state.contract, state.spent
    if event.amount is not None:
        if event.stage in BUDGETED:
            budget = event.amount
        elif event.stage == "kontrak":
            contract = event.amount
        elif event.stage in SPENT:
            spent = event.amount
    report = (event.on, event.progress, event.amount, event.note, frozenset(p.photo_id for p in event.photos)) \
        if event.stage == "pelaksanaan" else None  # fmt: skip
    return LineProgress(stage=event.stage, last_on=event.on, progress=progress, milestones=state.milestones + 1,
                        budget=budget, contract=contract, spent=spent, last_report=report)  # fmt: skip


def check_photo_state(state: LineProgress) -> None:
    """A photo of the work is taken only while a milestone can still show it: not once the line is
    finished or dropped."""
    if state.stage in FINAL:
        raise DomainError(Message(N_("baris ini sudah %(stage)s: foto pekerjaan tidak dapat ditambahkan lagi"),
                                  stage=Term(LABELS[state.stage]).lower()))  # fmt: skip


def _check_progress(state: LineProgress, progress: int | None) -> None:
    """Progress never goes down: a lower percentage than the last one reported is a typo or a correction
    that needs saying (a note), not a silent step back."""
    if progress is not None and progress < state.progress:
        raise ValidationFailed({"progress": Message(N_("kemajuan tidak boleh turun: terakhir %(n)d%%"),
                                                    n=state.progress)})  # fmt: skip


# --- bulk entry: a CSV per agency ---------------------------------------------------------------------

CSV_COLUMNS = {
    "line_id": ("baris", "line_id", "id"),
    "stage": ("tahap", "stage"),
    "amount": ("nilai", "amount", "jumlah"),
    "progress": ("persen", "progress", "persentase"),
    "date": ("tanggal", "date"),
    "note": ("catatan", "note", "keterangan"),
    "contractor": ("penyedia", "contractor", "kontraktor"),
}
"""Each field of a bulk row and the column headers that name it (Indonesian first, as the template)."""
CSV_TEMPLATE = "baris,tahap,nilai,persen,tanggal,catatan,penyedia\r\n"
MAX_ROWS = 2000
STAGE_ALIASES = {"kua-ppas": "kua_ppas", "kuappas": "kua_ppas", "kua ppas": "kua_ppas", "progres": "pelaksanaan",
                 "dibatalkan": "batal", "kontrak ditandatangani": "kontrak"}  # fmt: skip


class BulkRow(msgspec.Struct, frozen=True, kw_only=True):
    """One row of a bulk file as read: its number in the file (the header is row 1) and either the command
    it asks for or what is wrong with it (field -> message)."""

    number: int
    command: RecordMilestone | None
    errors: dict[str, str | Message]


def read_rows(records: list[list[str]], year: int, by_agency: str | None) -> list[BulkRow]:
    """The rows of a parsed CSV (`records`, the header first) as commands for the lines of RKPD `year`.
    Refused whole (UnreadableFile: the request is at fault, 422) when the header lacks a required column or
    the file is empty or too long; otherwise every row comes back, right or wrong, so that all its problems
    can be shown at once."""
    if not records or not any(cell.strip() for cell in records[0]):
        raise UnreadableFile(N_("berkas kosong: baris pertama berisi judul kolom"
                             " baris,tahap,nilai,persen,tanggal,catatan"))
    header = [cell.strip().lower().lstrip("\ufeff") for cell in records[0]]
    where: dict[str, int] = {}
    for field, names in CSV_COLUMNS.items():
        for i, name in enumerate(header):
            if name in names:
                where[field] = i
                break
    missing = [CSV_COLUMNS[f][0] for f in ("line_id", "stage", "date") if f not in where]
    if missing:
        raise UnreadableFile(Message(N_("kolom %(columns)s tidak ada di baris judul"), columns=", ".join(missing)))
    body = [(n, r) for n, r in enumerate(records[1:], start=2) if any(cell.strip() for cell in r)]
    if not body:
        raise UnreadableFile(N_("berkas tidak berisi baris data"))
    if len(body) > MAX_ROWS:
        raise UnreadableFile(Message(N_("paling banyak %(max)d baris sekaligus"), max=MAX_ROWS))
    # A cell beyond the header's last column is text that was cut from its own (an unquoted comma in a
    # note): named at that column, never dropped. Empty cells there (a trailing separator) are nothing.
    last = next((f for f, i in where.items() if i == len(header) - 1), None)
    return [_row(n, {f: (r[i].strip() if i < len(r) else "") for f, i in where.items()}, year, by_agency,
                 overflow=(last or "line_id") if any(cell.strip() for cell in r[len(header):]) else None)
            for n, r in body]  # fmt: skip


def _row(number: int, cells: dict[str, str], year: int, by_agency: str | None, *,
         overflow: str | None = None) -> BulkRow:  # fmt: skip
    errors: dict[str, str | Message] = {}
    if overflow is not None:
        errors[overflow] = N_("baris ini berisi lebih banyak kolom daripada baris judul: apit isian yang memuat"
                              " koma atau titik koma dengan tanda kutip")
    stage = cells.get("stage", "").lower()
    stage = STAGE_ALIASES.get(stage, stage)
    if stage not in STAGES:
        errors["stage"] = Message(N_("tahap tidak dikenal: pakai salah satu dari %(stages)s"), stages=", ".join(STAGES))
    on = None
    try:
        on = parse_day(cells.get("date", ""))
    except ValueError as exc:
        errors["date"] = exc.args[0]
    amount = progress = None
    if cells.get("amount"):
        try:
            amount = values.parse_rupiah(cells["amount"])
        except ValueError as exc:
            errors["amount"] = exc.args[0]
    if cells.get("progress"):
        raw = cells["progress"].rstrip("%").strip()
        if raw.isascii() and raw.isdigit() and len(raw) <= 3:
            progress = int(raw)
        else:
            errors["progress"] = N_("persentase berupa bilangan bulat 0–100")
    line_id = cells.get("line_id", "")
    if not line_id:
        errors["line_id"] = N_("tulis kode baris RKPD, misalnya DBMSDA-001")
    if errors or on is None:
        return BulkRow(number=number, command=None, errors=errors)
    command = RecordMilestone(year=year, line_id=line_id, stage=stage, on=on, amount=amount, progress=progress,
                              note=cells.get("note", ""), contractor=cells.get("contractor") or None,
                              by_agency=by_agency)  # fmt: skip
    return BulkRow(number=number, command=command, errors={})


_DAY_FORMS = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{4}|\d{1,2}-\d{1,2}-\d{4}", re.ASCII)


def parse_day(text: str) -> dt.date:
    """A day as spreadsheets write it: 2022-03-31, 31/03/2022 or 31-03-2022. One written so that is not on
    the calendar (31/02/2026) is told so, not told the forms it already has."""
    raw = text.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return dt.datetime.strptime(raw, fmt).date()  # noqa: DTZ007 - a calendar day, no time zone
        except ValueError:
            continue
    if _DAY_FORMS.fullmatch(raw):
        raise ValueError(N_("tanggal itu tidak ada di kalender"))
    raise ValueError(N_("tanggal berbentuk 2022-03-31 atau 31/03/2022"))
