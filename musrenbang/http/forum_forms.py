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
    # a number typed twice is refused (the domain's rule), not dropped: "1,1" is more often "1,11" mistyped
    return rules.CastBallot(delegate_id=delegate, approvals=tuple(chosen))


def consensus_marks(forum: rules.Forum, form: Any
                    ) -> tuple[dict[str, dict[str, int] | None], int, dict[str, str], dict[str, str]]:  # fmt: skip
    """The rows of the consensus sheet this form changes (None: an item no longer scored), the error of
    each bad cell (`m_<item>_<criterion>`), and every cell as typed.

    Only the rows typed or changed since the page was shown (`was_m_<item>`, the row as it was shown) are
    taken from the form; the service merges them into the sheet as saved when it writes
    (`ForumService.amend_scores`), so a second tab, or a page left open, keeps the rows saved meanwhile. A
    changed row emptied is not scored any more."""
    keys = [c.key for c in forum.scheduled.criteria]
    changes: dict[str, dict[str, int] | None] = {}
    errors: dict[str, str] = {}
    typed: dict[str, str] = {}
    for item in forum.agenda:
        row = {key: str(form.get(f"m_{item.item_id}_{key}", "")).strip() for key in keys}
        typed.update({f"m_{item.item_id}_{key}": value for key, value in row.items()})
        if ",".join(row.values()) == str(form.get(f"was_m_{item.item_id}", ",".join("" for _ in keys))).strip():
            continue
        if not any(row.values()):
            changes[item.item_id] = None
            continue
        bad = [key for key, value in row.items() if not _mark(value)]
        for key in bad:
            errors[f"m_{item.item_id}_{key}"] = Message(N_("nilai %(low)d sampai %(high)d"), low=MARK_MIN,
                                                        high=MARK_MAX)  # fmt: skip
        if not bad:
            changes[item.item_id] = {key: int(value) for key, value in row.items()}
    return changes, len(changes), errors, typed


def shown_row(marks: dict[str, int] | None, forum: rules.Forum) -> str:
    """A consensus row as the page shows it, for `was_m_<item>`: the marks in the criteria's order."""
    return ",".join(str((marks or {}).get(c.key, "")) for c in forum.scheduled.criteria)


def _mark(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) == 1 and MARK_MIN <= int(value) <= MARK_MAX
