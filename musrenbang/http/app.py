"""The one place the web application is wired together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.handlers
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
from litestar import Litestar, Request
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging.config import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler

from musrenbang.config import Settings, secret_bytes
from musrenbang.db.connect import close_pool, create_pool
from musrenbang.db.replicas import ReadPools
from musrenbang.delivery.worker import DeliveryWorker
from musrenbang.eventlog.store import EventStore
from musrenbang.http import (
    api,
    audit_pages,
    auth,
    berita_acara_pages,
    city_forums,
    city_pages,
    cycles,
    errors,
    follow,
    forum_calendar,
    forum_pages,
    forum_screen,
    forums,
    health,
    log_head,
    messages,
    photos,
    pokir,
    proposal_form,
    reads,
    realisation,
    recovery,
    residents,
    rkpd_api,
    rkpd_pages,
    staff,
    static,
    tracking,
    verification_pages,
)
from musrenbang.http.city_context import CityContext, refresh_city
from musrenbang.http.edge import Edge
from musrenbang.http.form_limits import form_limits_middleware
from musrenbang.http.i18n import load_catalogs
from musrenbang.http.json_body import strict_json_body
from musrenbang.http.notices import notice_key
from musrenbang.http.orphan import serving_parent, stop_when_orphaned
from musrenbang.http.render import environment
from musrenbang.http.security import security_headers
from musrenbang.http.staleness import staleness_middleware
from musrenbang.http.stall import watch_loop
from musrenbang.http.stopping import Stopping
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.resources import static_dir
from musrenbang.services.forums import ForumService
from musrenbang.services.pokir import PokirService
from musrenbang.services.proposals import ProposalService
from musrenbang.services.realisation import RealisationService
from musrenbang.services.rkpd import RkpdService

log = logging.getLogger(__name__)


STOPPED = "this process stopped cleanly: its responses ended, its background work stopped, its pool closed"
"""Logged last by each server process, so that a stop that had to kill one shows which (it lacks the line)."""
POOL_CLOSE_GRACE = 3.0
"""At shutdown, how long the pool waits for connections still borrowed (by then every response has ended
and the background tasks are cancelled, so normally none) before it closes them regardless."""


def create_app(
    settings: Settings, database_url: str, secret: str, *, run_projections: bool = True, stop_on_signals: bool = False
) -> Litestar:
    """The application for one server process. `database_url` is a database already prepared by
    `musrenbang serve` (migrated, reference data loaded); `secret` is shared by all processes.
    `stop_on_signals`: in a server worker, end long-lived responses on SIGINT/SIGTERM (http/stopping.py)."""
    stopping = Stopping()
    built = Litestar(
        route_handlers=route_handlers(),
        lifespan=[_lifespan(settings, database_url, secret, stopping, run_projections=run_projections,
                            stop_on_signals=stop_on_signals)],  # fmt: skip
        middleware=[form_limits_middleware, staleness_middleware],
        before_request=_before_request,
        before_send=[security_headers(settings), *reads.remember_writes(settings)],
        dependencies=_dependencies(),
        # Each handler takes the exception class it is registered for; litestar types them all as Exception.
        exception_handlers=errors.HANDLERS,  # type: ignore[arg-type]
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment())),
        csrf_config=_csrf(settings, secret),
        # Exceptions are logged by the handlers of http/errors.py: one INFO line for a refused request, a
        # traceback only for a server error.
        logging_config=LoggingConfig(log_exceptions="never"),
        compression_config=_compression(),
        openapi_config=_openapi(),
        state=State(
            {"settings": settings, "catalogs": load_catalogs(), "stopping": stopping, "notice_key": notice_key(secret),
             "static_files": static.load(static_dir())}
        ),
    )
    api.document_refusals(built)  # the refusals as the server sends them, in the OpenAPI document
    return built


def _lifespan(settings: Settings, database_url: str, secret: str, stopping: Stopping, *, run_projections: bool,
              stop_on_signals: bool) -> Callable[[Litestar], contextlib.AbstractAsyncContextManager[None]]:  # fmt: skip
    """What a server process starts (its pool, services, projection workers, senders) and stops again, in
    the order that lets each finish with what it borrows."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await create_pool(database_url, max_size=20)
        runner = ProjectionRunner(pool, all_projections(), poll_interval=settings.poll_interval)
        app.state.update(_services(pool, runner, secret, run_projections=run_projections))
        if settings.replica_urls:  # looks at its standbys in the background until closed
            app.state.reads = await ReadPools.open(pool, database_url, settings.replica_urls)
        task = None
        # Messages to residents leave from the outbox (musrenbang/delivery/): a few senders per process.
        delivery = DeliveryWorker(database_url, settings)
        app.state.delivery = delivery
        if run_projections:
            task = asyncio.create_task(runner.run_forever(database_url, settings.seal_interval,
                                                      settings.verify_interval))
            delivery.start()
        uninstall = stopping.install() if stop_on_signals else (lambda: None)
        # A server worker's loop stuck for seconds says so, with where (http/stall.py).
        watch = asyncio.create_task(watch_loop()) if stop_on_signals else None
        # A worker whose `serve` process was killed outright stops by itself (http/orphan.py).
        parent = serving_parent() if stop_on_signals else None
        orphan = asyncio.create_task(stop_when_orphaned(parent)) if parent is not None else None
        try:
            yield
        finally:
            # In this order: responses still open end first (under granian they have ended already, see
            # http/stopping.py); then the senders, which may finish a message being sent; then the tasks
            # that read the log; the pool last, since all of them borrow from it.
            stopping.request()
            uninstall()
            await delivery.stop()  # lets a message being sent finish first (a few seconds at most)
            await _cancelled(task)
            if settings.replica_urls:
                await app.state.reads.close()
            await close_pool(pool, POOL_CLOSE_GRACE)
            await _cancelled(orphan)
            await _cancelled(watch)  # the last thing that could stall the stop is done
            log.info(STOPPED)
            if stop_on_signals:
                _write_out_logs()

    return lifespan


def _services(pool: asyncpg.Pool, runner: ProjectionRunner, secret: str, *, run_projections: bool) -> dict[str, Any]:
    """What the handlers act through, by the name each is kept under in `app.state`."""
    # With its own workers, this process's events are theirs to apply first (projections/supervisor.py).
    store = EventStore(pool, origin=runner.origin if run_projections else None)
    proposals = ProposalService(pool, store, secret_bytes(secret), runner)
    return {
        "pool": pool,
        "store": store,
        "runner": runner,
        "proposals": proposals,
        "pokir": PokirService(pool, store, proposals),
        "forums": ForumService(pool, store, runner),
        "rkpd": RkpdService(pool, store, runner),
        "realisation": RealisationService(pool, store),
        "city_context": CityContext(pool),
    }


async def _cancelled(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task (if there is one) and wait until it has ended."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- the routes, by area (the OpenAPI document lists them in this order) ---------------------------------

_OPERATIONS: list[ControllerRouterHandler] = [health.HealthApi, log_head.LogHeadApi]
"""Health for load balancers and operators, and the log's published head."""
_RESIDENTS: list[ControllerRouterHandler] = [
    residents.HomePages,
    forum_calendar.CalendarPages,
    proposal_form.ProposalFormPages,
    tracking.TrackingPages,
    proposal_form.RevisionFormPages,
    residents.PlacePages,
]
"""Residents' pages: proposing, tracking, revising, the lists of a kelurahan and a kecamatan."""
_PUBLIC_API: list[ControllerRouterHandler] = [api.ProposalApi, api.KelurahanApi, photos.PhotoApi, forums.ForumApi]
"""The public JSON API of proposals and forums, and proposals' photos."""
_ACCOUNTS: list[ControllerRouterHandler] = [auth.TokenApi, auth.SignInPages, auth.StaffHomePages]
"""Signing in and out (tokens and sessions), passwords, and the staff's home page."""
_VERIFICATION_AND_FORUMS: list[ControllerRouterHandler] = [
    staff.ProposalStaffApi,
    staff.ForumStaffApi,
    staff.AccountApi,
    forum_pages.NewForumPages,
    forum_pages.ForumSessionPages,
    forum_screen.ScreenPages,
    berita_acara_pages.BeritaAcaraPages,
    audit_pages.AuditPages,
    verification_pages.VerificationPages,
]
"""The kelurahan and kecamatan levels' staff work, as JSON and as pages: verification and merging, forums
(their session, projector screen and Berita Acara); and the auditor's page."""
_RKPD_API: list[ControllerRouterHandler] = [rkpd_api.RkpdListApi, rkpd_api.LineageApi, rkpd_api.RkpdStaffApi]
"""The city level's RKPD as JSON: the lists, lineage, and the agencies' and Bappeda's commands."""
_CYCLES_AND_CITY_FORUMS: list[ControllerRouterHandler] = [
    cycles.CycleApi,
    city_forums.CityForumApi,
    city_forums.CityBeritaAcaraPages,
    cycles.CyclePages,
]
"""Planning cycles, and the city level's forums."""
_MESSAGES: list[ControllerRouterHandler] = [follow.FollowPages, recovery.RecoveryPages, messages.MessagePages]
"""Messages to residents: following by e-mail, lost tracking codes, Bappeda's outbox."""
_REALISATION_AND_POKIR: list[ControllerRouterHandler] = [
    realisation.RealisationApi,
    realisation.RealisationPages,
    pokir.PokirApi,
    pokir.PokirPages,
    pokir.SourcesApi,
    pokir.PublicPokirPages,
]
"""What became of adopted lines; the DPRD's pokir and where the RKPD's pagu came from."""
_RKPD_PAGES: list[ControllerRouterHandler] = [
    rkpd_pages.RkpdPages,
    rkpd_pages.LineagePages,
    city_pages.AgencyPages,
    city_pages.ReviewPages,
]
"""The RKPD's public pages, and the city level's staff pages (agencies' lines, Bappeda's review)."""


def route_handlers() -> list[ControllerRouterHandler]:
    """Every route of the application; the static files last."""
    return [
        *_OPERATIONS, *_RESIDENTS, *_PUBLIC_API, *_ACCOUNTS, *_VERIFICATION_AND_FORUMS, *_RKPD_API,
        *_CYCLES_AND_CITY_FORUMS, *_MESSAGES, *_REALISATION_AND_POKIR, *_RKPD_PAGES, static.StaticFiles, static.favicon,
    ]  # fmt: skip


# --- what every handler is given, and the app's configurations ----------------------------------------------


def _dependencies() -> dict[str, Provide]:
    """The services kept in `app.state` (http/deps.py names them for handlers), and the signed-in account."""
    kept = ("pool", "runner", "proposals", "forums", "store", "rkpd", "realisation", "pokir", "stopping")
    return {
        **{name: Provide(_from_state(name), sync_to_thread=False) for name in kept},
        "actor": Provide(auth.current_actor),
    }


def _csrf(settings: Settings, secret: str) -> CSRFConfig:
    """Every form of the pages carries a token matching its cookie."""
    return CSRFConfig(
        secret=secret,
        cookie_name=(auth.HOST_ONLY if settings.over_https else "") + "csrftoken",
        cookie_httponly=True,
        cookie_samesite="lax",
        cookie_secure=settings.over_https,
        # The JSON API takes no cookie for authority (staff authenticate with `Authorization: Bearer`,
        # http/auth.py; residents with idempotency keys and revision secrets), so cross-site forgery
        # has nothing to ride on there.
        # The stop links of e-mails: their token is the authority, and mail providers POST to them
        # (RFC 8058 one-click) with no session and no form.
        # Responses any shared cache may keep (static files, photos, feeds: `Cache-Control: public`) set
        # no CSRF cookie: a cache that kept the Set-Cookie would hand every visitor the same token. They
        # are read-only (GET), and no form is on them.
        exclude=["^/api/", "^/berhenti/", "^/static/", "^/photos/", r"\.atom$"],  # searched anywhere: anchored
    )


def _compression() -> CompressionConfig:
    """Responses gzipped for clients that take it."""
    return CompressionConfig(
        backend="gzip",
        minimum_size=500,
        gzip_compress_level=6,
        exclude=[r"/layar/aliran$"],  # a compressor would hold Server-Sent Events back until it had enough
    )


def _openapi() -> OpenAPIConfig:
    """The API's OpenAPI document (http/api.py adds the refusals of each operation)."""
    return OpenAPIConfig(
        title="Musrenbang API",
        version="1",
        description="Participatory development planning (Musrenbang) for an Indonesian kabupaten or"
        " kota. Public responses never include proposers' personal data.",
        path="/schema",
        # The document only (at /schema too): the viewers Litestar offers load their code from CDNs.
        render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"]), YamlRenderPlugin()],
    )


def app_from_env() -> Edge:
    """Factory for the ASGI server's worker processes: `serve` prepared the database and passes its URL
    and the shared secret in the environment. HEAD and refused gzip are handled around the app (http/edge.py)."""
    settings = Settings.from_env()
    url = settings.database_url or os.environ["MUSRENBANG_DATABASE_URL"]
    secret = settings.secret_key or os.environ["MUSRENBANG_SECRET_KEY"]
    return Edge(create_app(settings, url, secret, stop_on_signals=True))


def _write_out_logs() -> None:
    """Write out the log records still queued, at the end of a server worker. Litestar logs through a queue
    whose listener thread is stopped at exit (atexit), but a granian worker ends with os._exit, where atexit
    never runs: the last records, this shutdown's own, would be lost. Only in a worker: a process that goes
    on logging (a test's) needs its listener."""
    for handler in logging.getLogger().handlers:
        listener = getattr(handler, "listener", None)
        if isinstance(listener, logging.handlers.QueueListener):
            listener.stop()


async def _before_request(request: Request) -> None:
    """Every handler: the city's settings fresh, and a JSON body's values of the types it declares as
    written (http/json_body.py)."""
    await strict_json_body(request)
    await refresh_city(request)


def _from_state(name: str) -> Callable[[State], object]:
    def provide(state: State) -> object:
        return state[name]

    return provide
