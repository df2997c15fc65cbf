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
PURPOSE_LABELS = {
    "submitted": N_("usulan diterima"), "verified": N_("usulan diverifikasi"), "returned": N_("usulan dikembalikan"),
    "rejected": N_("usulan ditolak"), "merged": N_("usulan digabung"), "forum": N_("hasil musyawarah"),
    "not_in_rkpd": N_("tidak masuk RKPD"), "in_rkpd": N_("masuk RKPD"), "budgeted": N_("dianggarkan dalam APBD"),
    "under_way": N_("mulai dikerjakan"), "finished": N_("selesai dikerjakan"), "dropped": N_("dibatalkan"),
    "stopped": N_("kabar dihentikan"), "confirm": N_("konfirmasi ikuti kabar"),
    "recovery": N_("kode lacak yang hilang"),
}  # fmt: skip
"""What each message tells the resident (the outbox's `purpose`, domain/notices.py and the few written
directly), in words staff read; a purpose not listed shows as stored."""


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
                    STATUS_LABELS=STATUS_LABELS, PURPOSE_LABELS=PURPOSE_LABELS, OUTBOX_STATUSES=queries.STATUSES,
                    **overview)  # fmt: skip
