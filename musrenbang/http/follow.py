"""Following a proposal or an RKPD line by e-mail, and stopping any message (issue 13): the pages.
What is recorded and sent, and why, is services/following.py's.

`POST /ikuti` (a proposal's code or `rkpd/{year}/{line_id}`, and an e-mail address) records an
unconfirmed subscription and queues one confirmation mail in the outbox, which the delivery worker
sends. The page answers the same whether the address is new, follows already or is over its limit, so
it tells nobody what an address follows. The mail's link (`/ikuti/{token}`) shows a button, and only
that POST confirms: a mail scanner that opens links confirms nothing. Every message carries
`/berhenti/{token}`, whose button stops it; stopping a proposer's own subscription stops every one made
with their proposal. No page shows an address.

A proposal merged into another has no news of its own any more: asking to follow it follows the proposal
it lives on in, and the pages say so. An RKPD line whose work has ended (finished or dropped) has no
news to come: its page says so instead of offering to follow it, and asking anyway is answered so (409),
with no subscription and no mail. So is a proposal whose story has ended (rejected, not accommodated,
closed without a decision, or in the RKPD by a line whose work finished or was dropped:
services/following.py), or the proposal a merged one lives on in.
"""

from __future__ import annotations

import re

import asyncpg
from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from musrenbang.delivery.channels import printable
from musrenbang.domain.errors import N_
from musrenbang.domain.proposal import normalize_email
from musrenbang.http.deps import PoolDep
from musrenbang.http.i18n import translate
from musrenbang.http.inputs import form_text
from musrenbang.http.ratelimit import client_address, count_attempt
from musrenbang.http.render import page, shown_back
from musrenbang.services import following
from musrenbang.services.following import CONFIRM_DAYS as CONFIRM_DAYS
from musrenbang.services.following import CONFIRMATIONS_PER_HOUR as CONFIRMATIONS_PER_HOUR
from musrenbang.services.following import Followed as Followed
from musrenbang.services.following import Subscription
from musrenbang.services.following import followed as followed

FOLLOWS_PER_HOUR = 20
"""Follow requests accepted per client address per hour."""

_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}", re.ASCII)


def valid_email(text: str) -> str:
    """An e-mail address as typed, trimmed and in lower case (how it is stored and counted); ValueError
    with the Indonesian message otherwise. The same check as a proposer's address (domain/proposal.py),
    so that a proposer and a follower with one address are one address.

        >>> valid_email(" Siti.R@Contoh.ID ")
        'siti.r@contoh.id'
    """
    return normalize_email(text)


class FollowPages(Controller):
    path = "/"
    include_in_schema = False

    @get("/ikuti")
    async def follow_form(self, request: Request, pool: PoolDep) -> Template:
        """The form: for `?subjek=` (a code or an RKPD line) when given, else with the code to type. For a
        line whose work has ended, or a proposal whose story has, no form: the page says that no news will
        come, and why."""
        typed = printable(request.query_params.get("subjek", "")[:100])  # shown back: no NUL in `value`
        subject = await following.find(pool, typed) if typed else None
        entered = {"subject": subject.subject if subject else typed, "email": ""}
        return page(request, "ikuti.html", subject=subject, values=entered, errors={})

    @post("/ikuti", status_code=200, request_max_body_size=16 * 1024)
    async def follow(self, request: Request, pool: PoolDep) -> Template:
        form = await request.form()
        entered = {"subject": form_text(form, "subject"), "email": form_text(form, "email")}
        errors: dict[str, str] = {}
        subject = await following.find(pool, entered["subject"])
        if subject is not None and subject.ended:  # nothing to follow, whatever the address
            return page(request, "ikuti.html", status=409, subject=subject, values=shown_back(entered), errors={})
        if subject is None:
            errors["subject"] = N_("tidak ada usulan atau baris RKPD dengan kode ini")
        email = ""
        try:
            email = valid_email(entered["email"])
        except ValueError as exc:
            errors["email"] = exc.args[0]
        if errors or subject is None:
            return page(request, "ikuti.html", status=422, subject=subject, values=shown_back(entered),
                        errors={f: translate(request, m) for f, m in errors.items()})  # fmt: skip
        await count_attempt(pool, "follow", client_address(request, request.app.state.settings.trust_proxy),
                            FOLLOWS_PER_HOUR)  # fmt: skip
        await following.subscribe(pool, subject, email)
        return page(request, "ikuti_terkirim.html", subject=subject)

    @get("/ikuti/{token:str}")
    async def confirm_form(self, request: Request, pool: PoolDep, token: FromPath[str]) -> Template:
        """The confirmation mail's link: a button, so that only a person confirms."""
        sub, subject = await _by_token(pool, token)
        return _token_page(request, await following.state(pool, sub, subject), subject, token)

    @post("/ikuti/{token:str}", status_code=200)
    async def confirm(self, request: Request, pool: PoolDep, token: FromPath[str]) -> Template:
        sub, subject = await _by_token(pool, token)
        state = await following.confirm(pool, sub, subject)
        return _token_page(request, state, subject, token, status={"expired": 410, "ended": 409}.get(state, 200))

    @get("/berhenti/{token:str}")
    async def stop_form(self, request: Request, pool: PoolDep, token: FromPath[str]) -> Template:
        """Every message's stop link: a button (a scanner opening the link stops nothing)."""
        sub, subject = await _by_token(pool, token)
        return page(request, "ikuti_berhenti.html", stopped=sub.stopped_at is not None, subject=subject,
                    proposer=sub.kind == "proposer", token=token)  # fmt: skip

    @post("/berhenti/{token:str}", status_code=200)
    async def stop(self, request: Request, pool: PoolDep, token: FromPath[str]) -> Template:
        sub, subject = await _by_token(pool, token)
        await following.stop(pool, sub)
        return page(request, "ikuti_berhenti.html", stopped=True, subject=subject, proposer=sub.kind == "proposer",
                    token=token)  # fmt: skip


def _token_page(request: Request, state: str, subject: Followed | None, token: str, status: int = 200) -> Template:
    return page(request, "ikuti_token.html", status=status, state=state, subject=subject, token=token,
                confirm_days=CONFIRM_DAYS)  # fmt: skip


async def _by_token(pool: asyncpg.Pool, token: str) -> tuple[Subscription, Followed | None]:
    """The subscription a link's token names and what it follows; 404 for a token that names none."""
    if not _TOKEN.fullmatch(token):
        raise NotFoundException()
    found = await following.by_token(pool, token)
    if found is None:
        raise NotFoundException()
    return found
