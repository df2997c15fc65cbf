"""A lost tracking code (`/lacak/lupa`): the proposer types the phone number or e-mail address they
proposed with, and the codes of their newest proposals are sent there (services/recovery.py, which says
what the message lists and to whom).

The page never says whether the number is known: a known number, an unknown one and one that was sent
its codes three times this hour get the very same answer (only a malformed entry is answered with its
error, and too many requests from one client with 429, both for anyone alike). Otherwise the form would
tell anyone whether a given number made a proposal.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.response import Template

from musrenbang.domain import values
from musrenbang.domain.errors import N_
from musrenbang.http.deps import PoolDep, ProposalsDep
from musrenbang.http.follow import valid_email
from musrenbang.http.i18n import translate
from musrenbang.http.ratelimit import client_address, count_attempt
from musrenbang.http.render import page
from musrenbang.services.recovery import CODES as CODES
from musrenbang.services.recovery import SENDS_PER_HOUR as SENDS_PER_HOUR
from musrenbang.services.recovery import send_codes as _send_codes

REQUESTS_PER_HOUR = 5
"""Requests accepted per client address per hour."""


def recovery_address(typed: str) -> tuple[str, bool]:
    """The number (+62…) or e-mail address (lower case) typed, and whether it is an e-mail address;
    ValueError with the Indonesian message when it is neither."""
    text = typed.strip()
    if "@" in text:
        return valid_email(text), True
    try:
        return values.normalize_phone(text), False
    except ValueError:
        raise ValueError(N_("tulis nomor HP (misalnya 0812-3456-7890) atau alamat e-mail yang Anda pakai")) from None


class RecoveryPages(Controller):
    path = "/lacak/lupa"
    include_in_schema = False

    @get("/")
    async def recovery_form(self, request: Request) -> Template:
        return page(request, "lacak_lupa.html", values={}, errors={}, sent=False)

    @post("/", status_code=200, request_max_body_size=16 * 1024)
    async def send_codes(self, request: Request, pool: PoolDep, proposals: ProposalsDep) -> Template:
        typed = str((await request.form()).get("contact", ""))
        try:
            address, by_email = recovery_address(typed)
        except ValueError as exc:
            return page(request, "lacak_lupa.html", status=422, values={"contact": typed},
                        errors={"contact": translate(request, exc.args[0])}, sent=False)  # fmt: skip
        await count_attempt(pool, "recovery", client_address(request, request.app.state.settings.trust_proxy),
                            REQUESTS_PER_HOUR)  # fmt: skip
        await _send_codes(pool, address, by_email, proposals.revision_secret)
        return page(request, "lacak_lupa.html", values={}, errors={}, sent=True)
