"""RW and RT: optional where the proposal's place is a desa (many have neither: Bali's banjar, Aceh's
dusun), required in a kelurahan as before (review s29). The place's kind is read from its Kemendagri code
(values.village_level); events carry a missing RW or RT as null, and old events decode as before."""

from __future__ import annotations

import msgspec
import pytest

from musrenbang.domain import proposal as rules
from musrenbang.domain.errors import ValidationFailed
from musrenbang.domain.events import ProposalRevised, ProposalSubmitted
from musrenbang.eventlog import codec

DESA, KELURAHAN = "51.01.03.2001", "51.01.01.1006"
BOTH = frozenset({DESA, KELURAHAN})
GOOD = rules.ProposalInput(
    kelurahan=DESA, rw="", rt="", kind="fisik", bidang="infrastruktur", title="Senderan saluran subak",
    problem="Saluran subak jebol setiap musim hujan", solution="Senderan beton sepanjang 40 meter",
    beneficiaries="80", volume="40", unit="meter", estimated_cost="30 juta", address="Banjar Medewi Kaja",
)  # fmt: skip


def validate(known: frozenset[str] = BOTH, **changes: object) -> rules.ProposalContent:
    return rules.validate_content(msgspec.structs.replace(GOOD, **changes), kelurahan=known, priority_programs=6)


def errors_of(known: frozenset[str] = BOTH, **changes: object) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate(known, **changes)
    return caught.value.errors


def test_a_desa_may_leave_out_rw_and_rt_or_rt_only() -> None:
    assert (validate().rw, validate().rt) == (None, None)
    assert (validate(rw=None, rt=None).rw, validate(rw="  ", rt=None).rt) == (None, None)
    assert (validate(rw="4").rw, validate(rw="4").rt) == (4, None)
    assert (validate(rw="4", rt="2").rw, validate(rw="4", rt="2").rt) == (4, 2)


def test_given_they_are_still_bounded_and_an_rt_needs_its_rw() -> None:
    assert errors_of(rw="0") == {"rw": "nomor RW antara 1 dan 99"}
    assert errors_of(rw="4", rt="100") == {"rt": "nomor RT antara 1 dan 99"}
    assert errors_of(rt="3") == {"rw": rules.RT_WITHOUT_RW}
    assert errors_of(rt=3) == {"rw": rules.RT_WITHOUT_RW}


def test_a_kelurahan_still_requires_both() -> None:
    assert errors_of(kelurahan=KELURAHAN) == {"rw": "wajib diisi", "rt": "wajib diisi"}
    assert errors_of(kelurahan=KELURAHAN, rw="5") == {"rt": "wajib diisi"}
    assert errors_of(kelurahan=KELURAHAN, rt="3") == {"rw": "wajib diisi"}
    assert (validate(kelurahan=KELURAHAN, rw="5", rt="3").rw, validate(kelurahan=KELURAHAN, rw=5, rt=3).rt) == (5, 3)


def test_with_no_known_place_a_blank_rw_is_asked_for_only_where_the_city_has_no_desa() -> None:
    assert errors_of(kelurahan="") == {"kelurahan": "pilih kelurahan"}  # a desa may be what is meant
    assert errors_of(frozenset({KELURAHAN}), kelurahan="") == {
        "kelurahan": "pilih kelurahan", "rw": "wajib diisi", "rt": "wajib diisi"}  # as before, in a kota


def test_an_event_in_a_kelurahan_without_rw_is_refused_by_the_rules() -> None:
    content = validate()
    for wrong, field in ((msgspec.structs.replace(content, kelurahan=KELURAHAN), "rw"),
                         (msgspec.structs.replace(content, rt=3), "rw"),
                         (msgspec.structs.replace(content, rw=0), "rw")):  # fmt: skip
        with pytest.raises(ValidationFailed) as caught:
            rules.decide(rules.Proposal(), rules.SubmitProposal(code="AAAA0000", year=2027, source="warga",
                                                                content=wrong, proposer_ref="r"))  # fmt: skip
        assert field in caught.value.errors
    [event] = rules.decide(rules.Proposal(), rules.SubmitProposal(code="AAAA0000", year=2027, source="warga",
                                                                  content=content, proposer_ref="r"))  # fmt: skip
    assert isinstance(event, ProposalSubmitted) and (event.content.rw, event.content.rt) == (None, None)


OLD = (b'{"code":"AAAA0000","content":{"address":"Jl. Melati","beneficiaries":300,"bidang":"infrastruktur",'
       b'"estimated_cost":25000000,"kelurahan":"32.75.01.1001","kind":"fisik","latitude":null,"longitude":null,'
       b'"priority_program":null,"problem":"Saluran tersumbat dan banjir","rt":3,"rw":5,"solution":"Normalisasi'
       b' saluran","title":"Perbaikan saluran","unit":"meter","volume":"150"},"proposer_ref":"r","source":"warga",'
       b'"type":"proposal.submitted","year":2022}')  # fmt: skip
"""A `proposal.submitted` as the log has stored it since the first version (sorted keys, carried_from and pokir
not yet there)."""


def test_old_events_decode_as_before_and_new_ones_carry_null() -> None:
    event = codec.decode_event("proposal.submitted", OLD)
    assert isinstance(event, ProposalSubmitted)
    assert (event.content.rw, event.content.rt) == (5, 3) and type(event.content.rw) is int
    rewritten = codec.encode(event)
    assert msgspec.json.decode(rewritten) == {**msgspec.json.decode(OLD), "carried_from": None, "pokir": None}
    new = ProposalRevised(code="AAAA0000", content=validate())
    data = codec.encode(new)
    assert b'"rt":null' in data and b'"rw":null' in data
    back = codec.decode_event("proposal.revised", data)
    assert isinstance(back, ProposalRevised) and back.content == new.content
    with pytest.raises(msgspec.ValidationError):  # still numbers when there
        codec.decode_event("proposal.submitted", OLD.replace(b'"rw":5', b'"rw":"5"'))
