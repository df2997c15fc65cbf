"""Reading what a facilitator typed on a forum's session page: paper ballots one delegate per row, and the
consensus marks one agenda item per row. Each row is read on its own, so that one typo marks its row
(with the reason) and every other row stays as typed; a form with any bad row writes nothing.

For example, with an agenda of 4 items a row typed `1, 5` comes back marked "nomor 5 tidak ada di agenda
(1 sampai 4)", one typed `satu` "«satu» bukan nomor usulan ...", and `1;` names the `1;` it could not read.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from musrenbang.domain import forum as rules
from musrenbang.domain.errors import N_, Message, ValidationFailed

_SEPARATORS = re.compile(r"[,\s]+")
MARK_MIN, MARK_MAX = 1, 5


def ballot_rows(forum: rules.Forum, form: Any) -> tuple[list[rules.CastBallot], dict[str, str], dict[str, str]]:
    """The ballots to cast (rows typed or changed since the page was shown), the error of each bad row
    (keyed by its field, `b_<delegate>`), and every row as typed."""
    items = [a.item_id for a in forum.agenda]
    typed: dict[str, str] = {}
    errors: dict[str, str] = {}
    commands = []
    for delegate in forum.delegates:
        field = f"b_{delegate}"
        raw = str(form.get(field, "")).strip()
        typed[field] = raw
        if not raw or raw == str(form.get(f"was_{delegate}", "")).strip():
            continue
        try:
            command = _ballot(forum, delegate, _numbers(raw, len(items)), items)
            rules.decide_ballot(forum, command)  # the forum's own rule (kind, length, points) for this row alone
        except ValidationFailed as exc:
            errors[field] = next(iter(exc.errors.values()))
            continue
        commands.append(command)
    return commands, errors, typed


def _numbers(raw: str, last: int) -> list[int]:
    """Agenda numbers typed as "1,3 4"; the first token that is not one says what is wrong with it."""
    numbers = []
    for token in filter(None, _SEPARATORS.split(raw)):
        if not (token.isascii() and token.isdigit() and len(token) <= 4):
            raise ValidationFailed({"ballot": Message(
                N_("«%(typed)s» bukan nomor usulan: tulis nomor 1 sampai %(last)d, dipisah koma"),
                typed=token[:20], last=last)})  # fmt: skip
        if not 1 <= int(token) <= last:
            raise ValidationFailed({"ballot": Message(N_("nomor %(number)s tidak ada di agenda (1 sampai %(last)d)"),
                                                      number=token, last=last)})  # fmt: skip
        numbers.append(int(token))
    return numbers


def _ballot(forum: rules.Forum, delegate: str, numbers: list[int], items: list[str]) -> rules.CastBallot:
    chosen = [items[n - 1] for n in numbers]
    kind = forum.scheduled.ballot_kind
    if kind == "ordinal":
        return rules.CastBallot(delegate_id=delegate, ranking=tuple(chosen))
    if kind == "cumulative":  # an item typed three times has three points
        return rules.CastBallot(delegate_id=delegate, points=dict(Counter(chosen)))
    return rules.CastBallot(delegate_id=delegate, approvals=tuple(dict.fromkeys(chosen)))


def consensus_marks(forum: rules.Forum, form: Any) -> tuple[dict[str, dict[str, int]], dict[str, str], dict[str, str]]:
    """The marks of every item whose row is filled in, the error of each bad cell (`m_<item>_<criterion>`;
    a row left wholly empty is not scored yet), and every cell as typed."""
    marks: dict[str, dict[str, int]] = {}
    errors: dict[str, str] = {}
    typed: dict[str, str] = {}
    for item in forum.agenda:
        row = {c.key: str(form.get(f"m_{item.item_id}_{c.key}", "")).strip() for c in forum.scheduled.criteria}
        typed.update({f"m_{item.item_id}_{key}": value for key, value in row.items()})
        if not any(row.values()):
            continue
        bad = [key for key, value in row.items() if not _mark(value)]
        for key in bad:
            errors[f"m_{item.item_id}_{key}"] = Message(N_("nilai %(low)d sampai %(high)d"), low=MARK_MIN,
                                                        high=MARK_MAX)  # fmt: skip
        if not bad:
            marks[item.item_id] = {key: int(value) for key, value in row.items()}
    return marks, errors, typed


def _mark(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) == 1 and MARK_MIN <= int(value) <= MARK_MAX
