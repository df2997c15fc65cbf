"""The city level's rules: what agencies may do with forwarded proposals, RKPD lines, adoption."""

from __future__ import annotations

import datetime as dt

import pytest

from musrenbang.domain import city_forums
from musrenbang.domain import rkpd as r
from musrenbang.domain.access import Forbidden
from musrenbang.domain.errors import DomainError, NotFound, ValidationFailed
from musrenbang.domain.events import CityItem, Event, RkpdAdopted, RkpdEnacted, RkpdLineSet
from musrenbang.reference import city_settings

AGENCIES = {a.code: a for a in city_settings().agencies}
"""Kota Bekasi's perangkat daerah, from the settings file that ships."""


def item(code: str, *, agency: str = "DBMSDA", kelurahan: str = "32.75.01.1001", cost: int = 100) -> CityItem:
    return CityItem(code=code, title=f"Usulan {code}", kelurahan=kelurahan, bidang="infrastruktur", cost=cost,
                    agency=agency, forum_id="KEC")  # fmt: skip


def line(*origins: str, line_id: str | None = None, **changes: object) -> r.LineInput:
    fields: dict[str, object] = dict(
        line_id=line_id, agency="DBMSDA", origins=origins, priority_program=1, sub_kegiatan_code="1.03.10.2.01.0017",
        program="Program Penyelenggaraan Jalan", kegiatan="Penyelenggaraan Jalan Kabupaten/Kota",
        sub_kegiatan="Rehabilitasi Jalan", funding_source="apbd_kota", volume="300", unit="m", pagu=1_000,
        output_indicator="Panjang jalan yang direhabilitasi", target="300", target_unit="m",
    )  # fmt: skip
    fields.update(changes)
    return r.LineInput(**fields)  # type: ignore[arg-type]


def run(state: r.Rkpd, command: r.Command) -> tuple[r.Rkpd, list[Event]]:
    events = r.decide(state, command, agencies=AGENCIES)
    for e in events:
        state = r.evolve(state, e)
    return state, events


def received(*items: CityItem) -> r.Rkpd:
    state, _ = run(r.Rkpd(), r.ReceiveProposals(year=2022, items=items))
    return state


def set_line(state: r.Rkpd, x: r.LineInput, reason: str = "", by: str | None = None) -> tuple[r.Rkpd, list[Event]]:
    return run(state, r.SetLine(line=x, priority_programs=6, reason=reason, by_agency=by))


def test_receiving_again_adds_only_what_is_new() -> None:
    state = received(item("A"), item("B"))
    state, [event] = run(state, r.ReceiveProposals(year=2022, items=(item("B"), item("C"))))
    assert [i.code for i in event.items] == ["C"]  # type: ignore[attr-defined]
    assert sorted(state.items) == ["A", "B", "C"]
    with pytest.raises(DomainError, match="tidak ada usulan baru"):
        r.decide(state, r.ReceiveProposals(year=2022, items=(item("A"),)), agencies=AGENCIES)


def test_the_empty_state_is_never_changed_by_loading() -> None:
    empty = r.Rkpd()
    run(empty, r.ReceiveProposals(year=2022, items=(item("A"),)))
    assert empty.items == {} and empty.year is None


def test_several_proposals_feed_one_line_and_a_proposal_ends_in_at_most_one() -> None:
    state = received(item("A"), item("B", kelurahan="32.75.02.1001"), item("C"))
    state, [event] = set_line(state, line("A", "B"))
    assert isinstance(event, RkpdLineSet)
    assert event.line.line_id == "DBMSDA-001"
    assert event.line.locations == ("32.75.01.1001", "32.75.02.1001")
    assert state.line_of == {"A": "DBMSDA-001", "B": "DBMSDA-001"}
    with pytest.raises(ValidationFailed) as caught:
        set_line(state, line("B", "C"))
    assert "sudah masuk baris" in str(caught.value.errors["origins"].template)
    # Moving B out of the first line (restating it without B) frees it for another line.
    state, _ = set_line(state, line("A", line_id="DBMSDA-001"))
    state, [second] = set_line(state, line("B", "C"))
    assert second.line.line_id == "DBMSDA-002"  # type: ignore[attr-defined]


def test_a_withdrawn_lines_id_is_never_given_again() -> None:
    state = received(item("A"), item("B"))
    state, _ = set_line(state, line("A"))
    state, _ = run(state, r.WithdrawLine(line_id="DBMSDA-001", reason="salah input"))
    assert state.line_of == {}
    state, [event] = set_line(state, line("A"))
    assert event.line.line_id == "DBMSDA-002"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sub_kegiatan_code": "1.03.10.2.1.17"}, "sub_kegiatan_code"),
        ({"sub_kegiatan_code": "1.02.02.2.01.0001"}, "sub_kegiatan_code"),  # health urusan, not a roads agency's
        ({"funding_source": "hibah"}, "funding_source"),
        ({"pagu": 0}, "pagu"),
        ({"target": "banyak"}, "target"),
        ({"target": "-3"}, "target"),
        ({"volume": "0"}, "volume"),
        ({"output_indicator": "  "}, "output_indicator"),
        ({"priority_program": 7}, "priority_program"),
        ({"origins": ()}, "origins"),
        ({"origins": ("Z",)}, "origins"),
    ],
)
def test_a_line_states_what_is_delivered_and_how_much(changes: dict[str, object], field: str) -> None:
    state = received(item("A"))
    with pytest.raises(ValidationFailed) as caught:
        set_line(state, line("A", **changes))
    assert field in caught.value.errors


@pytest.mark.parametrize("code", ["1.03.10.2.01.٠٠١٧", "1.03.١٠.2.01.0017", "1.03.10.2.01.００１７"])
def test_a_sub_kegiatan_code_is_ascii_digits(code: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        set_line(received(item("A")), line("A", sub_kegiatan_code=code))
    assert caught.value.errors == {"sub_kegiatan_code": "kode sub-kegiatan berbentuk U.BB.PP.K.KK.SSSS, misalnya"
                                                        " 1.03.10.2.01.0017"}  # fmt: skip


def test_a_lines_volume_and_target_are_read_as_programs_write_them() -> None:
    """A decimal point (or comma) and no thousands groups: what the JSON API sends, and what the form sends
    once it has read the operator's "1.500" (tests/http/test_renja.py)."""
    _, [event] = set_line(received(item("A")), line("A", volume="2.5", target="0,125"))
    assert isinstance(event, RkpdLineSet) and (event.line.volume, event.line.target) == ("2.5", "0.125")
    with pytest.raises(ValidationFailed) as caught:
        set_line(received(item("A")), line("A", volume="banyak", target="1,2345"))
    assert caught.value.errors == {"volume": "volume berupa angka lebih dari nol",
                                   "target": "terlalu banyak angka di belakang koma: paling banyak 3"}  # fmt: skip


def test_an_agency_acts_only_on_its_own_proposals_and_lines() -> None:
    state = received(item("A"), item("B", agency="DINKES"))
    with pytest.raises(Forbidden):
        run(state, r.PassProposal(code="B", to_agency="DBMSDA", reason="x", by_agency="DBMSDA"))
    with pytest.raises(Forbidden):
        set_line(state, line("A"), by="DINKES")
    with pytest.raises(ValidationFailed) as caught:
        set_line(state, line("A", "B"), by="DBMSDA")  # B belongs to another agency
    assert "origins" in caught.value.errors
    state, [passed] = run(state, r.PassProposal(code="B", to_agency="DBMSDA", reason="jalan", by_agency="DINKES"))
    assert state.agency_of["B"] == "DBMSDA"
    state, _ = set_line(state, line("A", "B"), by="DBMSDA")
    assert state.line_of["B"] == "DBMSDA-001"


def test_passing_and_declining_need_a_reason_and_a_free_proposal() -> None:
    state = received(item("A"), item("B"))
    with pytest.raises(ValidationFailed):
        run(state, r.DeclineProposal(code="A", reason=" "))
    with pytest.raises(ValidationFailed):
        run(state, r.PassProposal(code="A", to_agency="DINKES", reason=""))
    with pytest.raises(ValidationFailed):
        run(state, r.PassProposal(code="A", to_agency="NOPE", reason="x"))
    with pytest.raises(NotFound):
        run(state, r.DeclineProposal(code="Q", reason="x"))
    state, _ = set_line(state, line("A"))
    with pytest.raises(DomainError, match="sudah masuk baris"):
        run(state, r.DeclineProposal(code="A", reason="tidak jadi"))
    state, _ = run(state, r.DeclineProposal(code="B", reason="sudah dibangun tahun lalu"))
    assert state.declined == {"B": "sudah dibangun tahun lalu"}
    with pytest.raises(ValidationFailed):
        set_line(state, line("A", "B", line_id="DBMSDA-001"))
    # Passed on after its answer was given, it stood declined at an agency that could do nothing with it, and
    # the read model showed the pass's reason where the decline's was.
    with pytest.raises(DomainError, match="tidak dapat dialihkan lagi"):
        run(state, r.PassProposal(code="B", to_agency="DINKES", reason="coba"))


def test_adoption_needs_every_proposal_decided_and_freezes_the_list() -> None:
    state = received(item("A"), item("B"))
    with pytest.raises(DomainError, match="2 usulan"):
        run(state, r.Adopt(year=2022))
    state, _ = set_line(state, line("A"))
    with pytest.raises(DomainError, match="1 usulan"):
        run(state, r.Adopt(year=2022))
    state, _ = run(state, r.DeclineProposal(code="B", reason="di luar kewenangan kota"))
    state, [adopted] = run(state, r.Adopt(year=2022, note="Musrenbang Kota 2021"))
    assert isinstance(adopted, RkpdAdopted)
    assert (adopted.revision, adopted.total_pagu, [x.line_id for x in adopted.lines]) == (1, 1_000, ["DBMSDA-001"])
    with pytest.raises(DomainError, match="tidak berubah"):
        run(state, r.Adopt(year=2022))
    # Later changes are new, visible events, with a reason, until adopted again.
    with pytest.raises(ValidationFailed):
        set_line(state, line("A", line_id="DBMSDA-001", pagu=900))
    shown = city_forums.list_version(state.lines.values(), state.declined)  # a page shown now...
    state, _ = set_line(state, line("A", line_id="DBMSDA-001", pagu=900), reason="harga satuan turun")
    assert state.changed_since_adoption
    assert state.adopted[0].pagu == 1_000  # the frozen list is unchanged
    with pytest.raises(DomainError, match="berubah sejak halaman ini dibuka"):  # ...adopts nothing it did not show
        run(state, r.Adopt(year=2022, seen=shown))
    state, [again] = run(state, r.Adopt(year=2022, seen=city_forums.list_version(state.lines.values(),
                                                                                  state.declined)))  # fmt: skip
    assert (again.revision, again.total_pagu) == (2, 900)  # type: ignore[attr-defined]


def test_adopting_with_nothing_received_is_refused() -> None:
    with pytest.raises(DomainError) as refused:  # the year's stage (409), not a missing thing (404)
        r.decide(r.Rkpd(), r.Adopt(year=2022), agencies=AGENCIES)
    assert not isinstance(refused.value, NotFound)


def test_a_year_no_kecamatan_forwarded_anything_to_still_gets_its_rkpd() -> None:
    """No kecamatan forum forwarded a proposal: receiving refused ("nothing new"), and with nothing received
    no agency could add its own plan, no city forum be held, no RKPD adopted (review s22). The first receive
    opens the city level with nothing; the agencies' Renja lines are adopted. A second empty one is refused."""
    state, [opened] = run(r.Rkpd(), r.ReceiveProposals(year=2022, items=()))
    assert state.year == 2022 and opened.items == ()  # type: ignore[attr-defined]
    with pytest.raises(DomainError, match="tidak ada usulan baru"):
        r.decide(state, r.ReceiveProposals(year=2022, items=()), agencies=AGENCIES)
    state, _ = set_line(state, line(renja_reason="Renstra: pemeliharaan rutin jalan kota"))
    _, [adopted] = run(state, r.Adopt(year=2022))
    assert isinstance(adopted, RkpdAdopted) and [x.line_id for x in adopted.lines] == ["DBMSDA-001"]


def test_pagu_is_shared_among_kecamatan_in_proportion_and_adds_up_exactly() -> None:
    state = received(item("A", cost=100), item("B", cost=200, kelurahan="32.75.02.1001"), item("C", cost=1))
    state, [e1] = set_line(state, line("A", "B", pagu=1_000))
    state, [e2] = set_line(state, line("C", pagu=7))
    lines = [e1.line, e2.line]  # type: ignore[attr-defined]
    shares = r.pagu_by_kecamatan(lines, {"A": 100, "B": 200, "C": 1},
                                 {"A": "32.75.01", "B": "32.75.02", "C": "32.75.01"})  # fmt: skip
    # 1,000 in 100:200 is 333.3 : 666.7; the leftover rupiah goes to the larger remainder.
    assert shares == {"32.75.01": 333 + 7, "32.75.02": 667}


def test_no_line_has_no_share() -> None:
    assert r.pagu_by_kecamatan([], {}, {}) == {}


def test_only_the_citys_own_perangkat_daerah_take_proposals_and_lines() -> None:
    """Agencies are the city's settings, not a list in the code: another kabupaten's are refused."""
    bogor = {"DPUPR": AGENCIES["DBMSDA"]}  # a city whose roads agency has another code
    with pytest.raises(DomainError, match="perangkat daerah tidak dikenal"):
        r.decide(r.Rkpd(), r.ReceiveProposals(year=2022, items=(item("A"),)), agencies=bogor)
    state, _ = run(r.Rkpd(), r.ReceiveProposals(year=2022, items=(item("A"),)))
    with pytest.raises(ValidationFailed) as refused:
        r.decide(state, r.SetLine(line=line("A"), priority_programs=6), agencies=bogor)
    assert "agency" in refused.value.errors


def test_an_agencys_own_plan_needs_its_reason_and_is_shared_among_the_places_it_names() -> None:
    """Renja lines (issue 14): no resident origin, a reason; shared evenly among the kecamatan of the
    places it names; a city-wide one belongs to no kecamatan. Never both origins and a reason."""
    state = received(item("A"))
    with pytest.raises(ValidationFailed) as neither:
        set_line(state, line())
    assert "origins" in neither.value.errors
    with pytest.raises(ValidationFailed) as both:
        set_line(state, line("A", renja_reason="Renstra"))
    assert "renja_reason" in both.value.errors
    with pytest.raises(ValidationFailed) as placed:
        set_line(state, line("A", locations=("32.75.02.1001",)))
    assert "locations" in placed.value.errors
    state, [e1] = set_line(state, line(renja_reason="  SPM air minum ", locations=("32.75.02.1001", "32.75.03.1001"),
                                       pagu=1_001))  # fmt: skip
    state, [e2] = set_line(state, line(renja_reason="Lanjutan 2021", pagu=500))  # city-wide
    renja, citywide = e1.line, e2.line  # type: ignore[attr-defined]
    assert (renja.origins, renja.renja_reason, renja.locations) == ((), "SPM air minum",
                                                                     ("32.75.02.1001", "32.75.03.1001"))
    assert r.pagu_by_kecamatan([renja, citywide], {}, {}) == {"32.75.02": 501, "32.75.03": 500}


def test_the_adopted_list_is_enacted_once_and_an_amendment_needs_its_own_regulation() -> None:
    today = dt.date(2021, 6, 1)

    def enact(state: r.Rkpd, regulation: str, on: dt.date = dt.date(2021, 5, 31)) -> tuple[r.Rkpd, list[Event]]:
        return run(state, r.Enact(year=2022, regulation=regulation, enacted_on=on, today=today))

    state, _ = set_line(received(item("A")), line("A"))
    with pytest.raises(DomainError, match="belum ditetapkan"):
        enact(state, "Perwal 1")
    state, [adopted] = run(state, r.Adopt(year=2022, on=dt.date(2021, 4, 5)))
    with pytest.raises(ValidationFailed):
        enact(state, "Perwal 1", on=dt.date(2021, 6, 2))  # after today
    with pytest.raises(ValidationFailed) as older:
        enact(state, "Perwal 1", on=dt.date(2021, 4, 4))  # before the list it sets was adopted
    assert "sebelum RKPD ini ditetapkan" in str(older.value.errors["date"])
    state, [enacted] = enact(state, " Perwal  1 ")
    assert isinstance(enacted, RkpdEnacted) and isinstance(adopted, RkpdAdopted)
    assert (enacted.regulation, enacted.revision, enacted.amendment) == ("Perwal 1", 1, False)
    assert enacted.list_hash == r.list_hash(adopted.lines) == r.list_hash(reversed(adopted.lines))
    with pytest.raises(DomainError, match="sudah ditetapkan"):
        enact(state, "Perwal 2")
    state, _ = set_line(state, line("A", line_id="DBMSDA-001", pagu=900), reason="efisiensi")
    with pytest.raises(DomainError, match="ada perubahan"):
        enact(state, "Perwal 2")
    state, _ = run(state, r.Adopt(year=2022))
    with pytest.raises(ValidationFailed):
        enact(state, "perwal 1")  # the same regulation for another revision
    state, [amendment] = enact(state, "Perwal 2")
    assert amendment.amendment is True and amendment.revision == 2  # type: ignore[attr-defined]


def test_dana_kelurahan_only_on_a_kecamatans_line_for_its_own_kelurahan() -> None:
    """Permendagri 130/2018: Dana Kelurahan pays what a kelurahan agreed at its Musrenbang, budgeted through
    its kecamatan (every kecamatan is an agency: reference.city_settings)."""
    timur = next(a.code for a in AGENCIES.values() if a.kecamatan == "32.75.01")
    state = received(item("A", kelurahan="32.75.01.1001"), item("B", kelurahan="32.75.02.1001"),
                     item("K", kelurahan="32.75.01.1002", agency=timur))  # fmt: skip
    dk = {"funding_source": "dana_kelurahan", "sub_kegiatan_code": "7.01.03.2.01.0002"}
    with pytest.raises(ValidationFailed) as not_kecamatan:
        set_line(state, line("A", funding_source="dana_kelurahan"))
    assert "melalui kecamatan" in str(not_kecamatan.value.errors["funding_source"])
    state, _ = run(state, r.PassProposal(code="B", to_agency=timur, reason="Dana Kelurahan"))
    with pytest.raises(ValidationFailed) as elsewhere:
        set_line(state, line("B", agency=timur, **dk))  # a kelurahan of another kecamatan
    assert "bukan dari kelurahan di kecamatan ini" in elsewhere.value.errors["funding_source"]
    with pytest.raises(ValidationFailed):
        set_line(state, line(agency=timur, renja_reason="Renja", **dk))  # not agreed at a Musrenbang Kelurahan
    state, [e] = set_line(state, line("K", agency=timur, **dk))
    assert e.line.funding_source == "dana_kelurahan" and e.line.agency == timur  # type: ignore[attr-defined]
    state, _ = set_line(state, line("B", agency=timur, sub_kegiatan_code="7.01.03.2.01.0002"))  # APBD: fine


def test_a_kelurahans_dana_kelurahan_lines_add_up_to_at_most_the_years_amount() -> None:
    timur = next(a.code for a in AGENCIES.values() if a.kecamatan == "32.75.01")
    state = received(*(item(c, kelurahan="32.75.01.1001", agency=timur, cost=10) for c in ("K1", "K2", "K3")))
    dk = {"agency": timur, "funding_source": "dana_kelurahan", "sub_kegiatan_code": "7.01.03.2.01.0002"}

    def dk_line(code: str, pagu: int) -> tuple[r.Rkpd, list[Event]]:
        return state, r.decide(state, r.SetLine(line=line(code, pagu=pagu, **dk), priority_programs=6),
                               agencies=AGENCIES, dana_kelurahan=1_000)  # fmt: skip

    _, [first] = dk_line("K1", 600)
    state = r.evolve(state, first)
    with pytest.raises(ValidationFailed) as over:
        dk_line("K2", 401)
    assert "melebihi Rp 1.000 per kelurahan" in over.value.errors["pagu"] and "Rp 1.001" in over.value.errors["pagu"]
    _, [second] = dk_line("K2", 400)  # exactly the amount
    state = r.evolve(state, second)
    revised = r.decide(state, r.SetLine(line=line("K1", line_id=first.line.line_id, pagu=500, **dk),  # type: ignore[attr-defined]
                                        priority_programs=6, reason=""), agencies=AGENCIES, dana_kelurahan=1_000)
    assert revised  # revising a line counts it once, at its new pagu


def test_a_line_whose_agency_the_settings_lost_is_neither_adopted_nor_closed_on() -> None:
    """A settings change took DBMSDA's code away (renamed its code, not its name): its lines would be
    adopted, and frozen in the log, under a bare code nobody is named by nor can sign in as (review s22).
    Adoption and a city forum's close refuse, naming the lines and how to mend it; with the code back in the
    settings, both go on."""
    state, _ = set_line(received(item("A")), line("A"))
    without = {code: agency for code, agency in AGENCIES.items() if code != "DBMSDA"}
    with pytest.raises(DomainError, match="DBMSDA-001 milik perangkat daerah DBMSDA.*kembalikan kodenya"):
        r.decide(state, r.Adopt(year=2022), agencies=without)
    close = city_forums.CloseCityForum(year=2022, forum=city_forums.FORUM_PD, minutes="x", today=dt.date(2021, 3, 1))
    for command in (r.Adopt(year=2022), close):
        with pytest.raises(DomainError, match="tidak ada lagi dalam pengaturan kota"):
            r.decide(state, command, agencies=without)
    _, [adopted] = run(state, r.Adopt(year=2022))
    assert isinstance(adopted, RkpdAdopted)
