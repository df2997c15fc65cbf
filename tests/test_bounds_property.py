"""Every command, driven with values at and beyond each bound, through its decision (the real services) and
every projection: what the domain accepts, every read model can store; what it refuses is exactly what is
out of bounds, and nothing of it is written.

One database per test; examples run on an event loop of their own (hypothesis drives synchronous tests),
each against the same growing log, as a real site's would be.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musrenbang.db.connect import create_pool
from musrenbang.domain import bounds, cycle
from musrenbang.domain import forum as f
from musrenbang.domain import proposal as p
from musrenbang.domain import rkpd as r
from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import AgendaItem, CityItem, Criterion
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.cycles import CYCLE, today
from musrenbang.services.forums import ForumService
from musrenbang.services.proposals import ProposalService
from musrenbang.services.rkpd import RkpdService
from musrenbang.services.streams import execute
from tests.cycles import FORUM_DAY, open_calendar, open_test_cycle

T = TypeVar("T")
META = Metadata(actor="uji", role="admin")
EXAMPLES = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip

# Values at and beyond the bounds, and the sizes of the columns behind them, mixed with ordinary ones.
EDGE_INTS = [-(2**70), -(2**31), -1, 0, 1, 2, 5, 10, 99, 100, 1999, 2000, 2022, 2100, 2101, 2**31 - 1, 2**31,
             10**9, 10**9 + 1, bounds.MAX_RUPIAH, bounds.MAX_RUPIAH + 1, 2**63 - 1, 2**63, 2**70]  # fmt: skip
ints = st.sampled_from(EDGE_INTS) | st.integers(-(2**72), 2**72)
NASTY = ["", " ", "a", "ab", "x" * 30, "x" * 31, "x" * 60, "x" * 61, "x" * 200, "x" * 201, "x" * 300, "x" * 301,
         "x" * 500, "x" * 501, "x" * 1000, "x" * 1001, "a\x00b", "a\x01b", "tab\there", "baris\nbaru", "\x7f",
         "Jalan rusak di RT 03", "é ñ 中文 🙂", "\u200b", "\u3164", "\u2800 \uffa0", "Jalan\u3164rusak",
         # Emoji held together by what clean_text keeps of the invisible characters (tests/domain/test_emoji_s26.py).
         "Keluarga \U0001f468\u200d\U0001f469\u200d\U0001f467", "\u2764\ufe0f\u200d\U0001f525 1\ufe0f\u20e3",
         "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "\u200d\ufe0f" * 5]  # fmt: skip
texts = st.sampled_from(NASTY) | st.text(max_size=40)
QUANTITIES = ["1", "0", "-1", "2.5", "2,5", "0.001", "0.0001", "1e40", "1E+3", "NaN", "Infinity", "9" * 15, "9" * 16,
              "1" + "0" * 15, "abc", "", "1.500", "2.125", "1.500.000", "1.500,5", "12.5", "1.50.000"]  # fmt: skip
quantities = st.sampled_from(QUANTITIES) | st.decimals(allow_nan=False).map(str)


class Loop:
    """An event loop in a thread of its own, for a synchronous hypothesis test to run coroutines on."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, work: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=120)  # type: ignore[arg-type]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class Site:
    """The services and projections of one test database."""

    async def start(self, url: str) -> None:
        self.pool = await create_pool(url, min_size=1, max_size=5)
        self.store = EventStore(self.pool)
        self.runner = ProjectionRunner(self.pool, all_projections())
        self.forums = ForumService(self.pool, self.store, self.runner)
        self.proposals = ProposalService(self.pool, self.store, b"s" * 32, self.runner)
        self.rkpd = RkpdService(self.pool, self.store, self.runner)
        await open_test_cycle(self.store)
        await self.runner.catch_up_all()
        self.years_open = {2022}

    async def accepted(self, command: Callable[[], Awaitable[object]]) -> bool:
        """Run a command; True if it was accepted, False if refused (and then nothing was written). Either
        way every projection must then apply everything the log holds: a failure here is a poison event."""
        before = await self.pool.fetchval("SELECT count(*) FROM events")
        try:
            await command()
            accepted = True
        except DomainError:
            accepted = False
            assert await self.pool.fetchval("SELECT count(*) FROM events") == before, "a refused command wrote"
        await self.runner.catch_up_all()  # raises ProjectionFailed naming the event it cannot store
        return accepted


@pytest.fixture
def site(database_url: str) -> Iterator[tuple[Loop, Site]]:
    loop, s = Loop(), Site()
    loop.run(s.start(database_url))
    yield loop, s
    loop.run(s.pool.close())
    loop.close()


_ids = itertools.count(1)


def clean(text: str, limit: int) -> bool:
    try:
        bounds.clean_text(text, max_length=limit)
    except ValueError:
        return False
    return True


def filled(text: str) -> bool:
    """Whether a text says something: not only white space and invisible format characters (a zero-width
    space is no title, no name and no reason)."""
    return clean(text, 10**6) and bool(bounds.clean_text(text, max_length=10**6))


def fits(value: int, low: int, high: int) -> bool:
    return low <= value <= high


@EXAMPLES
@given(year=ints, ceiling=ints, quota=st.none() | ints, title=texts, place=texts, chair=texts,
       weight=ints, label=texts, threshold=ints, voting=st.booleans())  # fmt: skip
def test_scheduling_a_forum(site, year, ceiling, quota, title, place, chair, weight, label, threshold, voting) -> None:  # type: ignore[no-untyped-def]
    loop, s = site
    command = f.ScheduleForum(
        forum_id=f"F{next(_ids)}", level="kelurahan", region="32.75.01.1001", year=year, title=title, held_on=FORUM_DAY,
        place=place, chair=chair, ceiling=ceiling, quota=quota, rule="greedy" if voting else "weighted-criteria",
        ballot_kind="approval" if voting else None, criteria=(Criterion("manfaat", label, weight),),
        rule_params={"min_project_score_threshold": threshold},
    )  # fmt: skip
    in_bounds = (
        fits(year, 2000, 2100) and fits(ceiling, 1, bounds.MAX_RUPIAH) and clean(title, bounds.TITLE)
        and filled(title) and clean(place, bounds.NAME)
        and clean(chair, bounds.NAME) and (quota is None or fits(quota, 1, bounds.MAX_ITEMS))
        and fits(weight, 1, 10) and clean(label, bounds.NAME) and filled(label)
        and fits(threshold, 0, bounds.MAX_COUNT)
    )  # fmt: skip
    cycle_open = year in s.years_open  # a Musrenbang forum belongs to a year whose cycle is open
    assert loop.run(s.accepted(lambda: s.forums.schedule(command, META))) == (in_bounds and cycle_open)


def _open_forum(loop: Loop, s: Site, ballot_kind: str | None = None) -> str:
    forum_id = f"F{next(_ids)}"
    rule = "weighted-criteria" if ballot_kind is None else "greedy"
    agenda = tuple(AgendaItem(item_id=f"i{n}", title=f"Usulan {n}", cost=1_000_000 * n) for n in (1, 2, 3))

    async def make() -> None:
        await s.forums.schedule(f.ScheduleForum(
            forum_id=forum_id, level="kelurahan", region="32.75.01.1001", year=2022, title="Forum uji",
            held_on=FORUM_DAY, place="Aula", chair="Lurah", ceiling=10_000_000, rule=rule,
            ballot_kind=ballot_kind), META)  # fmt: skip
        await s.forums.register_delegates(forum_id, [f.RegisterDelegate(delegate_id="d1", name="Ketua RW")], META)
        await s.forums.open(forum_id, META, agenda=agenda)
        await s.runner.catch_up_all()

    loop.run(make())
    return forum_id


@EXAMPLES
@given(delegate_id=texts, name=texts, role=texts, represents=texts, gender=st.sampled_from(["", "P", "L", "X", "\x00"]))
def test_registering_delegates(site, delegate_id, name, role, represents, gender) -> None:  # type: ignore[no-untyped-def]
    loop, s = site
    forum_id = _open_forum(loop, s)
    command = f.RegisterDelegate(delegate_id=delegate_id, name=name, role=role, represents=represents, gender=gender)
    in_bounds = (
        bool(delegate_id) and len(delegate_id) <= bounds.CODE and delegate_id != "d1"
        and all(c.isascii() and (c.isalnum() or c in "._-") for c in delegate_id)
        and clean(name, bounds.NAME) and filled(name) and clean(role, bounds.NAME)
        and clean(represents, bounds.NAME) and gender in ("", "P", "L")
    )  # fmt: skip
    assert loop.run(s.accepted(lambda: s.forums.register_delegates(forum_id, [command], META))) == in_bounds


@EXAMPLES
@given(reason=texts, cost=st.none() | ints, volume=st.none() | quantities, points=ints)
def test_adjusting_and_voting(site, reason, cost, volume, points) -> None:  # type: ignore[no-untyped-def]
    loop, s = site
    forum_id = _open_forum(loop, s)
    adjust = f.AdjustItem(item_id="i1", reason=reason, agreed_cost=cost, agreed_volume=volume)
    quantity_ok = volume is None or _quantity(volume)
    in_bounds = (
        clean(reason, bounds.REASON) and filled(reason) and (cost is None or fits(cost, 1, bounds.MAX_RUPIAH))
        and quantity_ok and (cost is not None or volume is not None)
    )  # fmt: skip
    assert loop.run(s.accepted(lambda: s.forums.adjust(forum_id, adjust, META))) == in_bounds

    voting = _open_forum(loop, s, ballot_kind="cumulative")
    ballot = f.CastBallot(delegate_id="d1", points={"i1": points})
    assert loop.run(s.accepted(lambda: s.forums.cast_ballots(voting, [ballot], META))) == fits(
        points, 1, bounds.MAX_COUNT)  # fmt: skip


def _quantity(text: str) -> bool:
    """A quantity as an event carries it: canonical ("2.5", not "2,5" or "2.50"), positive, below 10^15,
    three decimals at most."""
    try:
        v = Decimal(text)
    except ArithmeticError:
        return False
    return (v.is_finite() and 0 < v < 10**15 and v == v.quantize(Decimal("0.001"))
            and format(v.normalize(), "f") == text)  # fmt: skip


@EXAMPLES
@given(title=texts, rw=ints, beneficiaries=ints, volume=quantities, cost=ints | texts, latitude=quantities,
       reason=texts, agreed_cost=st.none() | ints)  # fmt: skip
def test_proposing_and_verifying(site, title, rw, beneficiaries, volume, cost, latitude, reason, agreed_cost) -> None:  # type: ignore[no-untyped-def]
    loop, s = site
    raw = p.ProposalInput(
        kelurahan="32.75.01.1001", rw=rw, rt=1, kind="fisik", bidang="infrastruktur", title=title,
        problem="Saluran tersumbat setiap hujan", solution="Normalisasi saluran", beneficiaries=beneficiaries,
        volume=volume, unit="meter", estimated_cost=cost, address="Jl. Melati", latitude=latitude,
        longitude="107" if latitude else None,
    )  # fmt: skip
    key = f"prop-{next(_ids)}"

    async def submit() -> str:
        content = await s.proposals.validate(raw, year=2022)
        done = await s.proposals.submit(content, p.Proposer(name="Siti", phone="+6281234567890"),
                                        idempotency_key=key, request_fingerprint=key, year=2022)  # fmt: skip
        return done.code

    code: list[str] = []

    async def submitted() -> None:
        code.append(await submit())

    if not loop.run(s.accepted(submitted)):
        return
    assert fits(rw, 1, 99) and fits(beneficiaries, 1, p.MAX_BENEFICIARIES) and clean(title, 150)
    command = p.VerifyProposal(code=code[0], decision="accept_with_changes", reason=reason, agreed_cost=agreed_cost,
                               agreed_volume="2.5")  # fmt: skip
    in_bounds = clean(reason, bounds.REASON) and filled(reason) and (
        agreed_cost is None or fits(agreed_cost, 1, p.MAX_COST))  # fmt: skip
    assert loop.run(s.accepted(lambda: s.proposals.verify(command, META))) == in_bounds


@EXAMPLES
@given(program=texts, unit=texts, pagu=ints, volume=quantities, target=quantities, priority=ints, note=texts)
def test_rkpd_lines_and_adoption(site, program, unit, pagu, volume, target, priority, note) -> None:  # type: ignore[no-untyped-def]
    loop, s = site
    n = next(_ids)
    code = f"C{n:07d}"[-8:]
    item = CityItem(code=code, title="Usulan kota", kelurahan="32.75.01.1001", bidang="infrastruktur",
                    cost=10_000_000, agency="DBMSDA", forum_id="F1")  # fmt: skip
    loop.run(s.accepted(lambda: s.rkpd.execute(2022, r.ReceiveProposals(year=2022, items=(item,)), META)))
    line = r.LineInput(
        agency="DBMSDA", origins=(code,), priority_program=priority, sub_kegiatan_code="1.03.10.2.01.0017",
        program=program, kegiatan="Kegiatan", sub_kegiatan="Sub", funding_source="apbd_kota", volume=volume,
        unit=unit, pagu=pagu, output_indicator="Jalan", target=target, target_unit="m",
    )  # fmt: skip
    in_bounds = (
        clean(program, bounds.LONG_TITLE) and filled(program) and clean(unit, 60) and filled(unit)
        and fits(pagu, 1, r.MAX_PAGU) and fits(priority, 1, 6) and _line_quantity(volume)
        and _line_quantity(target)
    )  # fmt: skip
    command = r.SetLine(line=line, priority_programs=6, reason="")
    assert loop.run(s.accepted(lambda: s.rkpd.execute(2022, command, META))) == in_bounds
    if in_bounds:
        decline = r.DeclineProposal(code=code, reason=note)  # in a line already: refused whatever the reason
        assert not loop.run(s.accepted(lambda: s.rkpd.execute(2022, decline, META)))


def _line_quantity(text: str) -> bool:
    """An RKPD line's volume or target: a positive number as programs write it (a decimal point, or a
    comma), three decimals at most, up to Rp 50 miliar's worth of digits. A form reads an operator's
    "1.500" first (values.parse_quantity, http/city_pages.py) and sends it so."""
    if not re.fullmatch(r"-?[0-9]+(?:[.,][0-9]+)?", text.strip()):  # the documented form: no "1E+3" (review s26)
        return False
    t = text.strip().replace(",", ".")
    try:
        v = Decimal(t)
    except ArithmeticError:
        return False
    return v.is_finite() and 0 < v <= p.MAX_COST and v == v.quantize(Decimal("0.001")) and len(t) <= 40


@EXAMPLES
@given(mark=ints, sheet=st.sampled_from(["konsensus", "d1", "d2", "", "\x00"]), mandated=st.lists(texts, max_size=7))
def test_scores_and_mandates(site, mark, sheet, mandated) -> None:  # type: ignore[no-untyped-def]
    loop, s = site
    forum_id = _open_forum(loop, s)
    marks = {"i1": {c.key: mark for c in f.DEFAULT_CRITERIA}}
    scored = loop.run(s.accepted(lambda: s.forums.give_scores(forum_id, f.GiveScores(sheet=sheet, marks=marks),
                                                              META)))  # fmt: skip
    assert scored == (fits(mark, 1, 5) and sheet in ("konsensus", "d1"))
    command = f.MandateDelegates(delegate_ids=tuple(mandated))
    assert loop.run(s.accepted(lambda: s.forums.mandate(forum_id, command, META))) == (
        mandated == ["d1"])  # the only registered delegate, once  # fmt: skip


@EXAMPLES
@given(pass_reason=texts, withdraw_reason=texts, note=texts, merge_reason=texts)
def test_the_city_level_and_merges_with_reasons(site, pass_reason, withdraw_reason, note, merge_reason) -> None:  # type: ignore[no-untyped-def]
    loop, s = site
    n = next(_ids)
    codes = [f"P{n:06d}{k}"[-8:] for k in "ABC"]
    items = tuple(CityItem(code=c, title="Usulan kota", kelurahan="32.75.01.1001", bidang="infrastruktur",
                           cost=10_000_000, agency="DBMSDA", forum_id="F1") for c in codes)  # fmt: skip
    # A year of its own (adoption needs every proposal of the year decided), with a cycle: the city level is
    # opened only in a year whose cycle is there. Without a calendar, so that its stages allow it today.
    year = next(y for y in range(2023, 2101) if y not in s.years_open)
    start = cycle.StartCycle(year=year, region="32.75", theme="Tahun kota", priority_programs=("Program",),
                             require_calendar=False)  # fmt: skip
    loop.run(execute(s.store, CYCLE, cycle.stream_id(year), start, metadata=META))
    s.years_open.add(year)
    assert loop.run(s.accepted(lambda: s.rkpd.execute(year, r.ReceiveProposals(year=year, items=items), META)))
    reason_ok = clean(pass_reason, bounds.REASON) and filled(pass_reason)
    passed = r.PassProposal(code=codes[0], to_agency="DISPERKIMTAN", reason=pass_reason)
    assert loop.run(s.accepted(lambda: s.rkpd.execute(year, passed, META))) == reason_ok
    declined = r.DeclineProposal(code=codes[0], reason="sudah dianggarkan")
    assert loop.run(s.accepted(lambda: s.rkpd.execute(year, declined, META)))

    def line_of(code: str) -> r.LineInput:
        return r.LineInput(
            agency="DBMSDA", origins=(code,), priority_program=1, sub_kegiatan_code="1.03.10.2.01.0017",
            program="Program", kegiatan="Kegiatan", sub_kegiatan="Sub", funding_source="apbd_kota", volume="1",
            unit="m", pagu=1_000_000, output_indicator="Jalan", target="1", target_unit="m",
        )  # fmt: skip

    for code in codes[1:]:
        command = r.SetLine(line=line_of(code), priority_programs=6)
        assert loop.run(s.accepted(lambda command=command: s.rkpd.execute(year, command, META)))  # type: ignore[misc]
    line_id = loop.run(s.rkpd.load(year)).line_of[codes[2]]
    withdraw = r.WithdrawLine(line_id=line_id, reason=withdraw_reason)
    withdrawn = loop.run(s.accepted(lambda: s.rkpd.execute(year, withdraw, META)))
    assert withdrawn == (clean(withdraw_reason, bounds.REASON) and filled(withdraw_reason))
    if withdrawn:  # its proposal is pending again: decide it, so the year can be adopted
        decline = r.DeclineProposal(code=codes[2], reason="digabung ke tahun berikutnya")
        assert loop.run(s.accepted(lambda: s.rkpd.execute(year, decline, META)))
    adopt = r.Adopt(year=year, note=note)
    assert loop.run(s.accepted(lambda: s.rkpd.execute(year, adopt, META))) == clean(note, bounds.REASON)

    async def two_proposals() -> list[str]:
        out = []
        for k in range(2):
            content = await s.proposals.validate(p.ProposalInput(
                kelurahan="32.75.01.1001", rw=1, rt=1, kind="fisik", bidang="infrastruktur", title="Saluran air",
                problem="Saluran tersumbat setiap hujan", solution="Normalisasi saluran", beneficiaries=10,
                volume=5, unit="meter", estimated_cost=5_000_000, address="Jl. Melati"), year=2022)  # fmt: skip
            key = f"merge-{n}-{k}"
            done = await s.proposals.submit(content, p.Proposer(name="Siti", phone="+6281234567890"),
                                            idempotency_key=key, request_fingerprint=key, year=2022)  # fmt: skip
            out.append(done.code)
        return out

    into, other = loop.run(two_proposals())
    merge = p.MergeProposals(into=into, codes=(other,), reason=merge_reason)
    assert loop.run(s.accepted(lambda: s.proposals.merge(merge, META))) == (
        clean(merge_reason, bounds.REASON) and filled(merge_reason))  # fmt: skip


@EXAMPLES
@given(year=ints, theme=texts, programs=st.lists(texts, max_size=22))
def test_opening_a_cycle(site, year, theme, programs) -> None:  # type: ignore[no-untyped-def]
    loop, s = site
    command = cycle.StartCycle(year=year, region="32.75", theme=theme, priority_programs=tuple(programs),
                               calendar=open_calendar(year=year), today=today())  # fmt: skip
    in_bounds = (
        fits(year, 2000, 2100) and clean(theme, bounds.LONG_TITLE) and filled(theme)
        and 1 <= len(programs) <= 20 and all(clean(x, bounds.TITLE) and filled(x) for x in programs)
        and len({" ".join(bounds.clean_text(x, max_length=10**6).split()).casefold() for x in programs})
        == len(programs)  # no program twice
    )  # fmt: skip
    open_already = year in s.years_open  # 2022 from the start, and any an earlier example opened
    opened = loop.run(s.accepted(lambda: execute(s.store, CYCLE, cycle.stream_id(year), command, metadata=META)))
    assert opened == (in_bounds and not open_already)
    if opened:
        s.years_open.add(year)
