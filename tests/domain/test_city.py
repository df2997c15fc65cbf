"""The city's settings: what may be recorded, and that the same settings twice record nothing."""

from __future__ import annotations

import msgspec
import pytest

from musrenbang.domain import city
from musrenbang.domain.errors import DomainError, ValidationFailed
from musrenbang.reference import city_settings

BEKASI = city_settings()


def test_settings_are_recorded_once_and_the_time_zone_follows_the_province() -> None:
    [event] = city.decide(city.City(), msgspec.structs.replace(BEKASI, timezone=""))
    assert event.timezone == "WIB"
    state = city.evolve(city.City(), event)
    assert city.decide(state, BEKASI) == []  # the same settings again: nothing to record
    with pytest.raises(ValidationFailed) as refused:
        city.decide(state, msgspec.structs.replace(BEKASI, timezone="GMT"))
    assert "timezone" in refused.value.errors


def test_the_region_of_a_platform_never_changes() -> None:
    state = city.evolve(city.City(), city.decide(city.City(), BEKASI)[0])
    with pytest.raises(DomainError, match="32.75"):
        city.decide(state, msgspec.structs.replace(BEKASI, region="32.01"))


@pytest.mark.parametrize("region", ["٣٢.٧٥", "32.٧٥", "３２.７５"])
def test_a_region_code_is_ascii_digits(region: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        city.decide(city.City(), msgspec.structs.replace(BEKASI, region=region))
    assert "region" in refused.value.errors


@pytest.mark.parametrize("urusan", ["١.٠٣", "1.٠٣", "1.０３"])
def test_an_urusan_code_is_ascii_digits(urusan: str) -> None:
    first = msgspec.structs.replace(BEKASI.agencies[0], urusan=(urusan,))
    with pytest.raises(ValidationFailed) as refused:
        city.decide(city.City(), msgspec.structs.replace(BEKASI, agencies=(first, *BEKASI.agencies[1:])))
    assert "agencies" in refused.value.errors
