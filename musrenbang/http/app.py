"""The one place the web application is wired together."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import asyncpg
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Litestar
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from musrenbang.config import Settings
from musrenbang.db.connect import create_pool
from musrenbang.eventlog.store import EventStore
from musrenbang.http import health, pages
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.resources import static_dir, templates_dir


def create_app(settings: Settings, database_url: str, *, run_projections: bool = True) -> Litestar:
    """The application for one server process. `database_url` is the database already prepared by
    `musrenbang serve` (migrated, reference data loaded)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await create_pool(database_url)
        runner = ProjectionRunner(pool, all_projections(), poll_interval=settings.poll_interval)
        app.state.pool = pool
        app.state.store = EventStore(pool)
        app.state.runner = runner
        task = asyncio.create_task(runner.run_forever(database_url)) if run_projections else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await pool.close()

    return Litestar(
        route_handlers=[
            health.health,
            pages.home,
            create_static_files_router(path="/static", directories=[static_dir()]),
        ],
        lifespan=[lifespan],
        dependencies={
            "pool": Provide(_pool, sync_to_thread=False),
            "runner": Provide(_runner, sync_to_thread=False),
        },
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(_jinja())),
        openapi_config=OpenAPIConfig(
            title="Musrenbang API",
            version="1",
            description="Participatory development planning for Kota Bekasi. Public, read-only data"
            " never includes proposers' personal data.",
            path="/schema",
        ),
        state=State({"settings": settings}),
    )


def app_from_env() -> Litestar:
    """Factory for the ASGI server's worker processes: `serve` prepared the database and passes its URL
    in MUSRENBANG_DATABASE_URL."""
    settings = Settings.from_env()
    url = settings.database_url or os.environ["MUSRENBANG_DATABASE_URL"]
    return create_app(settings, url)


def _jinja() -> Environment:
    return Environment(
        loader=FileSystemLoader(templates_dir()),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _pool(state: State) -> asyncpg.Pool:
    return state.pool


def _runner(state: State) -> ProjectionRunner:
    return state.runner
