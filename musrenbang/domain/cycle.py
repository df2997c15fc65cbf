"""The planning cycle: one per RKPD year, with its theme, priority programs and current stage."""

from __future__ import annotations

import datetime as dt

import msgspec

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
            if not 2000 <= command.year <= 2100:
                raise DomainError("tahun RKPD tidak masuk akal", field="year")
            if not command.theme.strip():
                raise DomainError("tema RKPD wajib diisi", field="theme")
            programs = tuple(p.strip() for p in command.priority_programs)
            if not programs or any(not p for p in programs):
                raise DomainError("program prioritas wajib diisi", field="priority_programs")
            return [
                CycleStarted(
                    year=command.year,
                    region=command.region,
                    theme=command.theme.strip(),
                    priority_programs=programs,
                    kickoff_on=command.kickoff_on,
                )
            ]
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
