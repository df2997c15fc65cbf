"""A whole RKPD 2022 cycle of Kota Bekasi, on the dates of its calendar (early 2021), played through the same
services, commands and events a real one produces, so a newcomer sees the main job in one command: residents'
proposals in all 56 kelurahan, verification (accepted, with changes, returned and revised, rejected,
duplicates merged), a Musrenbang Kelurahan in each (criteria scores, ceilings, adjustments, mandated
delegates), twelve Musrenbang Kecamatan (pagu indikatif; some vote with approval ballots), the Forum
Perangkat Daerah (agencies pass proposals on, decline some, group the rest into RKPD lines; scheduled and
closed with its Berita Acara) and the Musrenbang Kota, whose close adopts the RKPD.
Then the RKPD 2023 cycle opens, taking proposals today, and some needs that 2022 did not accommodate are
proposed again, so a newcomer sees two years side by side and a need's history across them.

Deterministic: everything is drawn from `random.Random(seed)`, and tracking codes and forum ids derive
from the seed, so the same seed gives the same events apart from event ids and times.

`scale` multiplies the amount (proposals per kelurahan, delegates, score sheets and ballots) for the
benchmarks. From scale 2 on, the commands of one stage are decided exactly as their services decide them
(the domain's `decide` on the current state) but appended many streams per command, as the Pabulib
import does; the pagu indikatif of each kecamatan stays a realistic amount, so the RKPD keeps a
realistic size however many proposals compete for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import io
import random
import secrets
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
from PIL import Image, ImageDraw

from musrenbang import demo_catalogue as catalogue
from musrenbang.domain import city_forums as cf
from musrenbang.domain import cycle as cy
from musrenbang.domain import forum as f
from musrenbang.domain import proposal as p
from musrenbang.domain import rkpd as r
from musrenbang.domain import values
from musrenbang.domain.access import Actor
from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import CityItem, Event, MilestonePhoto, RkpdLine, StageWindow
from musrenbang.domain.realisation import RecordMilestone
from musrenbang.eventlog import codec
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore, Metadata, StreamHead
from musrenbang.photos import ProcessedPhoto, process
from musrenbang.projections import all_projections
from musrenbang.projections import rkpd as rkpd_views
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.reference import kecamatan_with_kelurahan
from musrenbang.services import city as city_service
from musrenbang.services import cycles
from musrenbang.services.accounts import add_user
from musrenbang.services.forums import AGENDA_MODELS, ForumService, hold_open_append
from musrenbang.services.freshness import require_fresh
from musrenbang.services.pokir import PokirService, Reses
from musrenbang.services.proposals import _NAMESPACE, ProposalService, code_for, fingerprint
from musrenbang.services.realisation import RealisationService, keep_photos, photo_id_of, photo_ref
from musrenbang.services.rkpd import RkpdService

YEAR = 2022
NEXT_YEAR = 2023
RKPD_2022_THEME = "Peningkatan Nilai Tambah dan Daya Saing Perekonomian melalui Pembangunan Industri Kreatif"
RKPD_2022_PROGRAMS = (
    "Penguatan dan pengembangan ekonomi kreatif kota",
    "Pengembangan iklim dan kemampuan entrepreneurship masyarakat",
    "Pemberdayaan sumber daya ekonomi lokal dan pasar domestik",
    "Peningkatan iklim usaha Kota Bekasi dan peluang kerja",
    "Pengelolaan rantai pasok sembako melalui teknologi digital",
    "Pembentukan Bekasi city startup dan pengembangan wirausaha industri kreatif berbasis komunitas",
)
RKPD_2022 = cy.StartCycle(
    year=YEAR, region="32.75", theme=RKPD_2022_THEME, priority_programs=RKPD_2022_PROGRAMS,
    kickoff_on=dt.date(2021, 1, 19), calendar=cy.default_calendar(YEAR), dana_kelurahan=352_000_000,
)  # fmt: skip
"""Kota Bekasi's RKPD 2022 as announced at its kick-off on 19 January 2021 (DOMAIN.md), on the common
chain's calendar."""
SUBMITTED_ON = dt.date(2021, 1, 11)
POKIR_ON = dt.date(2021, 2, 26)
"""The day the demo's pokir are submitted: before their deadline, a week before the Musrenbang Kota window
opens (16 March 2021)."""
CITY_FORUM_ON = dt.date(2021, 3, 1)
FORUM_PD_ON = dt.date(2021, 3, 15)
ADOPTED_ON = dt.date(2021, 4, 5)
"""The Musrenbang Kota: its close adopts the RKPD."""
DPRD_MEMBERS = tuple(cf.ParticipantInput(name=name, kind="dprd", represents=f"Dapil {dapil}")
                     for _, name, _, dapil in catalogue.DPRD_MEMBERS)  # fmt: skip
"""The demo's DPRD members (those who brought pokir) at the city forums."""
ENACTED_ON = dt.date(2021, 5, 31)
REGULATION = "Peraturan Wali Kota Bekasi Nomor 33 Tahun 2021 (contoh demo)"
"""The demo's regulation setting the RKPD: a made-up number, marked so."""
CARRIED = 40
"""At most this many needs that 2022 did not accommodate are proposed again for 2023."""
BATCH = 1000
STEPS = 56 * 3 + 12 + 11
"""Progress steps `play` reports: per kelurahan submissions, verification and forum; per kecamatan
forum; the DPRD's pokir; the city level and the projections catching up; what became of the lines; the next year."""
NOTIFIED = 0.05
"""The share of proposers who ask to be told by e-mail (at example.org, a domain reserved for examples).
What they are told is queued as for any resident, then settled unsent when the demo ends (`settle_messages`):
a server given an SMTP relay would otherwise hand the relay every one of them."""
UNSENT = "demo: to a made-up resident of the demo cycle, not sent"
"""Why the demo's messages were cancelled (the outbox's `last_error`, as the worker's own cancellations say
why)."""
ADMIN = Metadata(actor="admin.bappeda", role="admin")
ACCOUNTS = (("admin.bappeda", "admin", None, None), ("fasilitator.bekasitimur", "facilitator", "32.75.01", None),
            ("opd.dbmsda", "opd", None, "DBMSDA"), ("auditor.inspektorat", "auditor", None, None),
            ("setwan.dprd", "setwan", None, None))  # fmt: skip


class Account(msgspec.Struct, frozen=True):
    username: str
    role: str
    scope: str
    password: str | None
    """None when the account existed already (its password was printed when it was made)."""


class Summary(msgspec.Struct, kw_only=True):
    proposals: int = 0
    merged: int = 0
    returned: int = 0
    revised: int = 0
    rejected: int = 0
    forums: int = 0
    received: int = 0
    pokir: int = 0
    passed: int = 0
    declined: int = 0
    lines: int = 0
    carried: int = 0
    finished: int = 0
    finished_code: str = ""
    """A proposal whose RKPD line was finished and handed over (with photos of the work)."""
    carried_code: str = ""
    """One of the 2023 proposals that carry a 2022 need on."""
    events: int = 0
    sample_code: str = ""
    unsent: int = 0
    """Messages to the demo's made-up residents settled as not to be sent (`settle_messages`)."""
    accounts: list[Account] = []


def _slug(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def _code(*parts: object) -> str:
    return values.code_from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest())


def _number(value: int | float | Decimal | str | None) -> int:
    """A number the demo itself put into a ProposalInput (`_content`): always there, always whole."""
    if value is None:
        raise TypeError("the demo's proposal lacks a number it always gives")
    return int(value)


def _clamp(x: float) -> int:
    return max(1, min(5, round(x)))


def _fits(used: dict[str, int], chunk: list[CityItem]) -> bool:
    """Whether `chunk` still fits each of its kelurahan's Dana Kelurahan of the year (as the RKPD's rule
    counts it: each kelurahan by its own proposals' costs), booking it in `used` if so."""
    cost: dict[str, int] = defaultdict(int)
    for item in chunk:
        cost[item.kelurahan] += item.cost
    if any(used[k] + c > (RKPD_2022.dana_kelurahan or 0) for k, c in cost.items()):
        return False
    for k, c in cost.items():
        used[k] += c
    return True


class _Demo:
    def __init__(self, pool: asyncpg.Pool, store: EventStore, secret: bytes, seed: int, scale: int,
                 on_progress: Callable[[int], None] | None) -> None:  # fmt: skip
        self.pool, self.store, self.seed, self.scale = pool, store, seed, scale
        self.rng = random.Random(seed)
        self.news = random.Random(seed + 1)
        """Draws for what came after the cycle of 2021 (who asked for news, what became of the lines), apart
        from `rng`, so that the cycle itself stays the same for a seed."""
        self.batched = scale > 1
        self.tick = on_progress or (lambda n: None)
        self.runner = ProjectionRunner(pool, all_projections(), batch_size=5000)
        self.proposals = ProposalService(pool, store, secret, self.runner)
        self.forums = ForumService(pool, store, self.runner)
        self.rkpd = RkpdService(pool, store, self.runner)
        self.summary = Summary()
        self.need: dict[str, catalogue.Need] = {}
        self.quality: dict[str, float] = {}
        self.mandated: dict[str, list[f.RegisterDelegate]] = {}
        self.members: list[Account] = []
        """The DPRD members' demo accounts (made with their pokir)."""

    async def fresh(self) -> None:
        """Wait for every read model to reach the log's head: the next stage reads them to decide (the
        ceilings below, forums' agendas), and a read model behind the log would freeze stale data.

        The demo appends far faster than read models are applied, and no worker runs beside it: the backlog
        is applied here first, whole, without a deadline (the freshness check helps one batch at a time
        within its timeout, which at scale 100 and more ran out with whole read models left behind)."""
        await asyncio.gather(*(self.runner.catch_up(p) for p in self.runner.projections))
        await require_fresh(self.runner, [p.name for p in self.runner.projections], timeout=60)

    async def caught_up(self, names: Sequence[str]) -> None:
        """Apply the whole backlog of the read models `names` before a command that reads them to decide (a
        forum's opening reads its agenda from `proposals` and `forums`): thousands of delegates registered a
        moment before are more than the command's own short wait applies on a loaded host, where `demo
        --scale 440` stopped with "the read models did not catch up with the log in time"."""
        await asyncio.gather(*(self.runner.catch_up(p) for p in self.runner.projections if p.name in names))

    # --- appending ----------------------------------------------------------------------------------

    async def _append_each(self, decided: Sequence[tuple[str, list[Event]]], meta: Metadata) -> None:
        """Append each stream's decided events, many streams per command (batched mode)."""
        for start in range(0, len(decided), BATCH):
            chunk = decided[start : start + BATCH]
            rows = await self.pool.fetch(
                "SELECT DISTINCT ON (stream_id) stream_id, stream_version, hash FROM events"
                " WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version DESC",
                [s for s, _ in chunk],
            )
            heads = {x["stream_id"]: StreamHead(x["stream_version"], x["hash"]) for x in rows}
            await self.store.append([Append(s, heads.get(s, NEW_STREAM), e) for s, e in chunk], metadata=meta)

    # --- residents and verification -------------------------------------------------------------------

    def _person(self) -> tuple[str, str]:
        woman = self.rng.random() < 0.5
        first = self.rng.choice(catalogue.WOMEN if woman else catalogue.MEN)
        return f"{first} {self.rng.choice(catalogue.FAMILY)}", "P" if woman else "L"

    def _phone(self) -> str:
        return f"08{self.rng.randint(11, 99)}{self.rng.randint(10_000_000, 99_999_999)}"

    def _content(self, kelurahan: str, need: catalogue.Need, rng: random.Random | None = None) -> p.ProposalInput:
        rng = rng or self.rng
        rw, rt = rng.randint(1, 14), rng.randint(1, 9)
        volume = rng.randint(*need.volume)
        if need.unit == "m":
            volume = max(5, volume // 5 * 5)
        cost = int(volume * need.unit_cost * rng.uniform(0.95, 1.3)) // 500_000 * 500_000 or 500_000
        return p.ProposalInput(
            kelurahan=kelurahan, rw=rw, rt=rt, kind=need.kind, bidang=need.bidang,
            title=need.title.format(rt=f"{rt:02d}", rw=f"{rw:02d}"), problem=need.problem, solution=need.solution,
            beneficiaries=rng.randint(*need.beneficiaries), volume=volume, unit=need.unit, estimated_cost=cost,
            priority_program=need.priority_program if need.bidang == "ekonomi" or rng.random() < 0.4 else None,
            address=f"{rng.choice(catalogue.STREETS)} RT {rt:02d}/RW {rw:02d}",
        )  # fmt: skip

    async def _submit_all(self, raws: list[tuple[str, p.ProposalInput]]) -> list[str]:
        codes = []
        prepared: list[tuple[str, p.ProposalContent, p.Proposer]] = []
        for key, raw in raws:
            content = await self.proposals.validate(raw, year=YEAR)
            name, _ = self._person()
            proposer = p.validate_proposer(name, self._phone())
            if self.news.random() < NOTIFIED:
                proposer = msgspec.structs.replace(proposer, notify="email",
                                                   email=f"{_slug(name)}.{len(prepared)}@example.org")  # fmt: skip
            prepared.append((key, content, proposer))
        if not self.batched:
            for key, content, proposer in prepared:
                done = await self.proposals.submit(content, proposer, idempotency_key=key, year=YEAR,
                                                   request_fingerprint=fingerprint(key), on=SUBMITTED_ON)  # fmt: skip
                codes.append(done.code)
            return codes
        used = set()
        contacts, appends = [], []
        for key, content, proposer in prepared:
            attempt = 0
            while (code := code_for(key, attempt)) in used:
                attempt += 1
            used.add(code)
            ref = str(uuid.uuid5(_NAMESPACE, f"proposer:{key}"))
            command = p.SubmitProposal(code=code, year=YEAR, source="warga", content=content, proposer_ref=ref)
            contacts.append((ref, code, proposer.name, proposer.phone))
            appends.append(Append(p.stream_id(code), NEW_STREAM, p.decide(p.Proposal(), command)))
            codes.append(code)
        for start in range(0, len(appends), BATCH):
            async with self.store.transaction() as conn:
                await conn.executemany(
                    "INSERT INTO proposer_contacts (ref, proposal_code, name, phone) VALUES ($1, $2, $3, $4)",
                    contacts[start : start + BATCH],
                )
                await self.store.append(appends[start : start + BATCH], conn=conn)
        return codes

    async def _verify_all(self, commands: list[p.VerifyProposal], meta: Metadata) -> None:
        if not self.batched:
            for c in commands:
                await self.proposals.verify(c, meta)
            return
        rows = await self.pool.fetch(
            "SELECT stream_id, event_type, data FROM events WHERE stream_id = ANY($1::text[])"
            " ORDER BY stream_id, stream_version",
            [p.stream_id(c.code) for c in commands],
        )
        states: dict[str, p.Proposal] = defaultdict(p.Proposal)
        for row in rows:
            states[row["stream_id"]] = p.evolve(
                states[row["stream_id"]], codec.decode_event(row["event_type"], row["data"])
            )
        decided = [(p.stream_id(c.code), p.decide(states[p.stream_id(c.code)], c)) for c in commands]
        await self._append_each(decided, meta)

    def _decision(self, code: str, raw: p.ProposalInput, sure: bool) -> p.VerifyProposal:
        rng, x = self.rng, self.rng.random()
        if sure or x >= 0.27:
            return p.VerifyProposal(code=code, decision="accept")
        if x < 0.07:
            return p.VerifyProposal(code=code, decision="reject", reason=rng.choice(catalogue.REJECT_REASONS))
        if x < 0.15:
            return p.VerifyProposal(code=code, decision="return", reason=rng.choice(catalogue.RETURN_REASONS))
        cost = _number(raw.estimated_cost) * rng.randint(75, 95) // 100 // 100_000 * 100_000
        return p.VerifyProposal(code=code, decision="accept_with_changes", agreed_cost=cost,
                                reason=rng.choice(catalogue.CHANGE_REASONS))  # fmt: skip

    async def residents(self, kecamatan: list[dict]) -> None:
        """Submissions, then the facilitators' verification, merges of duplicates and revisions."""
        plans = []
        for k in kecamatan:
            kel = k["kode"]
            raws, needs = [], []
            for i in range(self.rng.randint(3, 6) * self.scale):
                need = self.rng.choice(catalogue.NEEDS)
                needs.append(need)
                raws.append((f"demo:{self.seed}:{kel}:{i}", self._content(kel, need)))
            originals = len(raws)
            duplicates = []  # (index of the duplicate, index of the proposal it repeats)
            for n in range(self.scale):
                if self.rng.random() < 0.35:
                    target = min(originals - 1, 2 * n) if self.scale > 1 else self.rng.randint(0, 1)
                    original = raws[target][1]
                    rt = (_number(original.rt) % 9) + 1
                    problem = f"Warga RT {rt:02d} juga mengalami: {original.problem}"
                    copy = msgspec.structs.replace(original, rt=rt, problem=problem,
                                                   beneficiaries=self.rng.randint(20, 120))  # fmt: skip
                    duplicates.append((len(raws), target))
                    raws.append((f"demo:{self.seed}:{kel}:dup{n}", copy))
                    needs.append(needs[target])
            codes = await self._submit_all(raws)
            for code, need in zip(codes, needs, strict=True):
                self.need[code] = need
                self.quality[code] = self.rng.uniform(2.0, 4.8)
            plans.append((k, codes, raws, originals, duplicates))
            self.summary.proposals += len(codes)
            self.tick(1)
        for k, codes, raws, originals, duplicates in plans:
            meta = Metadata(actor=f"fasilitator.{_slug(k['kecamatan_nama'])}", role="facilitator")
            targets = {t for _, t in duplicates}
            decisions = [self._decision(codes[i], raws[i][1], sure=i < 2 or i in targets) for i in range(originals)]
            await self._verify_all(decisions, meta)
            for dup, target in duplicates:
                reason = catalogue.DUPLICATE_REASON.format(rw=f"{_number(raws[dup][1].rw):02d}")
                await self.proposals.merge(p.MergeProposals(into=codes[target], codes=(codes[dup],), reason=reason),
                                           meta)  # fmt: skip
                self.summary.merged += 1
            returned = [d for d in decisions if d.decision == "return"]
            self.summary.returned += len(returned)
            self.summary.rejected += sum(1 for d in decisions if d.decision == "reject")
            again = []
            for d in returned:
                if self.rng.random() < 0.25:
                    continue  # the proposer never revised it: it stays returned, with the reason
                raw = raws[codes.index(d.code)][1]
                volume = max(1, _number(raw.volume) * self.rng.randint(60, 90) // 100)
                cost = max(500_000, _number(raw.estimated_cost) * volume // _number(raw.volume))
                fixed = msgspec.structs.replace(
                    raw, volume=volume, estimated_cost=cost,
                    problem=f"{raw.problem} Sudah ditinjau ulang bersama ketua RT dan LPM.")  # fmt: skip
                await self.proposals.revise(d.code, self.proposals.revision_secret(d.code),
                                            await self.proposals.validate(fixed, year=YEAR))  # fmt: skip
                again.append(p.VerifyProposal(code=d.code, decision="accept"))
            self.summary.revised += len(again)
            await self._verify_all(again, meta)
            self.tick(1)
        await self.fresh()
        self.tick(1)

    # --- forums -------------------------------------------------------------------------------------

    def _marks(self, code: str, criteria: Sequence[str], noise: float) -> dict[str, int]:
        q = self.quality.get(code, 3.0)
        return {c: _clamp(q + self.rng.uniform(-noise, noise)) for c in criteria}

    async def _sheets(self, forum_id: str, sheets: list[f.GiveScores], meta: Metadata) -> None:
        if not self.batched:
            for s in sheets:
                await self.forums.give_scores(forum_id, s, meta)
            return
        forum, head = await self.forums.load(forum_id)
        for start in range(0, len(sheets), BATCH):
            chunk = sheets[start : start + BATCH]
            events = [f.decide_scores(forum, s)[0] for s in chunk]
            await hold_open_append(self.store, forum_id, head, [f.scores_stream(forum_id, s.sheet) for s in chunk],
                                   events, meta)  # fmt: skip

    def _delegates(self, kelurahan_name: str, count: int) -> list[f.RegisterDelegate]:
        roles = [("Ketua LPM", "LPM", None), ("Ketua TP PKK Kelurahan", "PKK", "P"),
                 ("Ketua Karang Taruna", "Karang Taruna", None), ("Tokoh agama", "Tokoh masyarakat", "L"),
                 ("Kader Posyandu", "Posyandu", "P"), ("Tokoh perempuan", "Tokoh masyarakat", "P")]  # fmt: skip
        out = []
        for i in range(count):
            if i < len(roles):
                role, represents, gender = roles[i]
            else:
                rw = (i - len(roles)) % 14 + 1
                role, represents, gender = ("Ketua RW" if i < len(roles) + 14 else "Ketua RT", f"RW {rw:02d}", None)
            name, drawn = self._person()
            if gender and gender != drawn:
                first = self.rng.choice(catalogue.WOMEN if gender == "P" else catalogue.MEN)
                name, drawn = f"{first} {self.rng.choice(catalogue.FAMILY)}", gender
            # Drawn names may meet in one RW: other people of one name, as the desk would confirm.
            out.append(f.RegisterDelegate(delegate_id=f"d{i + 1:05d}", name=name, role=role, gender=drawn,
                                          represents=f"{represents}, Kelurahan {kelurahan_name}",
                                          same_name_confirmed=True))  # fmt: skip
        return out

    async def kelurahan_forums(self, kecamatan: list[dict]) -> None:
        weights_alt = tuple(msgspec.structs.replace(c, weight=2) if c.key in ("urgensi", "manfaat") else c
                            for c in f.DEFAULT_CRITERIA)  # fmt: skip
        for n, k in enumerate(kecamatan):
            kel, name = k["kode"], k["nama"]
            meta = Metadata(actor=f"fasilitator.{_slug(k['kecamatan_nama'])}", role="facilitator")
            total, largest = await self.pool.fetchrow(
                "SELECT coalesce(sum(coalesce(agreed_cost, estimated_cost)), 0)::bigint,"
                " coalesce(max(coalesce(agreed_cost, estimated_cost)), 0)"
                " FROM proposals WHERE kelurahan = $1 AND status = ANY($2::text[])",
                kel, [p.DITERIMA, p.DITERIMA_DENGAN_PERUBAHAN],
            )  # fmt: skip
            ceiling = max(largest, int(total * self.rng.uniform(0.55, 0.8)) // 5_000_000 * 5_000_000, 5_000_000)
            forum_id = _code("demo-forum", self.seed, kel)
            consensus = self.rng.random() < 0.35
            held_on = dt.date(2021, 1, 12) + dt.timedelta(n % 16)
            await self.forums.schedule(f.ScheduleForum(
                forum_id=forum_id, level="kelurahan", region=kel, year=YEAR,
                title=f"Musrenbang Kelurahan {name} (RKPD {YEAR})", held_on=held_on,
                place=f"Aula Kantor Kelurahan {name}", chair=f"Lurah {name}", ceiling=ceiling,
                starts_at=dt.time(9 if n % 2 == 0 else 13, 0),  # not drawn: the seed's draws stay as they were
                criteria=weights_alt if n % 3 == 0 else f.DEFAULT_CRITERIA), meta, on=held_on)  # fmt: skip
            delegates = self._delegates(name, self.rng.randint(10, 16) * self.scale)
            await self.forums.register_delegates(forum_id, delegates, meta)
            await self.caught_up(AGENDA_MODELS)
            await self.forums.open(forum_id, meta, on=held_on)
            forum, _ = await self.forums.load(forum_id)
            items = [a.item_id for a in forum.agenda]
            criteria = [c.key for c in forum.scheduled.criteria]
            if len(items) > 1 and self.rng.random() < 0.3:
                a = forum.agenda[self.rng.randrange(len(items))]
                cost = max(500_000, a.cost * self.rng.randint(70, 90) // 100 // 100_000 * 100_000)
                reason = self.rng.choice(catalogue.ADJUST_REASONS)
                await self.forums.adjust(
                    forum_id, f.AdjustItem(item_id=a.item_id, reason=reason, agreed_cost=cost), meta
                )
            if consensus:
                sheets = [f.GiveScores(sheet="konsensus", marks={i: self._marks(i, criteria, 0.5) for i in items})]
            else:
                sheets = []
                for d in delegates:
                    scored = items if len(items) <= 8 else self.rng.sample(items, 6)
                    sheets.append(f.GiveScores(sheet=d.delegate_id, marks={i: self._marks(i, criteria, 1.2)
                                                                           for i in scored}))  # fmt: skip
            await self._sheets(forum_id, sheets, meta)
            chosen = [delegates[0], delegates[1], delegates[self.rng.randrange(6, len(delegates))]]
            await self.forums.mandate(forum_id, f.MandateDelegates(delegate_ids=tuple(d.delegate_id for d in chosen)),
                                      meta)  # fmt: skip
            await self.forums.close(forum_id, meta)
            self.mandated[kel] = chosen
            self.summary.forums += 1
            self.tick(1)
        await self.fresh()
        self.tick(1)

    def _approvals(self, items: list[str], home: Mapping[str, str | None], own: str | None) -> tuple[str, ...]:
        pool = items if len(items) <= 40 else self.rng.sample(items, 40)

        def weight(i: str) -> float:
            return self.quality.get(i, 3.0) ** 2 * (3 if home.get(i) == own else 1)

        # A weighted sample without replacement (Efraimidis-Spirakis keys): better and nearer items more often.
        keyed = sorted(pool, key=lambda i: self.rng.random() ** (1 / weight(i)))
        return tuple(keyed[len(keyed) - min(len(keyed), self.rng.randint(3, 6)) :])

    async def kecamatan_forums(self, groups: dict[str, list[dict]]) -> None:
        for n, (kec, kelurahan) in enumerate(sorted(groups.items())):
            name = kelurahan[0]["kecamatan_nama"]
            meta = Metadata(actor=f"fasilitator.{_slug(name)}", role="facilitator")
            total, largest = await self.pool.fetchrow(
                "SELECT coalesce(sum(cost), 0)::bigint, coalesce(max(cost), 0)::bigint FROM forum_forwarded"
                " WHERE to_level = 'kecamatan' AND to_region = $1 AND year = $2", kec, YEAR)  # fmt: skip
            pagu_indikatif = self.rng.randint(35, 90) * 100_000_000
            ceiling = max(largest, min(pagu_indikatif, int(total * self.rng.uniform(0.6, 0.8)) // 10**6 * 10**6))
            ballots = n % 2 == 0
            forum_id = _code("demo-forum", self.seed, kec)
            held_on = dt.date(2021, 2, 8) + dt.timedelta(n)
            await self.forums.schedule(f.ScheduleForum(
                forum_id=forum_id, level="kecamatan", region=kec, year=YEAR,
                title=f"Musrenbang Kecamatan {name} (RKPD {YEAR})", held_on=held_on,
                place=f"Aula Kantor Kecamatan {name}", chair=f"Camat {name}", ceiling=ceiling, starts_at=dt.time(9, 0),
                rule="greedy" if ballots else "weighted-criteria", ballot_kind="approval" if ballots else None),
                meta, on=held_on)  # fmt: skip
            delegates, home = [], {}
            for k in kelurahan:
                for d in self.mandated[k["kode"]]:
                    delegates.append(msgspec.structs.replace(d, delegate_id=f"{k['kode'][-4:]}-{d.delegate_id}",
                                                             represents=f"Delegasi Kelurahan {k['nama']}"))  # fmt: skip
                    home[delegates[-1].delegate_id] = k["kode"]
            others = ("Anggota DPRD daerah pemilihan", "Tim Pemandu Bappeda", "Perwakilan perangkat daerah",
                      "Tokoh masyarakat", "Forum Anak Kecamatan", "Organisasi perempuan")  # fmt: skip
            for i in range(self.rng.randint(6, 10) * self.scale):
                person, gender = self._person()
                delegates.append(f.RegisterDelegate(delegate_id=f"k{i + 1:05d}", name=person, role=others[i % 6],
                                                    represents=f"Kecamatan {name}", gender=gender,
                                                    same_name_confirmed=True))  # fmt: skip
            await self.forums.register_delegates(forum_id, delegates, meta)
            await self.caught_up(AGENDA_MODELS)
            await self.forums.open(forum_id, meta, on=held_on)
            forum, _ = await self.forums.load(forum_id)
            items = [a.item_id for a in forum.agenda]
            kel_of = {a.item_id: a.kelurahan for a in forum.agenda}
            if len(items) > 2 and self.rng.random() < 0.4:
                a = forum.agenda[self.rng.randrange(len(items))]
                cost = max(500_000, a.cost * 85 // 100 // 100_000 * 100_000)
                adjust = f.AdjustItem(item_id=a.item_id, agreed_cost=cost, reason=catalogue.ADJUST_REASONS[0])
                await self.forums.adjust(forum_id, adjust, meta)
            if ballots:
                cast = [f.CastBallot(delegate_id=d.delegate_id,
                                     approvals=self._approvals(items, kel_of, home.get(d.delegate_id)))
                        for d in delegates]  # fmt: skip
                for start in range(0, len(cast), BATCH):
                    await self.forums.cast_ballots(forum_id, cast[start : start + BATCH], meta)
                # A facilitator corrects one typed paper ballot: the second replaces the first.
                fix = cast[0]
                await self.forums.cast_ballot(forum_id, msgspec.structs.replace(
                    fix, approvals=self._approvals(items, kel_of, home.get(fix.delegate_id))), meta)  # fmt: skip
            else:
                criteria = [c.key for c in forum.scheduled.criteria]
                marks = {i: self._marks(i, criteria, 0.4) for i in items}
                await self._sheets(forum_id, [f.GiveScores(sheet="konsensus", marks=marks)], meta)
            chosen = tuple(d.delegate_id for d in delegates[::3][:3])
            await self.forums.mandate(forum_id, f.MandateDelegates(delegate_ids=chosen), meta)
            await self.forums.close(forum_id, meta)
            self.summary.forums += 1
            self.tick(1)
        await self.fresh()
        self.tick(1)

    # --- DPRD members' pokir ---------------------------------------------------------------------------

    async def pokir(self, kelurahan: list[dict]) -> None:
        """Each demo member brings two to four pokir from reses in their own daerah pemilihan; the DPRD
        secretariat returns one of each member's for completion, which the member revises, and forwards
        them all before the deadline (a week before the Musrenbang Kota). Drawn apart from `rng`, so the
        residents' cycle stays the same for a seed."""
        rng = random.Random(self.seed + 2)
        city = await city_service.required(self.store)
        service = PokirService(self.pool, self.store, self.proposals)
        setwan = Actor(username="setwan.dprd", role="setwan")
        async with self.pool.acquire() as conn:
            for username, name, faction, dapil in catalogue.DPRD_MEMBERS:
                password: str | None = secrets.token_urlsafe(12)
                try:
                    await add_user(conn, username, password or "", "dprd", None, None, dapil=dapil, name=name,
                                   faction=faction)  # fmt: skip
                except DomainError:
                    password = None  # the member's account exists already
                self.members.append(Account(username, "dprd", dapil, password))
        for username, _, _, dapil in catalogue.DPRD_MEMBERS:
            member = Actor(username=username, role="dprd", dapil=dapil)
            places = [k for k in kelurahan if city.dapil_of(values.kecamatan_of(k["kode"])) == dapil]
            for n in range(rng.randint(2, 4)):
                place, need = rng.choice(places), rng.choice(catalogue.NEEDS)
                raw = self._content(place["kode"], need, rng)
                reses = Reses(held_on=POKIR_ON - dt.timedelta(days=rng.randint(20, 120)),
                              place=rng.choice(catalogue.RESES_PLACES).format(kelurahan=place["nama"], rw=raw.rw))
                key = f"demo:{self.seed}:pokir:{username}:{n}"
                code, _ = await service.submit(member, YEAR, raw, reses, idempotency_key=key,
                                               fingerprint=fingerprint(key), on=POKIR_ON)  # fmt: skip
                self.need[code] = need
                if n == 0:
                    reason = rng.choice(catalogue.POKIR_RETURN_REASONS)
                    await service.check(setwan, p.ReturnPokir(code=code, reason=reason))
                    fuller = msgspec.structs.replace(raw, address=f"{raw.address}, {place['nama']}")
                    await service.revise(member, code, fuller, reses, on=POKIR_ON)
                await service.check(setwan, p.ForwardPokir(code=code))
                self.summary.pokir += 1
        await self.fresh()
        self.tick(1)

    # --- the city: Forum Perangkat Daerah and Musrenbang Kota ---------------------------------------------

    def _lines(self, items: list[CityItem], agency_of: dict[str, str], kecamatan_agency: Mapping[str, str]
               ) -> list[tuple[Metadata, r.Command]]:  # fmt: skip
        groups: dict[tuple[str, str, str, str], list[CityItem]] = defaultdict(list)
        for item in items:
            need = self.need[item.code]
            groups[(agency_of[item.code], need.key, item.kelurahan[:8], item.source)].append(item)
        out: list[tuple[Metadata, r.Command]] = []
        dana_kelurahan_used: dict[str, int] = defaultdict(int)
        """Per kelurahan, what its Dana Kelurahan lines cost so far: a larger demo (`scale`) has more small
        needs than a kelurahan's Dana Kelurahan pays for, and the rest go to the city's budget."""
        for (agency, _, _, source), members in sorted(groups.items()):
            need = self.need[members[0].code]
            start = 0
            while start < len(members):
                size = self.rng.randint(1, 4)
                chunk, start = members[start : start + size], start + size
                volume = sum((Decimal(i.volume or "1") for i in chunk), Decimal(0))
                pagu = sum(i.cost for i in chunk)
                funding = need.funding_source
                small = pagu < 100_000_000 and self.rng.random() < 0.2
                if (small or funding == "dana_kelurahan") and source != "pokir" and _fits(dana_kelurahan_used, chunk):
                    # Paid by Dana Kelurahan, through the kecamatan (a pokir was not agreed at a Musrenbang
                    # Kelurahan: never).
                    out.extend(self._dana_kelurahan(agency, chunk, kecamatan_agency, need, volume))
                    continue
                funding = "apbd_kota" if funding == "dana_kelurahan" else funding
                line = r.LineInput(
                    agency=agency, origins=tuple(i.code for i in chunk), priority_program=need.priority_program,
                    sub_kegiatan_code=need.sub_kegiatan_code, program=need.program, kegiatan=need.kegiatan,
                    sub_kegiatan=need.sub_kegiatan, funding_source=funding, volume=str(volume), unit=need.unit,
                    pagu=pagu, output_indicator=need.output_indicator, target=str(volume), target_unit=need.unit,
                )  # fmt: skip
                meta = Metadata(actor=f"opd.{agency.lower()}", role="opd")
                out.append((meta, r.SetLine(line=line, priority_programs=6, by_agency=agency)))
        return out

    def _dana_kelurahan(self, agency: str, chunk: list[CityItem], kecamatan_agency: Mapping[str, str],
                        need: catalogue.Need, volume: Decimal) -> list[tuple[Metadata, r.Command]]:  # fmt: skip
        """A small need paid by Dana Kelurahan: the agency passes the proposals to their kecamatan, which
        books the line (the chunk's proposals share a kecamatan: `_lines` groups them so)."""
        kecamatan = kecamatan_agency[values.kecamatan_of(chunk[0].kelurahan)]
        dk = catalogue.DANA_KELURAHAN
        out: list[tuple[Metadata, r.Command]] = [
            (Metadata(actor=f"opd.{agency.lower()}", role="opd"),
             r.PassProposal(code=i.code, to_agency=kecamatan, reason=dk["pass_reason"], by_agency=agency))
            for i in chunk
        ]  # fmt: skip
        line = r.LineInput(
            agency=kecamatan, origins=tuple(i.code for i in chunk), priority_program=need.priority_program,
            sub_kegiatan_code=dk["sub_kegiatan_code"], program=dk["program"], kegiatan=dk["kegiatan"],
            sub_kegiatan=f"{dk['sub_kegiatan']}: {need.sub_kegiatan}", funding_source="dana_kelurahan",
            volume=str(volume), unit=need.unit, pagu=sum(i.cost for i in chunk),
            output_indicator=dk["output_indicator"], target=str(volume), target_unit=need.unit,
        )  # fmt: skip
        meta = Metadata(actor=f"opd.{kecamatan.lower()}", role="opd")
        return [*out, (meta, r.SetLine(line=line, priority_programs=6, by_agency=kecamatan))]

    def _renja(self, kept: list[CityItem]) -> list[tuple[Metadata, r.Command]]:
        """A few lines the agencies plan themselves (Renja), each with its reason, in the first kelurahan
        the residents' lines reach (or city-wide)."""
        needs = {n.key: n for n in catalogue.NEEDS}
        places = sorted({i.kelurahan for i in kept})
        out: list[tuple[Metadata, r.Command]] = []
        for n, (key, reason, volume, pagu, count) in enumerate(catalogue.RENJA):
            need = needs[key]
            line = r.LineInput(
                agency=need.agency, origins=(), renja_reason=reason, locations=tuple(places[n::7][:count]),
                priority_program=need.priority_program, sub_kegiatan_code=need.sub_kegiatan_code,
                program=need.program, kegiatan=need.kegiatan, sub_kegiatan=need.sub_kegiatan,
                funding_source="apbd_kota", volume=str(volume), unit=need.unit, pagu=pagu,
                output_indicator=need.output_indicator, target=str(volume), target_unit=need.unit,
            )  # fmt: skip
            meta = Metadata(actor=f"opd.{need.agency.lower()}", role="opd")
            out.append((meta, r.SetLine(line=line, priority_programs=6, by_agency=need.agency)))
        return out

    async def _city(self, commands: list[tuple[Metadata, r.Command]]) -> None:
        if not self.batched:
            for meta, command in commands:
                await self.rkpd.execute(YEAR, command, meta, on=CITY_FORUM_ON)
            return
        agencies = (await city_service.required(self.store)).agencies_by_code
        dana_kelurahan = (await cycles.load_cycle(self.store, YEAR)).dana_kelurahan  # as RkpdService decides
        state, head = r.Rkpd(), NEW_STREAM
        for e in await self.store.read_stream(r.stream_id(YEAR)):
            state, head = r.evolve(state, e.event), StreamHead(e.stream_version, e.hash)
        start = 0
        while start < len(commands):
            meta = commands[start][0]
            events: list[Event] = []
            while start < len(commands) and commands[start][0] == meta and len(events) < BATCH:
                for event in r.decide(state, commands[start][1], agencies=agencies, dana_kelurahan=dana_kelurahan):
                    state = r.evolve(state, event)
                    events.append(event)
                start += 1
            result = await self.store.append(Append(r.stream_id(YEAR), head, events), metadata=meta)
            head = result.heads[r.stream_id(YEAR)]

    async def city(self) -> None:
        await self.rkpd.receive(YEAR, ADMIN, on=CITY_FORUM_ON)
        items = await self.rkpd.forwarded(YEAR)
        self.summary.received = len(items)
        self.tick(1)
        agency_of: dict[str, str] = {}
        commands: list[tuple[Metadata, r.Command]] = []
        for item in items:
            need = self.need[item.code]
            agency_of[item.code] = need.agency
            if need.agency != item.agency:
                meta = Metadata(actor=f"opd.{item.agency.lower()}", role="opd")
                commands.append((meta, r.PassProposal(code=item.code, to_agency=need.agency, reason=need.pass_reason,
                                                      by_agency=item.agency)))  # fmt: skip
                self.summary.passed += 1
        kept = []
        for item in items:
            if self.rng.random() < 0.08:
                agency = agency_of[item.code]
                commands.append((Metadata(actor=f"opd.{agency.lower()}", role="opd"), r.DeclineProposal(
                    code=item.code, reason=self.rng.choice(catalogue.DECLINE_REASONS), by_agency=agency)))  # fmt: skip
                self.summary.declined += 1
            else:
                kept.append(item)
        await self._city(commands)
        self.tick(1)
        kecamatan_agency = {a.kecamatan: a.code for a in (await city_service.required(self.store)).agencies
                            if a.kecamatan}  # fmt: skip
        lines = self._lines(kept, agency_of, kecamatan_agency) + self._renja(kept)
        self.summary.lines = sum(1 for _, c in lines if isinstance(c, r.SetLine))
        await self._city(lines)
        self.tick(1)
        # The Forum Perangkat Daerah closes with its Berita Acara; closing the Musrenbang Kota adopts the RKPD.
        await self._city_forum(cf.FORUM_PD, FORUM_PD_ON, "Kepala Bappelitbangda Kota Bekasi",
                               "Forum Perangkat Daerah RKPD 2022: daftar prioritas per perangkat daerah disepakati")
        await self._city_forum(cf.MUSRENBANG_KOTA, ADOPTED_ON, "Wali Kota Bekasi",
                               "Musrenbang RKPD Kota Bekasi Tahun 2022; hasil Forum Perangkat Daerah disepakati")
        await self.rkpd.execute(YEAR, r.Enact(year=YEAR, regulation=REGULATION, enacted_on=ENACTED_ON,
                                              today=cycles.today()), ADMIN)  # fmt: skip
        self.summary.sample_code = kept[0].code if kept else ""
        self.tick(1)
        await self.fresh()
        self.tick(1)


    async def _city_forum(self, forum: str, held_on: dt.date, chair: str, minutes: str) -> None:
        """Schedule a city forum with the city's agencies, the delegates the kecamatan forums mandated and
        the DPRD members who brought pokir, then close it (held in 2021: the close's day check passes today)."""
        async with self.pool.acquire() as conn:
            suggested = await rkpd_views.suggested_participants(conn, YEAR)
        people = tuple(cf.ParticipantInput(name=p.name, kind=p.kind, represents=p.represents) for p in suggested)
        schedule = cf.ScheduleCityForum(year=YEAR, forum=forum, held_on=held_on, chair=chair,
                                        place="Aula Bappelitbangda Kota Bekasi", participants=people + DPRD_MEMBERS,
                                        agenda=cf.DEFAULT_AGENDA, starts_at=dt.time(9, 0))  # fmt: skip
        await self.rkpd.execute(YEAR, schedule, ADMIN, on=held_on)
        # The list puts some kecamatan over their pagu indikatif: the Musrenbang Kota agrees to it knowingly.
        close = cf.CloseCityForum(year=YEAR, forum=forum, minutes=minutes, today=cycles.today(), confirm_over_pagu=True)
        await self.rkpd.execute(YEAR, close, ADMIN, on=held_on)

    # --- after adoption: the budget, the contracts, the work ---------------------------------------------

    async def realisation(self) -> None:
        """Carry the adopted 2022 lines through 2021-2022 as agencies record them: most budgeted in the APBD
        (some for less, with the reason), many contracted and under way with photos of the work, a good
        part finished and handed over, a few dropped; so that a newcomer can follow a resident's proposal
        to a finished road."""
        service = RealisationService(self.pool, self.store)
        lines = sorted((await service.adopted_lines(YEAR)).values(), key=lambda x: x.line_id)
        for n, line in enumerate(lines):
            photos: list[tuple[str, ProcessedPhoto]] = []
            commands = self._milestones(line, n, photos)
            await keep_photos(self.pool, YEAR, line.line_id, photos)
            meta = Metadata(actor=f"opd.{line.agency.lower()}", role="opd")
            await service.record_many(commands, meta, idempotency_key=f"demo:{self.seed}:realisasi:{line.line_id}")
            if commands[-1].stage == "selesai":
                self.summary.finished += 1
                if photos and line.origins and not self.summary.finished_code:
                    self.summary.finished_code = line.origins[0]
        await self.fresh()
        self.tick(1)

    def _milestones(self, line: RkpdLine, n: int, photos: list[tuple[str, ProcessedPhoto]]) -> list[RecordMilestone]:
        rng = self.news
        fate = rng.random()
        at = functools.partial(RecordMilestone, year=YEAR, line_id=line.line_id)
        out = [at(stage="kua_ppas", on=dt.date(2021, 7, 26), amount=line.pagu)]
        if fate < 0.04:
            return [*out, at(stage="batal", on=dt.date(2021, 9, 20),
                                          note=rng.choice(catalogue.DROP_REASONS))]  # fmt: skip
        budgeted, note = line.pagu, ""
        if rng.random() < 0.25:
            budgeted, note = line.pagu * rng.choice((85, 90, 95)) // 100, rng.choice(catalogue.APBD_REASONS)
        out += [at(stage="apbd", on=dt.date(2021, 11, 30), amount=budgeted, note=note),
                at(stage="dpa", on=dt.date(2022, 1, 12), amount=budgeted)]  # fmt: skip
        if fate < 0.15:
            return out  # budgeted, not contracted yet
        signed = dt.date(2022, 3, 1) + dt.timedelta(days=rng.randint(0, 80))
        contract = budgeted * rng.randint(88, 98) // 100
        out.append(at(stage="kontrak", on=signed, amount=contract,
                                   contractor=rng.choice(catalogue.CONTRACTORS),
                                   ends=signed + dt.timedelta(days=120)))  # fmt: skip
        with_photos = n % 3 == 0
        for k, progress in enumerate((35, 70)):
            out.append(at(stage="pelaksanaan", on=signed + dt.timedelta(days=40 * (k + 1)),
                                       progress=progress, amount=contract * progress // 100,
                                       note=rng.choice(catalogue.PROGRESS_NOTES),
                                       photos=(_photo(line, progress, photos),) if with_photos else ()))  # fmt: skip
            if fate < 0.45 and k == 0:
                return out  # under way at the end of the demo's story
        if fate < 0.6:
            return out
        return [*out, at(stage="selesai", on=signed + dt.timedelta(days=118), amount=contract,
                                      note=rng.choice(catalogue.FINISH_NOTES),
                                      photos=(_photo(line, 100, photos),) if with_photos else ())]  # fmt: skip

    # --- the next year ----------------------------------------------------------------------------

    async def next_year(self) -> None:
        """Open RKPD 2023 with every stage still ahead and submissions open today, and propose again, as
        the kelurahan facilitators would, some of the needs 2022 did not accommodate."""
        today = cycles.today()
        windows, start = [], today - dt.timedelta(days=7)
        for stage, weeks in zip(cy.STAGES, (6, 4, 4, 4, 3, 8), strict=True):
            closes = start + dt.timedelta(weeks=weeks)
            windows.append(StageWindow(stage=stage, opens=start, closes=closes))
            start = closes + dt.timedelta(days=1) if stage != "usulan" else start + dt.timedelta(weeks=2)
        command = msgspec.structs.replace(RKPD_2022, year=NEXT_YEAR, kickoff_on=today, calendar=tuple(windows),
                                          theme="Pemulihan ekonomi dan pelayanan dasar yang merata")  # fmt: skip
        await cycles.open_cycle(self.store, command, ADMIN, idempotency_key=f"demo:{self.seed}:cycle:{NEXT_YEAR}")
        await self.fresh()
        rows = await self.pool.fetch(
            "SELECT code, kelurahan, kecamatan FROM proposals WHERE year = $1 AND status = ANY($2::text[])"
            " AND source <> 'pokir' ORDER BY code",  # a pokir is brought again by its member, not carried
            YEAR, [p.TIDAK_TERAKOMODASI, p.DITERUSKAN, p.DITERIMA, p.DITERIMA_DENGAN_PERUBAHAN],
        )  # fmt: skip
        for row in self.rng.sample(list(rows), min(CARRIED, len(rows))):
            earlier = await self.pool.fetchrow(f"SELECT {', '.join(p.ProposalInput.__struct_fields__)}"
                                               " FROM proposals WHERE code = $1", row["code"])  # fmt: skip
            given: dict[str, Any] = {k: v if isinstance(v, int | str) else str(v)
                                     for k, v in dict(earlier).items() if v is not None and k != "priority_program"}
            raw = p.ProposalInput(**given)
            content = await self.proposals.validate(raw, year=NEXT_YEAR)
            name, _ = self._person()
            proposer = p.validate_proposer(name, self._phone())
            key = f"demo:{self.seed}:carry:{row['code']}"
            meta = Metadata(actor=f"fasilitator.{row['kecamatan'].replace('.', '')}", role="facilitator")
            done = await self.proposals.submit(content, proposer, idempotency_key=key, year=NEXT_YEAR,
                                               request_fingerprint=fingerprint(key), carried_from=row["code"],
                                               metadata=meta)  # fmt: skip
            self.summary.carried += 1
            self.summary.carried_code = self.summary.carried_code or done.code
        await self.fresh()
        self.tick(1)


def _photo(line: RkpdLine, progress: int, photos: list[tuple[str, ProcessedPhoto]]) -> MilestonePhoto:
    """A drawn picture of the work (the demo has no real photos), kept as an uploaded one would be."""
    photo = process(demo_photo(line.line_id, progress))
    photo_id = photo_id_of(YEAR, line.line_id, photo)
    photos.append((photo_id, photo))
    return photo_ref(photo_id, photo)


def demo_photo(label: str, progress: int) -> bytes:
    """A 640 × 400 picture of a road or channel being built: the finished part dark, the rest earth, and
    the line's id and progress written on it (PNG bytes)."""
    image = Image.new("RGB", (640, 400), (150, 190, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 220, 640, 400), fill=(110, 150, 80))
    draw.polygon([(260, 220), (380, 220), (600, 400), (40, 400)], fill=(150, 110, 70))
    done = 400 - int(180 * progress / 100)
    left, right = 260 - (400 - done) * 220 // 180 + 220, 380 + (400 - done) * 220 // 180 - 220
    draw.polygon([(left, done), (right, done), (600, 400), (40, 400)], fill=(70, 70, 75))
    draw.rectangle((16, 16, 330, 64), fill=(255, 255, 255))
    draw.text((28, 30), f"{label} · {progress}%", fill=(20, 20, 20))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def has_proposals(pool: asyncpg.Pool) -> bool:
    return await pool.fetchval("SELECT EXISTS (SELECT 1 FROM events WHERE event_type = 'proposal.submitted')")


async def interrupted(pool: asyncpg.Pool) -> bool:
    """Whether the log holds a demo that stopped before its end (Ctrl-C, a closed terminal): it opened its
    RKPD 2022 cycle, and its last step, the staff accounts, was never reached. Such a log cannot be played
    on (its commands were not all keyed to be repeated) nor signed in to."""
    return await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM events WHERE stream_id = $1 AND metadata->>'idempotency_key' LIKE 'demo:%')"
        " AND NOT EXISTS (SELECT 1 FROM users WHERE username = $2)",
        f"cycle-{YEAR}", ACCOUNTS[0][0],
    )  # fmt: skip


async def play(pool: asyncpg.Pool, store: EventStore, secret: bytes, *, seed: int = 2022, scale: int = 1,
               on_progress: Callable[[int], None] | None = None, next_year: bool = True) -> Summary:  # fmt: skip
    """Open RKPD 2022 and play its whole cycle on a prepared database (migrated, Kota Bekasi set up, its
    regions loaded) whose log holds no proposals yet; open RKPD 2023 with needs carried over (unless
    `next_year` is False: the benchmarks time one cycle); then add the demo staff accounts."""
    demo = _Demo(pool, store, secret, seed, scale, on_progress)
    await cycles.open_cycle(store, RKPD_2022, ADMIN, idempotency_key=f"demo:{seed}:cycle:{YEAR}")
    async with pool.acquire() as conn:
        tree = await kecamatan_with_kelurahan(conn)
    groups = {kc["kode"]: [{**kl, "kecamatan_nama": kc["nama"]} for kl in kc["kelurahan"]] for kc in tree}
    kelurahan = [k for members in groups.values() for k in members]
    await demo.fresh()  # the open cycle, which validation reads
    await demo.residents(kelurahan)
    await demo.kelurahan_forums(kelurahan)
    await demo.kecamatan_forums(groups)
    await demo.pokir(kelurahan)
    await demo.city()
    await demo.realisation()
    if next_year:
        await demo.next_year()
    demo.summary.events = await pool.fetchval("SELECT count(*) FROM events")
    demo.summary.unsent = await settle_messages(pool)  # before the accounts, which mark the demo whole
    demo.summary.accounts = [*await add_accounts(pool), *demo.members]
    return demo.summary


# The demo's residents who asked for news: proposers' own subscriptions (and their copies on the proposals
# theirs were merged into: same owner) of proposals the demo submitted (its idempotency keys), at example.org.
_DEMO_RESIDENTS = """
SELECT s.id FROM subscriptions s
JOIN proposer_contacts c ON c.ref = s.owner
WHERE s.kind = 'proposer' AND s.channel = 'email' AND s.address LIKE '%@example.org'
  AND EXISTS (SELECT 1 FROM events e WHERE e.stream_id = 'proposal-' || c.proposal_code
              AND e.event_type = 'proposal.submitted' AND e.metadata->>'idempotency_key' LIKE 'demo:%')
"""


async def settle_messages(pool: asyncpg.Pool) -> int:
    """Settle the messages to the demo's made-up residents as not to be sent, and stop their subscriptions
    so that nothing more is queued for them (a milestone staff record on a demo line, say); returns how many
    were settled. They were queued as for any resident, in the transactions of the events that caused them
    (eventlog/outbox.py), and stay in the outbox, cancelled with the reason UNSENT: cancelled, as a stopped
    subscription's are, so that they hold nothing back, count as nothing sent and are not queued again by
    `outbox retry` (which takes failed ones). Messages to anyone else (a visitor following a proposal by
    e-mail) are untouched. One transaction; nothing when there is nothing to settle."""
    async with pool.acquire() as conn, conn.transaction():
        residents = [r["id"] for r in await conn.fetch(_DEMO_RESIDENTS)]
        await conn.execute("UPDATE subscriptions SET stopped_at = coalesce(stopped_at, now())"
                           " WHERE id = ANY($1::uuid[])", residents)  # fmt: skip
        settled = await conn.execute("UPDATE outbox SET status = 'cancelled', last_error = $2"
                                     " WHERE status = 'pending' AND subscription = ANY($1::uuid[])",
                                     residents, UNSENT)  # fmt: skip
    return int(settled.split()[-1])


async def add_accounts(pool: asyncpg.Pool) -> list[Account]:
    """The demo's staff accounts, each with a new random password (kept when the account exists)."""
    out = []
    async with pool.acquire() as conn:
        for username, role, region, opd in ACCOUNTS:
            new_password = secrets.token_urlsafe(12)
            password: str | None = new_password
            try:
                await add_user(conn, username, new_password, role, region, opd)
            except DomainError:
                password = None  # already there
            out.append(Account(username, role, region or opd or "-", password))
    return out
