"""The outbox for Bappeda's staff (`/petugas/pesan`): messages to residents by channel and state, which
channels can send, and what has not been delivered, a page at a time (`?halaman=N`), and the latest messages
cancelled, each with why (the reason recorded, as text, or the resident's stop); addresses masked: staff need
to tell messages apart, not to write to residents. A form queues failed messages again, of
every channel or of one, as `musrenbang outbox retry` does."""

from __future__ import annotations

import logging

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from musrenbang.config import Settings
from musrenbang.delivery import queries
from musrenbang.delivery.channels import CHANNELS, configured_names
from musrenbang.delivery.worker import requeue_failed
from musrenbang.domain.errors import N_, Message
from musrenbang.http.deps import ActorDep, PoolDep
from musrenbang.http.errors import NOT_OUR_FORM, BadForm
from musrenbang.http.guards import roles
from musrenbang.http.i18n import translate
from musrenbang.http.notices import notify
from musrenbang.http.render import number, page, page_number

log = logging.getLogger(__name__)

CHANNEL_LABELS = {"sms": "SMS", "whatsapp": "WhatsApp", "email": N_("Surel")}
STATUS_LABELS = {"pending": N_("menunggu"), "delivered": N_("terkirim"), "failed": N_("gagal"),
                 "cancelled": N_("dibatalkan")}  # fmt: skip
PURPOSE_LABELS = {
    "submitted": N_("usulan tercatat"), "verified": N_("usulan diverifikasi"), "returned": N_("usulan dikembalikan"),
    "rejected": N_("usulan ditolak"), "merged": N_("usulan digabung"), "forum": N_("hasil musyawarah"),
    "not_in_rkpd": N_("tidak masuk RKPD"), "in_rkpd": N_("masuk RKPD"), "budgeted": N_("dianggarkan dalam APBD"),
    "under_way": N_("mulai dikerjakan"), "finished": N_("selesai dikerjakan"), "dropped": N_("dibatalkan"),
    "stopped": N_("kabar dihentikan"), "confirm": N_("konfirmasi ikuti kabar"),
    "recovery": N_("kode lacak yang hilang"),
}  # fmt: skip
"""What each message tells the resident (the outbox's `purpose`, domain/notices.py and the few written
directly), in words staff read; a purpose not listed shows as stored."""

REQUEUED = N_("%(count)s pesan yang gagal dimasukkan lagi ke antrean pengiriman")
"""The notice after the retry form: how many were queued again (0 when none had failed, as after a second
tap on the button)."""


class MessagePages(Controller):
    path = "/petugas/pesan"
    guards = [roles("admin")]
    include_in_schema = False

    @get("/")
    async def messages_page(self, request: Request, pool: PoolDep, actor: ActorDep) -> Template:
        settings: Settings = request.app.state.settings
        number_asked = page_number(request)
        # One snapshot: the page's messages agree with the counts and the number of pages.
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            overview = await queries.outbox_overview(conn, configured_names(settings), number_asked)
        if number_asked > overview["pages"]:
            raise NotFoundException()
        return page(request, "petugas_pesan.html", actor=actor, CHANNEL_LABELS=CHANNEL_LABELS,
                    STATUS_LABELS=STATUS_LABELS, PURPOSE_LABELS=PURPOSE_LABELS, OUTBOX_STATUSES=queries.STATUSES,
                    CHANNELS=CHANNELS, page_number=number_asked, **overview)  # fmt: skip

    @post("/kirim-ulang")
    async def retry_failed(self, request: Request, pool: PoolDep, actor: ActorDep) -> Response:
        """Queue the failed messages again — of the channel chosen, or of every channel — exactly as `musrenbang
        outbox retry [--channel C]` does (which wakes the senders), and say how many."""
        form = await request.form()
        channel = str(form.get("channel") or "") or None
        if channel is not None and channel not in CHANNELS:
            raise BadForm(NOT_OUR_FORM)
        async with pool.acquire() as conn:
            counts = await requeue_failed(conn, channel=channel)
        total = sum(counts.values())
        log.info("%s re-queued %d failed message(s) of %s", actor.username, total, channel or "every channel")
        notice = translate(request, Message(REQUEUED, count=number(total)))
        return notify(request, Redirect("/petugas/pesan", status_code=303), notice)
