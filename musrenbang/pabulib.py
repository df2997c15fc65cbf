"""Pabulib `.pb` files (participatory-budgeting elections) in and out of forums.

A file has three `;`-separated sections: META (key;value), PROJECTS (a header, one row per project)
and VOTES (a header, one row per voter). Importing maps them onto the same commands a real forum
uses: budget -> ceiling, `rule` and META parameters -> the decision rule, projects -> agenda items,
voters -> delegates, votes -> ballots. The file is opened once and read once, as a stream (a pipe will
do): the rehearsal's delegates and ballots are what an import writes.

Real files are read as they are, and each irregularity is either counted as the official count did or
refused with one `BadFile` message (the CLI's `error:` line) before anything is written:

- every cell is trimmed ("1; 600" reads as "600", as in the format page's own example);
- amounts with decimals ("1500000.50", which the format allows for budget and cost): the platform's
  money is whole numbers, so the election is stored in its smallest unit (`money_scale`, 10 to the
  number of decimals the file uses, e.g. cents): exact, where rounding to whole units could make a
  project fit that did not, or the reverse. A decimal comma ("1500,50") is refused: it is ambiguous;
- a project listed twice in one approval or choose-1 vote is one approval (the official `votes` column
  counts voters, and the format's checker flags the repeat without counting it twice); twice in an
  ordinal vote is refused (its position, hence its points, is unknown); in a cumulative vote the
  points are added up;
- an empty vote is a voter who approved nothing: counted as a voter (for Equal Shares it still takes a
  share of the budget, as in the format's tools), supporting nothing;
- a vote naming a project that is not in PROJECTS, a project or voter id listed twice, a META key
  given twice (`budget;100` then `budget;10`: which one counted is not known), a vote longer than
  max_length, a choose-1 vote with more than one project: refused;
- min_length and max_sum_cost are recorded, not enforced: the file's votes are the ones that counted;
- `selected` 2 or 3 (the format's marks for a project funded outside the rule, e.g. with extra money,
  explained in the comment) is "not selected by the rule", as the format's checker reads it;
- `comment`, `currency` and the other descriptive META fields are not part of the count.

A value from the file quoted in a message is shortened to SHORT characters (`short`): one line, whatever
the file holds.

Rules: every rule string the format documents whose outcome is a deterministic function of the file
(greedy, greedy-no-skip, greedy-threshold, greedy-exclusive, equalshares, equalshares/add1 and their
-comparison variants). `unknown` and `greedy-custom` are not: the first does not say, the second is a
city's own variant described only in prose; both are `Unsupported`. greedy-exclusive's conflicts are
also described only in prose (the comment), so the importer is told them (`exclusive`); without them
no project conflicts and `--check` shows whatever the conflicts changed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Generator, Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import IO, NamedTuple

import msgspec

from musrenbang.domain import forum as forum_rules
from musrenbang.domain.errors import DomainError, ValidationFailed
from musrenbang.domain.events import AgendaItem, BallotCast, Event, ForumResult, ForumScheduled, ScoresGiven

RULE_PARAMS = forum_rules.RULE_PARAMS
_ANY = ("approval", "cumulative", "choose-1", "ordinal")
SUPPORTED = {
    "greedy": _ANY,
    "greedy-no-skip": _ANY,
    "greedy-threshold": _ANY,
    "greedy-exclusive": _ANY,
    "equalshares/add1": ("approval", "choose-1"),
    "equalshares": ("approval", "choose-1"),
    "equalshares/add1-comparison": ("approval", "choose-1"),
    "equalshares-comparison": ("approval", "choose-1"),
}
NOT_RECOMPUTABLE = {
    "unknown": "the file does not say which rule selected the projects",
    "greedy-custom": "it is a city's own greedy variant, described only in the file's comment",
}
GENDER = {"F": "P", "M": "L"}
MAX_DECIMALS = 6
SHORT = 60
"""The most characters of a value from the file that a message quotes."""
COMPARED = {"votes": "votes", "score": "scores", "selected": "selection"}
"""The PROJECTS columns `--check` compares with the computation, and what each is called in its report."""
_NUMBER = re.compile(r"-?[0-9]+(?:\.([0-9]+))?")


class Unsupported(Exception):
    """The file asks for a rule or ballot kind this platform does not implement (never guessed)."""


class BadFile(Exception):
    """The file is not a readable Pabulib file."""


class Election(NamedTuple):
    meta: dict[str, str]
    projects: list[dict[str, str]]
    votes: Generator[dict[str, str], None, None]
    """Read lazily: consume once, or close."""


def short(value: object, limit: int = SHORT) -> str:
    """`value` as a message quotes it: on one line (line breaks and other control characters escaped) and
    at most `limit` characters (cut with an ellipsis)."""
    text = str(value)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quoted(value: str) -> str:
    """`value` as repr() quotes it, shortened (`short`)."""
    return repr(short(value))


def _unreadable(exc: OSError) -> BadFile:
    if isinstance(exc, IsADirectoryError):
        return BadFile("cannot be read: it is a directory")
    return BadFile(f"cannot be read: {exc.strerror or exc}")


def read(path: Path) -> Election:
    """META and PROJECTS at once, VOTES lazily; the file is opened once and read once, from start to end (a
    pipe can be read). Cells are trimmed; blank lines are skipped."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise _unreadable(exc) from None
    try:
        rows = (
            [cell.strip() for cell in row] for row in csv.reader(handle, delimiter=";") if any(c.strip() for c in row)
        )
        meta: dict[str, str] = {}
        projects: list[dict[str, str]] = []
        section, header = None, None
        for row in rows:
            if len(row) == 1 and row[0] in ("META", "PROJECTS", "VOTES"):
                section, header = row[0], None
                if section == "VOTES":
                    _check_projects(projects)
                    return Election(meta, projects, _votes(rows, handle))
                continue
            if section is None:
                raise BadFile("content before the META section")
            if header is None:
                header = row
                if section == "PROJECTS":
                    _require(header, ("project_id", "cost"), "PROJECTS")
                continue
            if section == "META":
                if row[0] in meta:
                    raise BadFile(f"META lists {short(row[0])} twice: which value counted is not known")
                meta[row[0]] = row[1] if len(row) > 1 else ""
            else:
                projects.append(dict(zip(header, row, strict=False)))
        raise BadFile("no VOTES section")
    except UnicodeDecodeError as exc:
        handle.close()
        raise BadFile(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        handle.close()
        raise _unreadable(exc) from None
    except BaseException:
        handle.close()
        raise


def _require(header: Sequence[str], columns: Sequence[str], section: str) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise BadFile(f"{section} has no {', '.join(missing)} column")


def _check_projects(projects: Sequence[Mapping[str, str]]) -> None:
    seen: set[str] = set()
    for p in projects:
        pid = p.get("project_id", "")
        if not pid:
            raise BadFile("a project in PROJECTS has no project_id")
        if pid in seen:
            raise BadFile(f"project {short(pid)} is listed twice in PROJECTS")
        if p.get("selected", "") not in ("", "0", "1", "2", "3"):
            raise BadFile(f"project {short(pid)}: selected {_quoted(p['selected'])} is not 0, 1, 2 or 3")
        seen.add(pid)


def _votes(rows: Iterator[list[str]], handle: IO[str]) -> Generator[dict[str, str], None, None]:
    try:
        header = None
        for row in rows:
            if header is None:
                header = row
                _require(header, ("voter_id", "vote"), "VOTES")
                continue
            yield dict(zip(header, row, strict=False))
    except UnicodeDecodeError as exc:
        raise BadFile(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise _unreadable(exc) from None
    finally:
        handle.close()


def money_scale(meta: Mapping[str, str], projects: Sequence[Mapping[str, str]]) -> int:
    """10 to the most decimals any amount in the file has (1 when all are whole): the unit in which every
    amount of the election is an exact integer."""
    costs = ((f"project {short(p['project_id'])}: cost", p.get("cost", "")) for p in projects)
    amounts = [("budget", meta.get("budget", "")), *costs]
    if meta.get("max_sum_cost"):
        amounts.append(("max_sum_cost", meta["max_sum_cost"]))
    return 10 ** max(_decimals(text, what) for what, text in amounts)


def _decimals(text: str, what: str) -> int:
    match = _NUMBER.fullmatch(text)
    if match is None:
        if re.fullmatch(r"-?[0-9]+,[0-9]+", text):
            raise BadFile(f"{what}: {_quoted(text)} has a decimal comma; write it with a point"
                          f" ({short(text.replace(',', '.'))})")  # fmt: skip
        raise BadFile(f"{what}: {_quoted(text)} is not a number")
    places = len((match.group(1) or "").rstrip("0"))  # "1500000.00" is whole
    if places > MAX_DECIMALS:
        raise BadFile(f"{what}: {_quoted(text)} has more than {MAX_DECIMALS} decimals")
    return places


def _money(text: str, what: str, scale: int) -> int:
    """An amount in the election's unit (`money_scale`): exact, since the scale covers its decimals."""
    _decimals(text, what)
    value = Fraction(text) * scale
    if value.denominator != 1:  # a scale not taken from this amount's own file
        raise BadFile(f"{what}: {_quoted(text)} has more decimals than the election's unit")
    return int(value)


def schedule(
    meta: Mapping[str, str],
    forum_id: str,
    name: str,
    scale: int = 1,
    exclusive: Sequence[Sequence[str]] = (),
) -> forum_rules.ScheduleForum:
    """The forum's schedule from META; amounts in `scale` (see money_scale); `exclusive`: greedy-exclusive's
    groups of projects that rule each other out."""
    rule, kind = meta.get("rule", ""), meta.get("vote_type", "")
    if rule in NOT_RECOMPUTABLE:
        raise Unsupported(f"rule {rule!r} cannot be recomputed: {NOT_RECOMPUTABLE[rule]}")
    if rule not in SUPPORTED:
        raise Unsupported(f"rule {_quoted(rule)} is not supported (supported: {', '.join(SUPPORTED)})")
    if kind not in SUPPORTED[rule]:
        raise Unsupported(f"vote_type {_quoted(kind)} with rule {rule!r} is not supported")
    if kind == "ordinal" and "max_length" not in meta:
        raise Unsupported("ordinal ballots without max_length: the scoring is not known")
    if exclusive and rule != "greedy-exclusive":
        raise BadFile(f"projects that exclude each other apply only to rule greedy-exclusive, not {rule!r}")
    params = {
        k: _money(meta[k], k, scale) if k == "max_sum_cost" else _int(meta[k], k) for k in RULE_PARAMS if meta.get(k)
    }
    return forum_rules.ScheduleForum(
        forum_id=forum_id,
        level="kota",
        region=meta.get("district") or meta.get("unit") or "",
        year=_year(meta.get("instance", "")),
        title=meta.get("description") or name,
        held_on=None,
        place=meta.get("unit", ""),
        chair="",
        ceiling=_money(meta.get("budget", ""), "budget", scale),
        rule=rule,
        ballot_kind=kind,
        rule_params=params,
        criteria=(),
        origin="pabulib",
        money_scale=scale,
        exclusive=tuple(tuple(group) for group in exclusive),
    )


def _year(instance: str) -> int:
    """The election's year, from its `instance` ("2024", "2024-2025"); 0 when it gives none (the forum's
    scheduling then refuses with a message)."""
    return int(instance[:4]) if re.fullmatch(r"[0-9]{4}", instance[:4]) else 0


def agenda(projects: Sequence[Mapping[str, str]], scale: int = 1) -> tuple[AgendaItem, ...]:
    return tuple(
        AgendaItem(
            item_id=p["project_id"],
            title=p.get("name") or p["project_id"],
            cost=_money(p["cost"], f"project {short(p['project_id'])}: cost", scale),
        )
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


def ballot(vote: Mapping[str, str], kind: str, known: Collection[str]) -> forum_rules.CastBallot:
    """One voter's vote as a ballot; `known`: the project ids of PROJECTS. How a repeated project counts
    is in the module's docstring."""
    voter = vote["voter_id"]
    chosen = tuple(x.strip() for x in vote.get("vote", "").split(",") if x.strip())
    for item in chosen:
        if item not in known:
            raise BadFile(f"voter {short(voter)}: project {short(item)} is not in PROJECTS")
    if len(set(chosen)) != len(chosen):
        if kind == "ordinal":
            raise BadFile(f"voter {short(voter)}: ranks a project twice ({short(','.join(chosen))})")
        if kind != "cumulative":
            chosen = tuple(dict.fromkeys(chosen))
    if kind == "cumulative":
        points = [_int(x, f"voter {short(voter)}: points") for x in vote.get("points", "").split(",") if x.strip()]
        if len(points) != len(chosen):
            raise BadFile(f"voter {short(voter)}: {len(chosen)} projects but {len(points)} point values")
        totals: dict[str, int] = {}
        for item, p in zip(chosen, points, strict=True):
            totals[item] = totals.get(item, 0) + p
        return forum_rules.CastBallot(delegate_id=voter, points=totals)
    if kind == "ordinal":
        return forum_rules.CastBallot(delegate_id=voter, ranking=chosen)
    return forum_rules.CastBallot(delegate_id=voter, approvals=chosen)


class Rehearsed(NamedTuple):
    """The voters as delegates and their votes as ballots, in the file's order, as the rehearsal checked them."""

    delegates: list[forum_rules.RegisterDelegate]
    ballots: list[forum_rules.CastBallot]


def rehearse(
    command: forum_rules.ScheduleForum, items: tuple[AgendaItem, ...], votes: Iterable[Mapping[str, str]]
) -> Rehearsed:
    """Put the whole election through the forum's own rules in memory (schedule, open, every voter,
    every ballot) and return the voters as delegates with their ballots: a file the forum would refuse
    halfway is refused before anything is written, with the voter it concerns. What is returned is what an
    import writes: the file is not read again."""
    forum = forum_rules.Forum()
    for step in (command, forum_rules.OpenForum(agenda=items)):
        try:
            forum = forum_rules.evolve(forum, forum_rules.decide(forum, step)[0])
        except DomainError as exc:
            raise BadFile(f"the forum refuses it: {_explain(exc)}") from None
    known = {a.item_id for a in items}
    kind = command.ballot_kind or ""
    delegates, ballots = [], []
    cast_events: list[Event] = []
    for vote in votes:
        voter = vote.get("voter_id", "")
        if not voter:
            raise BadFile("a vote in VOTES has no voter_id")
        if voter in forum.delegates:
            raise BadFile(f"voter {short(voter)} is listed twice in VOTES")
        try:
            d = delegate(vote)
            forum = forum_rules.evolve(forum, forum_rules.decide(forum, d)[0])
            cast = ballot(vote, kind, known)
            cast_events.extend(forum_rules.decide_ballot(forum, cast))
        except DomainError as exc:
            raise BadFile(f"voter {short(voter)}: {_explain(exc)}") from None
        delegates.append(d)
        ballots.append(cast)
    if not delegates:
        raise BadFile("VOTES has no votes")
    _rehearse_count(forum, cast_events)
    return Rehearsed(delegates, ballots)


def _rehearse_count(forum: forum_rules.Forum, cast: Sequence[Event]) -> None:
    """The count the forum's close will make, made once in memory: an election the count cannot be made
    for is refused before anything is written, not left open and half-imported. Arithmetic failures are
    caught too: whatever their cause, the import is all or nothing."""
    ballots = [e for e in cast if isinstance(e, BallotCast)]
    try:
        forum_rules.compute_result(forum, ballots, ())
    except DomainError as exc:
        raise BadFile(f"the forum's count refuses it: {_explain(exc)}") from None
    except (ArithmeticError, ValueError) as exc:
        raise BadFile(f"the forum's count cannot be made for it ({type(exc).__name__}: {short(str(exc), 200)})"
                      ) from None  # fmt: skip


def _explain(exc: DomainError) -> str:
    """The domain's own words (Indonesian), with the field each concerns."""
    if isinstance(exc, ValidationFailed):
        return "; ".join(f"{field}: {short(message, 200)}" for field, message in exc.errors.items())
    return short(exc.message, 200)


def comparable(projects: Sequence[Mapping[str, str]], kind: str) -> tuple[list[str], list[str]]:
    """What `differences` can compare in this file: (what is compared, in COMPARED's words; the columns the
    file lacks). A column counts when some project has a value in it. A score is compared for cumulative and
    ordinal votes; for approval and choose-1 a project's score is its votes, compared with them."""
    present = {column for column in COMPARED if any(p.get(column, "") != "" for p in projects)}
    missing = [column for column in COMPARED if column not in present]
    if kind not in ("cumulative", "ordinal") and "votes" in present:
        present.add("score")
        missing = [column for column in missing if column != "score"]
    return [COMPARED[column] for column in COMPARED if column in present], missing


def differences(
    projects: Sequence[Mapping[str, str]], schedule: ForumScheduled, ballots: Sequence[BallotCast], result: ForumResult
) -> list[str]:
    """Every way the platform's computation differs from the file's own columns (a cell that is not a number
    is one of them: the forum is written by the time they are compared)."""
    out: list[str] = []
    votes = forum_rules.ballot_scores(msgspec.structs.replace(schedule, ballot_kind="approval"), _as_approvals(ballots))
    # Approval and choose-1: a project's score is its votes, and a score column the file has is held to them.
    weighted = schedule.ballot_kind in ("cumulative", "ordinal")
    points = forum_rules.ballot_scores(schedule, ballots) if weighted else votes
    selected = {r.item_id for r in result.ranking if r.selected}
    for p in projects:
        pid, named = p["project_id"], short(p["project_id"])
        for column, computed in (("votes", votes), ("score", points)):
            cell = p.get(column, "")
            if computed is None or cell == "":
                continue
            value, ours = _number(cell), computed.get(pid, 0)
            if value is None:
                out.append(f"project {named}: {column} in file {_quoted(cell)} is not a number")
            elif value != ours:
                out.append(f"project {named}: {column} in file {short(cell)}, computed {ours}")
        if p.get("selected", "") != "" and (p["selected"] == "1") != (pid in selected):
            out.append(f"project {named}: selected in file {short(p['selected'])}, computed {int(pid in selected)}")
    return out


def _number(text: str) -> Fraction | None:
    try:
        return Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        return None


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
        "budget": _amount(schedule.ceiling, schedule.money_scale),
        "vote_type": kind,
        "rule": "greedy" if schedule.rule == "weighted-criteria" else schedule.rule,
        **{
            k: _amount(v, schedule.money_scale) if k == "max_sum_cost" else str(v)
            for k, v in schedule.rule_params.items()
        },
        "comment": "#1: Projects that exclude each other (greedy-exclusive): "
        + "; ".join(",".join(group) for group in schedule.exclusive)
        if schedule.exclusive
        else "",
    }
    for key, value in meta.items():
        if value != "":
            w.writerow([key, value])
    w.writerow(["PROJECTS"])
    w.writerow(["project_id", "cost", "votes", "score", "name", "selected"])
    for a in agenda_items:
        r = ranked[a.item_id]
        cost = _amount(costs[a.item_id], schedule.money_scale)
        w.writerow([a.item_id, cost, approvals.get(a.item_id, 0), r.score, a.title, int(r.selected)])
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


def _amount(value: int, scale: int) -> str:
    """An amount in the election's unit back in its currency, with as many decimals as the unit has."""
    if scale == 1:
        return str(value)
    places = len(str(scale)) - 1
    sign, value = ("-" if value < 0 else ""), abs(value)
    return f"{sign}{value // scale}.{value % scale:0{places}d}"


def _int(text: str, what: str) -> int:
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise BadFile(f"{what}: {_quoted(text)} is not a number") from None
    if value.denominator != 1:
        raise BadFile(f"{what}: {_quoted(text)} is not a whole number")
    return int(value)
