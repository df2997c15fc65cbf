"""Pabulib `.pb` files (participatory-budgeting elections) in and out of forums.

A file has three `;`-separated sections: META (key;value), PROJECTS (a header, one row per project)
and VOTES (a header, one row per voter). Importing maps them onto the same commands a real forum
uses: budget -> ceiling, `rule` and META parameters -> the decision rule, projects -> agenda items,
voters -> delegates, votes -> ballots. The file is read as a stream, so large elections do not have to
fit in memory twice.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Generator, Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import IO, NamedTuple

import msgspec

from musrenbang.domain import forum as forum_rules
from musrenbang.domain.events import AgendaItem, BallotCast, ForumResult, ForumScheduled, ScoresGiven

RULE_PARAMS = forum_rules.RULE_PARAMS
SUPPORTED = {
    "greedy": ("approval", "cumulative", "choose-1", "ordinal"),
    "greedy-no-skip": ("approval", "cumulative", "choose-1", "ordinal"),
    "greedy-threshold": ("approval", "cumulative", "choose-1", "ordinal"),
    "equalshares/add1": ("approval", "choose-1"),
    "equalshares": ("approval", "choose-1"),
}
GENDER = {"F": "P", "M": "L"}


class Unsupported(Exception):
    """The file asks for a rule or ballot kind this platform does not implement (never guessed)."""


class BadFile(Exception):
    """The file is not a readable Pabulib file."""


class Election(NamedTuple):
    meta: dict[str, str]
    projects: list[dict[str, str]]
    votes: Generator[dict[str, str], None, None]
    """Read lazily: consume once, or close."""


def read(path: Path) -> Election:
    handle = path.open(encoding="utf-8-sig", newline="")
    rows = csv.reader(handle, delimiter=";")
    meta: dict[str, str] = {}
    projects: list[dict[str, str]] = []
    section, header = None, None
    for row in rows:
        if not row:
            continue
        if len(row) == 1 and row[0].strip() in ("META", "PROJECTS", "VOTES"):
            section, header = row[0].strip(), None
            if section == "VOTES":
                return Election(meta, projects, _votes(rows, handle))
            continue
        if header is None:
            header = [h.strip() for h in row]
            continue
        if section == "META":
            meta[row[0].strip()] = row[1].strip() if len(row) > 1 else ""
        elif section == "PROJECTS":
            projects.append(dict(zip(header, row, strict=False)))
        else:
            raise BadFile("content before the META section")
    handle.close()
    raise BadFile("no VOTES section")


def _votes(rows: Iterator[list[str]], handle: IO[str]) -> Generator[dict[str, str], None, None]:
    try:
        header = None
        for row in rows:
            if not row:
                continue
            if header is None:
                header = [h.strip() for h in row]
                continue
            yield dict(zip(header, row, strict=False))
    finally:
        handle.close()


def schedule(meta: Mapping[str, str], forum_id: str, name: str) -> forum_rules.ScheduleForum:
    rule, kind = meta.get("rule", ""), meta.get("vote_type", "")
    if rule not in SUPPORTED:
        raise Unsupported(f"rule {rule!r} is not supported (supported: {', '.join(SUPPORTED)})")
    if kind not in SUPPORTED[rule]:
        raise Unsupported(f"vote_type {kind!r} with rule {rule!r} is not supported")
    if kind == "ordinal" and "max_length" not in meta:
        raise Unsupported("ordinal ballots without max_length: the scoring is not known")
    params = {k: _int(meta[k], k) for k in RULE_PARAMS if meta.get(k)}
    return forum_rules.ScheduleForum(
        forum_id=forum_id,
        level="kota",
        region=meta.get("district") or meta.get("unit") or "",
        year=_year(meta.get("instance", "")),
        title=meta.get("description") or name,
        held_on=None,
        place=meta.get("unit", ""),
        chair="",
        ceiling=_int(meta.get("budget", ""), "budget"),
        rule=rule,
        ballot_kind=kind,
        rule_params=params,
        criteria=(),
        origin="pabulib",
    )


def _year(instance: str) -> int:
    """The election's year, from its `instance` ("2024", "2024-2025"); 0 when it gives none (the forum's
    scheduling then refuses with a message)."""
    return int(instance[:4]) if re.fullmatch(r"[0-9]{4}", instance[:4]) else 0


def agenda(projects: Sequence[Mapping[str, str]]) -> tuple[AgendaItem, ...]:
    return tuple(
        AgendaItem(item_id=p["project_id"], title=p.get("name") or p["project_id"], cost=_int(p["cost"], "cost"))
        for p in projects
    )


def delegate(vote: Mapping[str, str]) -> forum_rules.RegisterDelegate:
    return forum_rules.RegisterDelegate(
        delegate_id=vote["voter_id"],
        name=vote["voter_id"],
        role="pemilih",
        represents=vote.get("neighborhood", "") or "",
        gender=GENDER.get(vote.get("sex", ""), ""),
    )


def ballot(vote: Mapping[str, str], kind: str) -> forum_rules.CastBallot:
    chosen = tuple(x for x in vote.get("vote", "").split(",") if x)
    if kind == "cumulative":
        points = [_int(x, "points") for x in vote.get("points", "").split(",") if x]
        if len(points) != len(chosen):
            raise BadFile(f"voter {vote['voter_id']}: {len(chosen)} projects but {len(points)} point values")
        totals: dict[str, int] = {}
        for item, p in zip(chosen, points, strict=True):
            totals[item] = totals.get(item, 0) + p
        return forum_rules.CastBallot(delegate_id=vote["voter_id"], points=totals)
    if kind == "ordinal":
        return forum_rules.CastBallot(delegate_id=vote["voter_id"], ranking=chosen)
    return forum_rules.CastBallot(delegate_id=vote["voter_id"], approvals=chosen)


def differences(
    projects: Sequence[Mapping[str, str]], schedule: ForumScheduled, ballots: Sequence[BallotCast], result: ForumResult
) -> list[str]:
    """Every way the platform's computation differs from the file's own columns."""
    out: list[str] = []
    votes = forum_rules.ballot_scores(msgspec.structs.replace(schedule, ballot_kind="approval"), _as_approvals(ballots))
    points = forum_rules.ballot_scores(schedule, ballots) if schedule.ballot_kind in ("cumulative", "ordinal") else None
    selected = {r.item_id for r in result.ranking if r.selected}
    for p in projects:
        pid = p["project_id"]
        if p.get("votes", "") != "" and _int(p["votes"], "votes") != votes.get(pid, 0):
            out.append(f"project {pid}: votes in file {p['votes']}, computed {votes.get(pid, 0)}")
        if points is not None and p.get("score", "") != "" and Fraction(p["score"]) != points.get(pid, 0):
            out.append(f"project {pid}: score in file {p['score']}, computed {points.get(pid, 0)}")
        if p.get("selected", "") != "" and (p["selected"].strip() == "1") != (pid in selected):
            out.append(f"project {pid}: selected in file {p['selected']}, computed {int(pid in selected)}")
    return out


def _as_approvals(ballots: Sequence[BallotCast]) -> list[BallotCast]:
    """Every ballot as the set of projects it names (the file's `votes` column counts voters)."""
    return [
        BallotCast(forum_id=b.forum_id, delegate_id=b.delegate_id, approvals=(*b.approvals, *b.points, *b.ranking))
        for b in ballots
    ]


def export(
    schedule: ForumScheduled,
    agenda_items: Sequence[AgendaItem],
    costs: Mapping[str, int],
    ballots: Sequence[BallotCast],
    sheets: Sequence[ScoresGiven],
    result: ForumResult,
) -> str:
    """A closed forum as a Pabulib file. A criteria-scored forum becomes `vote_type;scoring`: each
    sheet is a voter whose points are Σ weight × mark per item."""
    ballots = forum_rules.latest(ballots)
    ranked = {r.item_id: r for r in result.ranking}
    kind = schedule.ballot_kind or "scoring"
    approvals = forum_rules.ballot_scores(
        msgspec.structs.replace(schedule, ballot_kind="approval"), _as_approvals(ballots)
    )
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\n")
    w.writerow(["META"])
    w.writerow(["key", "value"])
    meta = {
        "description": schedule.title,
        "country": "Indonesia" if schedule.origin == "musrenbang" else "",
        "unit": schedule.place or schedule.region,
        "instance": str(schedule.year),
        "num_projects": str(len(agenda_items)),
        "num_votes": str(len(ballots)),
        "budget": str(schedule.ceiling),
        "vote_type": kind,
        "rule": "greedy" if schedule.rule == "weighted-criteria" else schedule.rule,
        **{k: str(v) for k, v in schedule.rule_params.items()},
    }
    for key, value in meta.items():
        if value != "":
            w.writerow([key, value])
    w.writerow(["PROJECTS"])
    w.writerow(["project_id", "cost", "votes", "score", "name", "selected"])
    for a in agenda_items:
        r = ranked[a.item_id]
        w.writerow([a.item_id, costs[a.item_id], approvals.get(a.item_id, 0), r.score, a.title, int(r.selected)])
    w.writerow(["VOTES"])
    if kind == "cumulative":
        w.writerow(["voter_id", "vote", "points"])
        for b in ballots:
            w.writerow([b.delegate_id, ",".join(b.points), ",".join(str(p) for p in b.points.values())])
    elif kind == "scoring":
        weights = {c.key: c.weight for c in schedule.criteria}
        w.writerow(["voter_id", "vote", "points"])
        for sheet in {x.sheet: x for x in sheets}.values():
            totals = {item: sum(weights[c] * m for c, m in marks.items()) for item, marks in sheet.marks.items()}
            w.writerow([sheet.sheet, ",".join(totals), ",".join(str(v) for v in totals.values())])
    elif kind == "ordinal":
        w.writerow(["voter_id", "vote"])
        for b in ballots:
            w.writerow([b.delegate_id, ",".join(b.ranking)])
    else:
        w.writerow(["voter_id", "vote"])
        for b in ballots:
            w.writerow([b.delegate_id, ",".join(b.approvals)])
    return out.getvalue()


def _int(text: str, what: str) -> int:
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise BadFile(f"{what}: {text!r} is not a number") from None
    if value.denominator != 1:
        raise BadFile(f"{what}: {text!r} is not a whole number")
    return int(value)
