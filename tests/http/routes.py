"""Every GET route of the application, read from its own route table (the app is built, never started), and
the URLs that fill a route's path parameters with real values.

A route is a staff route when its handler takes the signed-in `actor` (the `Actor` dependency refuses
anyone else); everything else is public. Tests that must cover every page use `fill`, which fails on a
parameter it has no values for, so a new page cannot slip past them."""

from __future__ import annotations

import inspect
import itertools
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote

from litestar.routes import HTTPRoute

from musrenbang.config import Settings
from musrenbang.http.app import create_app


@dataclass(frozen=True)
class Route:
    path: str
    """as the route table writes it, e.g. `/telusur/rkpd/{year}/{line_id}`"""
    params: tuple[str, ...]
    staff: bool
    handler: str


@cache
def get_routes() -> tuple[Route, ...]:
    app = create_app(Settings.from_env({}), "postgresql://unused@127.0.0.1:1/unused", "00" * 32,
                     run_projections=False)  # fmt: skip
    routes = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if "GET" not in handler.http_methods:
                continue
            actor = inspect.signature(handler.fn).parameters.get("actor")
            staff = actor is not None and "None" not in str(actor.annotation)
            routes.append(Route(route.path_format, tuple(route.path_parameters), staff, handler.fn.__name__))
    return tuple(sorted(routes, key=lambda r: r.path))


def public_routes() -> list[Route]:
    return [r for r in get_routes() if not r.staff]


def staff_routes() -> list[Route]:
    return [r for r in get_routes() if r.staff]


def unfillable(routes: list[Route], values: dict[str, list[str]]) -> dict[str, list[str]]:
    """route -> its path parameters that `values` has nothing for."""
    missing = {r.path: [p for p in r.params if not values.get(p)] for r in routes}
    return {path: params for path, params in missing.items() if params}


def fill(route: Route, values: dict[str, list[str]]) -> list[str]:
    """Every URL of `route` with its parameters taken from `values` (all combinations)."""
    urls = []
    for combination in itertools.product(*(values[p] for p in route.params)):
        url = route.path
        for param, value in zip(route.params, combination, strict=True):
            url = url.replace("{" + param + "}", quote(str(value), safe="/"))
        urls.append(url)
    return urls
