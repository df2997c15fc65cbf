"""The planning cycle: one per RKPD year, with its theme, priority programs and current stage."""

from __future__ import annotations

import datetime as dt

import msgspec

from musrenbang.domain import bounds
from musrenbang.domain.errors import N_, AlreadyExists, DomainError, NotFound
from musrenbang.domain.events import CycleStageAdvanced, CycleStarted, Event

# The common chain of stages (DOMAIN.md, "Levels and stages"), in order.
STAGE_LABELS = {
    "usulan": N_("Pengajuan usulan warga"),
    "kelurahan": N_("Musrenbang Kelurahan"),
    "kecamatan": N_("Musrenbang Kecamatan"),
    "perangkat_daerah": N_("Forum Perangkat Daerah"),
    "kota": N_("Musrenbang Kota"),
    "ditetapkan": N_("RKPD ditetapkan"),
}
STAGES: tuple[str, ...] = tuple(STAGE_LABELS)
MAX_PROGRAMS = 20


def stream_id(year: int) -> str:
    return f"cycle-{year}"


class Cycle(msgspec.Struct, frozen=True, kw_only=True):
    year: int | None = None
    theme: str = ""
    priority_programs: tuple[str, ...] = ()
    stage: str | None = None

    @property
    def exists(self) -> bool:
        return self.year is not None


class StartCycle(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    region: str
    theme: str
    priority_programs: tuple[str, ...]
    kickoff_on: dt.date | None = None


class AdvanceStage(msgspec.Struct, frozen=True, kw_only=True):
    year: int


def decide(state: Cycle, command: StartCycle | AdvanceStage) -> list[Event]:
    match command:
        case StartCycle():
            if state.exists:
                raise AlreadyExists(f"siklus RKPD {command.year} sudah dibuka")
            checks = bounds.Checks()
            checks.check("year", bounds.year, command.year)
            checks.check("region", bounds.region_code, command.region)
            checks.check("kickoff_on", bounds.date, command.kickoff_on)
            theme = checks.text("theme", command.theme, bounds.LONG_TITLE, required=True)
            if not command.priority_programs or len(command.priority_programs) > MAX_PROGRAMS:
                checks.fail("priority_programs", N_("program prioritas wajib diisi (paling banyak 20)"))
            programs = tuple(checks.text("priority_programs", p, bounds.TITLE, required=True)
                             for p in command.priority_programs)  # fmt: skip
            checks.done()
            return [CycleStarted(year=command.year, region=command.region, theme=theme, priority_programs=programs,
                                 kickoff_on=command.kickoff_on)]  # fmt: skip
        case AdvanceStage():
            if not state.exists:
                raise NotFound(f"siklus RKPD {command.year} belum dibuka")
            position = STAGES.index(state.stage or STAGES[0])
            if position + 1 >= len(STAGES):
                raise DomainError(f"siklus RKPD {command.year} sudah ditetapkan")
            return [CycleStageAdvanced(year=command.year, stage=STAGES[position + 1])]
    raise TypeError(f"unknown command {command!r}")


def evolve(state: Cycle, event: Event) -> Cycle:
    match event:
        case CycleStarted():
            return Cycle(year=event.year, theme=event.theme, priority_programs=event.priority_programs, stage=STAGES[0])
        case CycleStageAdvanced():
            return msgspec.structs.replace(state, stage=event.stage)
    return state
