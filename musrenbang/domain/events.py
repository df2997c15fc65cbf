"""Every event the system records, as frozen msgspec Structs with explicit, stable tags.

The tag is what the log stores as `event_type`: renaming a class must never change it. Evolve an event
only by adding fields with defaults; never change a stored field's type. Events carry no floats (a float
would not survive the round trip through jsonb byte for byte, and the hash chain depends on that).
"""

from __future__ import annotations

import datetime as dt

import msgspec


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of all events: something that happened, in the past tense."""


# --- planning cycle -------------------------------------------------------------------------------


class CycleStarted(Event, frozen=True, tag="cycle.started"):
    """A planning cycle for the RKPD of `year` was opened (planned during year - 1)."""

    year: int
    region: str
    theme: str
    priority_programs: tuple[str, ...]
    kickoff_on: dt.date | None = None


class CycleStageAdvanced(Event, frozen=True, tag="cycle.stage_advanced"):
    """The cycle moved to the next stage of the planning calendar."""

    year: int
    stage: str


ALL_EVENTS: tuple[type[Event], ...] = (CycleStarted, CycleStageAdvanced)


def event_tag(cls: type[Event]) -> str:
    return cls.__struct_config__.tag  # type: ignore[return-value]


EVENT_TYPES: dict[str, type[Event]] = {event_tag(cls): cls for cls in ALL_EVENTS}
