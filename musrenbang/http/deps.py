"""The dependencies that handlers take, by name: the ones app.py provides to every handler (`pool` also
from reads.FROM_REPLICA). Litestar injects a dependency into a parameter of the same name, and the
parameter must say that it is one (`NamedDependency`: inferring it from the name alone is deprecated and
stops working in Litestar 3), so a handler writes `pool: PoolDep`, `actor: ActorDep` and so on.

These aliases must be imported at run time (not under `TYPE_CHECKING`): Litestar resolves each handler's
annotations, strings under `from __future__ import annotations`, in the handler's module."""

from __future__ import annotations

from typing import Annotated, TypeAlias

import asyncpg
from litestar.di import NamedDependency
from litestar.params import PathParameter

from musrenbang.domain import bounds
from musrenbang.domain.access import Actor
from musrenbang.eventlog.store import EventStore
from musrenbang.http.stopping import Stopping
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.forums import ForumService
from musrenbang.services.pokir import PokirService
from musrenbang.services.proposals import ProposalService
from musrenbang.services.realisation import RealisationService
from musrenbang.services.rkpd import RkpdService

PoolDep: TypeAlias = NamedDependency[asyncpg.Pool]
"""`pool`: the primary's pool, or with `dependencies=FROM_REPLICA` the database chosen for a read."""
ActorDep: TypeAlias = NamedDependency[Actor]
"""`actor`: the signed-in account (auth.current_actor); 401 when signed out."""
RunnerDep: TypeAlias = NamedDependency[ProjectionRunner]
"""`runner`"""
StoreDep: TypeAlias = NamedDependency[EventStore]
"""`store`"""
ProposalsDep: TypeAlias = NamedDependency[ProposalService]
"""`proposals`"""
ForumsDep: TypeAlias = NamedDependency[ForumService]
"""`forums`"""
RkpdDep: TypeAlias = NamedDependency[RkpdService]
"""`rkpd`"""
RealisationDep: TypeAlias = NamedDependency[RealisationService]
"""`realisation`"""
PokirDep: TypeAlias = NamedDependency[PokirService]
"""`pokir`"""
StoppingDep: TypeAlias = NamedDependency[Stopping]
"""`stopping`: set when the server process is asked to stop (stopping.py)."""

Year: TypeAlias = Annotated[int, PathParameter(ge=bounds.MIN_YEAR, le=bounds.MAX_YEAR, description="RKPD year")]
"""`{year:int}` in a route's path: an RKPD year, out of range 400 before the handler runs."""
