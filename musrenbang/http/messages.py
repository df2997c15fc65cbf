"""The outbox for Bappeda's staff (`/petugas/pesan`): messages to residents by channel and state, which
channels can send, and what has not been delivered (addresses masked: staff need to tell messages
apart, not to write to residents)."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.response import Template

from musrenbang.config import Settings
from musrenbang.delivery import queries
from musrenbang.delivery.channels import configured_names
from musrenbang.domain.errors import N_
from musrenbang.http.deps import ActorDep, PoolDep
from musrenbang.http.guards import roles
from musrenbang.http.render import page

CHANNEL_LABELS = {"sms": "SMS", "whatsapp": "WhatsApp", "email": N_("Surel")}
STATUS_LABELS = {"pending": N_("menunggu"), "delivered": N_("terkirim"), "failed": N_("gagal"),
                 "cancelled": N_("dibatalkan")}  # fmt: skip


class MessagePages(Controller):
    path = "/petugas/pesan"
    guards = [roles("admin")]
    include_in_schema = False

    @get("/")
    async def messages_page(self, request: Request, pool: PoolDep, actor: ActorDep) -> Template:
        settings: Settings = request.app.state.settings
        async with pool.acquire() as conn:
            overview = await queries.outbox_overview(conn, configured_names(settings))
        return page(request, "petugas_pesan.html", actor=actor, CHANNEL_LABELS=CHANNEL_LABELS,
                    STATUS_LABELS=STATUS_LABELS, OUTBOX_STATUSES=queries.STATUSES, **overview)  # fmt: skip
