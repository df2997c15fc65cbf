"""Proposals: what must be in one, and how its status moves (given events / when command / then events)."""

from __future__ import annotations

from functools import reduce

import msgspec
import pytest

from musrenbang.domain import proposal as rules
from musrenbang.domain import values
from musrenbang.domain.errors import DomainError, Message, NotFound, ValidationFailed
from musrenbang.domain.events import (
    CoordinateBounds,
    ProposalAccepted,
    ProposalCarriedOver,
    ProposalPhotoAttached,
    ProposalRejected,
    ProposalReturned,
    ProposalRevised,
    ProposalSubmitted,
)

KELURAHAN = {"32.75.01.1001"}
GOOD = rules.ProposalInput(
    kelurahan="32.75.01.1001", rw="5", rt="3", kind="fisik", bidang="infrastruktur",
    title="Perbaikan saluran air", problem="Saluran tersumbat dan banjir saat hujan",
    solution="Normalisasi saluran sepanjang 150 meter", beneficiaries="300", volume="150", unit="meter",
    estimated_cost="25 juta", priority_program="", address="Jl. Melati RW 05", latitude="", longitude="",
)  # fmt: skip


def validate(**changes: object) -> rules.ProposalContent:
    return rules.validate_content(msgspec.structs.replace(GOOD, **changes), kelurahan=KELURAHAN, priority_programs=6)


def errors_of(**changes: object) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate(**changes)
    return caught.value.errors


def test_a_good_proposal_is_normalised() -> None:
    content = validate(title="  Perbaikan   saluran air ", latitude="-6,2383", longitude="106.9756")
    assert content.title == "Perbaikan saluran air"
    assert (content.rw, content.rt, content.estimated_cost, content.volume) == (5, 3, 25_000_000, "150")
    assert (content.latitude, content.longitude) == ("-6.2383", "106.9756")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kelurahan": "32.75.99.9999"}, "kelurahan"),
        ({"kelurahan": ""}, "kelurahan"),
        ({"rw": "0"}, "rw"),
        ({"rw": "100"}, "rw"),
        ({"rt": "x"}, "rt"),
        ({"kind": "lainnya"}, "kind"),
        ({"bidang": ""}, "bidang"),
        ({"title": ""}, "title"),
        ({"title": "x" * 151}, "title"),
        ({"problem": "pendek"}, "problem"),
        ({"beneficiaries": "-1"}, "beneficiaries"),
        ({"volume": "0"}, "volume"),
        ({"estimated_cost": "-25000"}, "estimated_cost"),
        ({"estimated_cost": "0"}, "estimated_cost"),
        ({"estimated_cost": "999 miliar"}, "estimated_cost"),
        ({"priority_program": "7"}, "priority_program"),
        ({"latitude": "40.7", "longitude": "-74.0"}, "latitude"),
        ({"latitude": "-6.24"}, "longitude"),
        ({"address": "Jl. \x00"}, "address"),
    ],
)
def test_each_bad_field_is_named_with_a_message(changes: dict[str, object], field: str) -> None:
    errors = errors_of(**changes)
    assert field in errors and errors[field]


def test_swapped_latitude_and_longitude_are_named_as_the_likely_slip() -> None:
    bekasi = CoordinateBounds(south="-6.40", north="-6.10", west="106.90", east="107.10")
    swapped = msgspec.structs.replace(GOOD, latitude="106,9756", longitude="-6.2383")
    with pytest.raises(ValidationFailed) as caught:
        rules.validate_content(swapped, kelurahan=KELURAHAN, priority_programs=6, area=bekasi, city_name="Kota Bekasi")
    assert caught.value.errors == {"latitude": "lokasi berada di luar Kota Bekasi: garis lintang dan garis bujur"
                                               " tertukar?",
                                   "longitude": "lokasi berada di luar Kota Bekasi: garis lintang dan garis bujur"
                                                " tertukar?"}  # fmt: skip
    assert "tertukar" in errors_of(latitude="106.9756", longitude="-6.2383")["latitude"]  # Indonesia's bounds
    assert "tertukar" not in errors_of(latitude="40.7", longitude="-74.0")["latitude"]  # simply elsewhere


def test_swapped_coordinates_only_when_swapping_puts_them_inside() -> None:
    latitudes, longitudes = rules.LATITUDE_RANGE, rules.LONGITUDE_RANGE
    assert rules.swapped_coordinates("106.97", "-6.23", latitudes, longitudes)
    assert not rules.swapped_coordinates("-6.23", "106.97", latitudes, longitudes)  # right way round
    assert not rules.swapped_coordinates("-74.0", "40.7", latitudes, longitudes)  # New York, either way
    assert not rules.swapped_coordinates("abc", "-6.23", latitudes, longitudes)
    assert not rules.swapped_coordinates(None, "-6.23", latitudes, longitudes)


def test_all_problems_are_reported_at_once() -> None:
    assert set(errors_of(title="", rw="0", estimated_cost="abc")) == {"title", "rw", "estimated_cost"}


def test_messages_with_numbers_keep_their_template_for_translation() -> None:
    message = errors_of(title="x" * 151)["title"]
    assert isinstance(message, Message)
    assert message == "terlalu panjang: paling banyak 150 huruf"
    assert message.template == "terlalu panjang: paling banyak %(max)d huruf"


def test_proposer_is_checked_apart_from_the_public_content() -> None:
    assert rules.validate_proposer(" Budi  Santoso ", "0812 3456 7890") == rules.Proposer(
        name="Budi Santoso", phone="+6281234567890"
    )
    with pytest.raises(ValidationFailed) as caught:
        rules.validate_proposer("", "123")
    assert set(caught.value.errors) == {"proposer_name", "proposer_phone"}


def given(*events: object) -> rules.Proposal:
    return reduce(rules.evolve, events, rules.Proposal())


SUBMITTED = ProposalSubmitted(code="AAAA0000", year=2022, source="warga", content=validate(), proposer_ref="r")


def test_submitting_records_content_and_only_a_reference_to_the_proposer() -> None:
    [event] = rules.decide(given(), rules.SubmitProposal(code="AAAA0000", year=2022, source="warga",
                                                         content=validate(), proposer_ref="r"))  # fmt: skip
    assert event == SUBMITTED
    assert "Budi" not in msgspec.json.encode(event).decode()


def test_revision_is_only_possible_after_return_and_resubmits() -> None:
    other = validate(title="Perbaikan saluran air RW 05")
    with pytest.raises(DomainError):
        rules.decide(given(SUBMITTED), rules.ReviseProposal(code="AAAA0000", content=other))
    returned = given(SUBMITTED, ProposalReturned(code="AAAA0000", reason="lengkapi RT"))
    assert returned.status == rules.DIKEMBALIKAN
    [event] = rules.decide(returned, rules.ReviseProposal(code="AAAA0000", content=other))
    assert isinstance(event, ProposalRevised)
    assert rules.evolve(returned, event).status == rules.DIAJUKAN
    with pytest.raises(DomainError):  # nothing changed
        rules.decide(returned, rules.ReviseProposal(code="AAAA0000", content=validate()))


def photo(n: int) -> rules.AttachPhoto:
    return rules.AttachPhoto(code="AAAA0000", photo_id=f"p{n}", sha256=f"{n:064x}", content_type="image/jpeg", width=1,
                             height=1, size=1)  # fmt: skip


def test_at_most_three_photos_and_never_the_same_twice() -> None:
    state = given(SUBMITTED)
    for n in range(3):
        [event] = rules.decide(state, photo(n))
        assert isinstance(event, ProposalPhotoAttached)
        state = rules.evolve(state, event)
    with pytest.raises(DomainError, match="paling banyak 3 foto"):
        rules.decide(state, photo(3))
    with pytest.raises(DomainError, match="sudah dilampirkan"):
        rules.decide(given(SUBMITTED, *rules.decide(given(SUBMITTED), photo(0))), photo(0))


@pytest.mark.parametrize(
    ("decision", "extra", "event_type", "status"),
    [
        ("accept", {}, ProposalAccepted, rules.DITERIMA),
        ("accept_with_changes", {"agreed_cost": 20_000_000, "reason": "harga satuan"}, ProposalAccepted,
         rules.DITERIMA_DENGAN_PERUBAHAN),
        ("return", {"reason": "foto kurang jelas"}, ProposalReturned, rules.DIKEMBALIKAN),
        ("reject", {"reason": "bukan kewenangan kota"}, ProposalRejected, rules.DITOLAK),
    ],
)  # fmt: skip
def test_verification_decisions(decision: str, extra: dict, event_type: type, status: str) -> None:
    [event] = rules.decide(given(SUBMITTED), rules.VerifyProposal(code="AAAA0000", decision=decision, **extra))
    assert isinstance(event, event_type)
    assert rules.evolve(given(SUBMITTED), event).status == status


@pytest.mark.parametrize("decision", ["return", "reject", "accept_with_changes"])
def test_decisions_that_need_a_reason_refuse_without_one(decision: str) -> None:
    with pytest.raises(ValidationFailed):
        rules.decide(given(SUBMITTED), rules.VerifyProposal(code="AAAA0000", decision=decision))


def test_a_proposal_is_verified_once_and_must_exist() -> None:
    accepted = given(SUBMITTED, ProposalAccepted(code="AAAA0000"))
    with pytest.raises(DomainError):
        rules.decide(accepted, rules.VerifyProposal(code="AAAA0000", decision="reject", reason="x"))
    with pytest.raises(NotFound):
        rules.decide(given(), rules.VerifyProposal(code="AAAA0000", decision="accept"))


# --- carry-over ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "adopted", "expected"),
    [
        ("ditolak", False, True), ("tidak_terakomodasi", False, True), ("dikembalikan", False, True),
        ("diajukan", False, False), ("diterima", False, False), ("diteruskan", False, False),
        ("diajukan", True, True), ("diterima", True, True), ("diteruskan", True, True),  # accepted, not funded
        ("masuk_rkpd", True, False), ("digabungkan", True, False),
    ],
)  # fmt: skip
def test_what_was_not_accommodated(outcome: str, adopted: bool, expected: bool) -> None:
    assert rules.not_accommodated(outcome, adopted) is expected


def carry(state: rules.Proposal, **changes: object) -> list[object]:
    command = rules.CarryOver(code="AAAA0000", to_code="BBBB0000", to_year=2023, outcome="ditolak", adopted=True)
    return rules.decide(state, msgspec.structs.replace(command, **changes))  # type: ignore[return-value]


def test_a_need_not_accommodated_goes_forward_once_and_only_to_a_later_year() -> None:
    [event] = carry(given(SUBMITTED))
    assert event == ProposalCarriedOver(code="AAAA0000", to_code="BBBB0000", to_year=2023)
    carried = rules.evolve(given(SUBMITTED), event)
    assert carried.carried_to == "BBBB0000"
    with pytest.raises(DomainError, match="sudah diusulkan lagi sebagai BBBB0000"):
        carry(carried, to_code="CCCC0000", to_year=2024)
    with pytest.raises(ValidationFailed):
        carry(given(SUBMITTED), to_year=2022)
    with pytest.raises(DomainError, match="hanya usulan yang tidak terakomodasi"):
        carry(given(SUBMITTED), outcome="masuk_rkpd")
    with pytest.raises(NotFound):
        carry(rules.Proposal())


def test_the_new_proposal_names_the_one_it_carries_on() -> None:
    command = rules.SubmitProposal(code="BBBB0000", year=2023, source="warga", content=validate(), proposer_ref="r",
                                   carried_from="AAAA0000")  # fmt: skip
    [event] = rules.decide(rules.Proposal(), command)
    assert isinstance(event, ProposalSubmitted) and event.carried_from == "AAAA0000"
    assert rules.evolve(rules.Proposal(), event).carried_from == "AAAA0000"
    with pytest.raises(ValidationFailed):
        rules.decide(rules.Proposal(), msgspec.structs.replace(command, carried_from="bukan kode!"))


def test_a_proposal_carried_on_is_not_worked_on_in_its_old_year() -> None:
    returned = given(SUBMITTED, ProposalReturned(code="AAAA0000", reason="lengkapi"))
    [carried] = carry(returned, outcome="dikembalikan", adopted=False)
    state = rules.evolve(returned, carried)
    with pytest.raises(DomainError, match="sudah diusulkan lagi sebagai BBBB0000"):
        rules.decide(state, rules.ReviseProposal(code="AAAA0000", content=validate(title="Perbaikan saluran")))
    with pytest.raises(DomainError, match="sudah diusulkan lagi"):
        rules.check_room_for_photo(state)


def test_only_proposals_of_one_year_are_merged() -> None:
    later = ProposalSubmitted(code="BBBB0000", year=2023, source="warga", content=validate(), proposer_ref="r")
    with pytest.raises(DomainError, match="tahun RKPD yang sama"):
        rules.decide_merge(given(SUBMITTED), {"BBBB0000": given(later)},
                           rules.MergeProposals(into="AAAA0000", codes=("BBBB0000",), reason="sama"))  # fmt: skip


def test_a_merge_into_itself_or_naming_one_twice_says_which() -> None:
    other = given(ProposalSubmitted(code="BBBB0000", year=2022, source="warga", content=validate(), proposer_ref="s"))
    with pytest.raises(ValidationFailed) as itself:
        rules.decide_merge(given(SUBMITTED), {"AAAA0000": given(SUBMITTED)},
                           rules.MergeProposals(into="AAAA0000", codes=("AAAA0000",), reason="sama"))  # fmt: skip
    assert itself.value.errors["codes"] == "usulan tujuan tidak dapat digabungkan ke dirinya sendiri"
    with pytest.raises(ValidationFailed) as twice:
        twice_named = rules.MergeProposals(into="AAAA0000", codes=("BBBB0000", "BBBB0000"), reason="x")
        rules.decide_merge(given(SUBMITTED), {"BBBB0000": other}, twice_named)
    assert twice.value.errors["codes"] == "satu usulan hanya dapat digabungkan sekali"


def test_a_returned_proposal_is_merged_into_another_but_takes_no_merge_itself() -> None:
    """A returned proposal waits on its proposer, who may never revise it: duplicates merged into it would
    wait with it. Merged into one that goes on, it is simply taken up there."""
    returned = given(SUBMITTED, ProposalReturned(code="AAAA0000", reason="lengkapi"))
    other = given(ProposalSubmitted(code="BBBB0000", year=2022, source="warga", content=validate(), proposer_ref="s"))
    with pytest.raises(DomainError, match="sedang dikembalikan ke pengusul"):
        rules.decide_merge(returned, {"BBBB0000": other},
                           rules.MergeProposals(into="AAAA0000", codes=("BBBB0000",), reason="sama"))  # fmt: skip
    merged = rules.decide_merge(other, {"AAAA0000": returned},
                                rules.MergeProposals(into="BBBB0000", codes=("AAAA0000",), reason="sama"))  # fmt: skip
    assert [type(e).__name__ for e in merged["AAAA0000"]] == ["ProposalMerged"]


def test_every_status_but_merged_is_one_public_outcome() -> None:
    """The kecamatan summary's columns add up: each status counts in exactly one outcome column, and a
    merged duplicate in none (it lives on in the proposal it was merged into)."""
    assert set(rules.OUTCOME_OF) == set(rules.STATUSES) - {rules.DIGABUNGKAN}
    assert set(rules.OUTCOME_OF.values()) == set(rules.OUTCOMES)


# --- numbers as typed: a dot groups thousands in Indonesian, it is never dropped -----------------------


@pytest.mark.parametrize(
    ("changes", "read"),
    [
        ({"beneficiaries": "1.500"}, {"beneficiaries": 1500}),
        ({"beneficiaries": " 1.500.000 "}, {"beneficiaries": 1_500_000}),
        ({"beneficiaries": "300", "rw": " 7 ", "rt": "03"}, {"beneficiaries": 300, "rw": 7, "rt": 3}),
        ({"beneficiaries": 250, "rw": 12}, {"beneficiaries": 250, "rw": 12}),  # as the JSON API sends them
        ({"beneficiaries": 300.0, "rt": 4.0}, {"beneficiaries": 300, "rt": 4}),  # a whole float from Python
    ],
)
def test_whole_numbers_plain_or_grouped_by_dots_in_threes(changes: dict[str, object], read: dict[str, int]) -> None:
    content = validate(**changes)
    assert {name: getattr(content, name) for name in read} == read


@pytest.mark.parametrize(
    "changes",
    [
        {"rw": "1.5"},  # was RW 15
        {"rt": "1.5.0"},
        {"beneficiaries": "0.0001"},  # was 1
        {"beneficiaries": "1.50"},
        {"beneficiaries": "15.00"},
        {"beneficiaries": "32.75.12.1001"},
        {"beneficiaries": "1..500"},
        {"beneficiaries": "1.500."},
    ],
)
def test_a_dot_that_groups_no_thousands_is_refused_not_dropped(changes: dict[str, object]) -> None:
    [(field, message)] = errors_of(**changes).items()
    assert field in changes and message == values.GROUPED_IN_THREES


@pytest.mark.parametrize(
    "changes",
    [
        {"rw": "1,5"},
        {"beneficiaries": "1.500,00"},  # a comma part has no place in a whole number
        {"beneficiaries": "0,5"},
        {"beneficiaries": "1 500"},
        {"beneficiaries": "٣٠٠"},  # Arabic-Indic digits: int() reads them, a person here did not mean them
        {"rw": "٥"},
        {"rt": "３"},  # fullwidth
        {"beneficiaries": 2.5},  # a float that is not whole is refused, not rounded
        {"beneficiaries": float("nan")},
        {"priority_program": "1.5"},
    ],
)
def test_what_is_not_a_whole_number_is_refused(changes: dict[str, object]) -> None:
    [field] = errors_of(**changes)
    assert field in changes


# --- a revision stays where the proposal was made ---------------------------------------------------

TWO_KECAMATAN = {"32.75.01.1001", "32.75.01.1002", "32.75.12.1001"}


def test_a_revision_cannot_move_the_proposal_to_another_kelurahan() -> None:
    returned = given(SUBMITTED, ProposalReturned(code="AAAA0000", reason="lengkapi RT"))
    for elsewhere in ("32.75.12.1001", "32.75.01.1002"):  # another kecamatan's kelurahan, and a neighbour
        moved = rules.validate_content(msgspec.structs.replace(GOOD, kelurahan=elsewhere, title="Saluran air RW 05"),
                                       kelurahan=TWO_KECAMATAN, priority_programs=6)  # fmt: skip
        with pytest.raises(ValidationFailed) as caught:
            rules.decide(returned, rules.ReviseProposal(code="AAAA0000", content=moved))
        assert caught.value.errors == {"kelurahan": "kelurahan tidak dapat diubah saat memperbaiki usulan: untuk"
                                                    " kelurahan lain, ajukan usulan baru"}  # fmt: skip
    [event] = rules.decide(returned, rules.ReviseProposal(code="AAAA0000", content=validate(title="Saluran RW 05")))
    assert isinstance(event, ProposalRevised) and event.content.kelurahan == SUBMITTED.content.kelurahan


def test_a_city_without_an_area_of_its_own_says_indonesia_not_its_name() -> None:
    """A kabupaten set up without its own coordinate bounds checks Indonesia's: a point outside was told it
    lay outside Kabupaten Jembrana, while one in Bekasi was taken (review s28)."""
    with pytest.raises(ValidationFailed) as caught:
        rules.validate_content(msgspec.structs.replace(GOOD, latitude="40.7", longitude="-74.0"), kelurahan=KELURAHAN,
                               priority_programs=6, area=None, city_name="Kabupaten Jembrana")  # fmt: skip
    assert caught.value.errors["latitude"] == "lokasi berada di luar Indonesia"
    bekasi = CoordinateBounds(south="-6.40", north="-6.10", west="106.90", east="107.10")
    with pytest.raises(ValidationFailed) as caught:
        rules.validate_content(msgspec.structs.replace(GOOD, latitude="-8.35", longitude="114.62"), kelurahan=KELURAHAN,
                               priority_programs=6, area=bekasi, city_name="Kota Bekasi")  # fmt: skip
    assert caught.value.errors["latitude"] == "lokasi berada di luar Kota Bekasi"
