"""`GET /metrics`: the zone's counters and histograms, and its state read at each scrape.

State series, read from the database (so any worker of a zone says the same):

    zones_child_up{child}                            1 online, 0 otherwise
    zones_child_state{child,state}                   1 for the child's state, 0 for the others
    zones_child_last_seen_timestamp_seconds{child}   when it last answered (absent: never)
    zones_hosts_live                                 this zone's own live hosts
    zones_instances{status}                          instances held here, by status
    zones_free{resource,kind}                        own hosts' free room: max on one, sum

Who may read it: admins, a scraper holding `[metrics] token` as its bearer
token, or anyone when `[metrics] open = true`.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import get_args

from aiohttp import web
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from zones.auth.tokens import token_from_headers
from zones.capabilities.aggregate import free_of_hosts, free_to_json
from zones.capabilities.hosts.appkeys import HOST_BOARD
from zones.errors import Forbidden, Unauthorized, Unavailable
from zones.node.appkeys import SESSIONS, SETTINGS
from zones.node.http.callers import AUTHENTICATOR, Role, require_roles
from zones.node.http.endpoints import Call, EndpointTable
from zones.node.metrics.registry import METRICS, TEXT_CONTENT_TYPE
from zones.router.children.models import ChildZone, ZoneState
from zones.router.children.registry import list_children
from zones.router.instances.models import Instance

endpoints = EndpointTable("metrics")
STATES: tuple[str, ...] = get_args(ZoneState)
INSTANCE_STATUSES = ("ACTIVE", "ERROR", "UNKNOWN", "DELETED")


@endpoints.route(
    "GET",
    "/metrics",
    summary="Prometheus text exposition: admins, the [metrics] token, or anyone when open",
    errors=[Unauthorized, Forbidden, Unavailable],
    content_type="text/plain",
)
async def metrics(call: Call[None]) -> web.StreamResponse:
    await allow_scrape(call.request)
    state = await read_state(call.request.app)
    text = call.app[METRICS].exposition([state])
    return web.Response(body=text, headers={"Content-Type": TEXT_CONTENT_TYPE})


async def allow_scrape(request: web.Request) -> None:
    settings = request.app[SETTINGS].metrics
    if settings.open:
        return
    token = token_from_headers(request.headers)
    if settings.token is not None and token is not None:
        if hmac.compare_digest(token.encode(), settings.token.get_secret_value().encode()):
            return
    require_roles(await request.app[AUTHENTICATOR].identify(request.headers), [Role.ADMIN])


@dataclass(eq=False)  # registered by identity for one scrape
class ScrapedState(Collector):
    """The state series of one scrape, as read just before it."""

    children: list[tuple[str, str, float | None]] = field(default_factory=list)
    hosts_live: int = 0
    instances: dict[str, int] = field(default_factory=dict)
    free: dict[str, dict[str, float]] = field(default_factory=dict)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self.child_series()
        yield GaugeMetricFamily("zones_hosts_live", "This zone's own live hosts", self.hosts_live)
        instances = GaugeMetricFamily(
            "zones_instances", "Instances held by this zone, by status", labels=["status"]
        )
        for status in sorted({*INSTANCE_STATUSES, *self.instances}):
            instances.add_metric([status], self.instances.get(status, 0))
        yield instances
        free = GaugeMetricFamily(
            "zones_free",
            "Free room on this zone's own hosts: the most on one host (max), and all (sum)",
            labels=["resource", "kind"],
        )
        for resource, amounts in self.free.items():
            for kind in ("max", "sum"):
                free.add_metric([resource, kind], amounts[kind])
        yield free

    def child_series(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("zones_child_up", "1 when the child is online", labels=["child"])
        states = GaugeMetricFamily(
            "zones_child_state", "1 for the child's state", labels=["child", "state"]
        )
        seen = GaugeMetricFamily(
            "zones_child_last_seen_timestamp_seconds",
            "When the child last answered (Unix time)",
            labels=["child"],
        )
        for name, state, last_seen in self.children:
            up.add_metric([name], 1 if state == "online" else 0)
            for each in STATES:
                states.add_metric([name, each], 1 if each == state else 0)
            if last_seen is not None:
                seen.add_metric([name], last_seen)
        yield from (up, states, seen)


async def read_state(app: web.Application) -> ScrapedState:
    count = func.count(Instance.id)
    async with app[SESSIONS].begin() as session:
        children: list[ChildZone] = await list_children(session)
        hosts = await app[HOST_BOARD].live(session)
        rows = await session.execute(select(Instance.status, count).group_by(Instance.status))
        instances = {str(status): int(number) for status, number in rows.all()}
    return ScrapedState(
        children=[
            (
                child.name,
                child.display_state,
                None if child.last_seen is None else child.last_seen.timestamp(),
            )
            for child in children
        ],
        hosts_live=len(hosts),
        instances=instances,
        free=free_to_json(free_of_hosts(host.free for host in hosts)),
    )
