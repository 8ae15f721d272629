"""The app factory: `create_app(settings)` builds a whole zone node, and nothing else does.

Resources are cleanup contexts, appended in dependency order: the zone's keys,
the database (migrated, with its uuid and first admin), the one pooled HTTP
client for calls to other zones and what is built on it, then the poller task
(cancelled, then awaited, on the way down).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.engine import make_url

from zones.auth import handlers as auth_handlers
from zones.auth.appkeys import (
    REVOCATIONS,
    SECRET_BOX,
    SIGNING_KEY,
    TOKEN_ISSUER,
    TOKEN_VERIFIER,
)
from zones.auth.jwks import JwksCache
from zones.auth.keys import load_secret_box, load_signing_key
from zones.auth.revocation_watch import RevocationWatch
from zones.auth.revocations import RevocationList
from zones.auth.tokens import TokenIssuer, TokenVerifier
from zones.auth.users import ensure_admin
from zones.capabilities.hosts import handlers as host_handlers
from zones.capabilities.hosts.appkeys import HOST_BOARD
from zones.capabilities.hosts.board import HostBoard
from zones.node.appkeys import (
    CLAIMS,
    HTTP_SESSION,
    LEADERSHIP,
    OPENAPI,
    SESSIONS,
    SETTINGS,
    ZONE_UUID,
)
from zones.node.config import Settings
from zones.node.database import Sessions, create_engine, create_sessions, migrate
from zones.node.http import handlers as node_handlers
from zones.node.http.callers import AUTHENTICATOR
from zones.node.http.endpoints import EndpointTable
from zones.node.http.openapi import build_openapi
from zones.node.http.problems import problem_middleware
from zones.node.http.request_ids import request_id_middleware
from zones.node.http.server import IDLE_CONNECTION_SECONDS
from zones.node.identity import ensure_zone_uuid
from zones.node.logs import event
from zones.node.metrics.registry import METRICS, Metrics
from zones.node.ui import handlers as ui_handlers
from zones.node.workers.claims import Claims
from zones.node.workers.connections import ConnectionBudget, warn_if_the_server_lacks_connections
from zones.node.workers.feed import CommitFeed
from zones.node.workers.leader import Leadership
from zones.router.children.allowed import allowed_of, guarded_connector
from zones.router.children.appkeys import CHILD_CLIENT, CHILD_TOKENS, FORWARDER
from zones.router.children.forwarding import Forwarder
from zones.router.children.http import ChildClient
from zones.router.children.tokens import ChildTokens
from zones.router.following import handlers as zone_handlers
from zones.router.following import tree as tree_handlers
from zones.router.following.appkeys import POLLER, ZONE_INFO
from zones.router.following.info import ZoneInfoKeeper
from zones.router.following.observer import ChildObserver
from zones.router.following.poller import ChildPoller
from zones.router.following.watcher import ChildWatcher
from zones.router.index.appkeys import KEPT_ANSWERS
from zones.router.index.kept import KeptAnswers
from zones.router.instances import handlers as instance_handlers
from zones.router.instances.appkeys import ROUTING_CACHE, WRITE_SUMMARY
from zones.router.instances.cache import RoutingCache
from zones.router.lookup import handlers as lookup_handlers
from zones.router.observing import scrape as scrape_handlers
from zones.router.quotas import handlers as quota_handlers
from zones.router.quotas.appkeys import KEPT_QUOTAS
from zones.router.quotas.kept import KeptQuotas
from zones.router.reaching.relay import relay_middleware

log = logging.getLogger("zones.node")
ENDPOINT_TABLES: tuple[EndpointTable, ...] = (
    node_handlers.endpoints,
    lookup_handlers.endpoints,
    auth_handlers.endpoints,
    host_handlers.endpoints,
    zone_handlers.endpoints,
    tree_handlers.endpoints,
    instance_handlers.endpoints,
    quota_handlers.endpoints,
    ui_handlers.endpoints,
    scrape_handlers.endpoints,
)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        client_max_size=settings.zone.max_body_bytes,
        middlewares=[
            request_id_middleware(settings.zone.name),
            problem_middleware,
            relay_middleware,
        ],
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(keys_context)
    app.cleanup_ctx.append(database_context)
    app.cleanup_ctx.append(workers_context)
    app.cleanup_ctx.append(heartbeat_expiries_context)
    app.cleanup_ctx.append(http_session_context)
    app.cleanup_ctx.append(revocations_context)
    app.cleanup_ctx.append(poller_context)
    app.cleanup_ctx.append(announce_context)
    app.on_shutdown.append(release_watches)
    for table in ENDPOINT_TABLES:
        table.add_to(app)
    app[OPENAPI] = build_openapi(
        (endpoint for table in ENDPOINT_TABLES for endpoint in table.endpoints), settings.url
    )
    return app


async def keys_context(app: web.Application) -> AsyncIterator[None]:
    secrets_dir = app[SETTINGS].secrets_dir
    app[SIGNING_KEY] = load_signing_key(secrets_dir)
    app[SECRET_BOX] = load_secret_box(secrets_dir)
    yield


async def prepare(settings: Settings) -> None:
    """What a zone's workers share, made once before they start: the keys (so that a token
    one worker issued verifies at another), the schema, the zone's uuid and first admin."""
    load_signing_key(settings.secrets_dir)
    load_secret_box(settings.secrets_dir)
    engine = create_engine(settings.database_url, connections=1)
    try:
        await set_up_database(settings, create_sessions(engine))
    finally:
        await engine.dispose()
    await warn_if_the_server_lacks_connections(settings)


async def set_up_database(settings: Settings, sessions: Sessions) -> str:
    """Migrate the schema and make sure of the zone's uuid (returned) and first admin."""
    await migrate(sessions.kw["bind"])
    async with sessions.begin() as session:
        zone_uuid = await ensure_zone_uuid(session)
        admin_password = settings.auth.admin_password
        await ensure_admin(
            session,
            None if admin_password is None else admin_password.get_secret_value(),
            settings.auth.admin_client,
        )
    return zone_uuid


async def database_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url, ConnectionBudget.of(settings).statements)
    try:
        sessions = create_sessions(engine)
        app[ZONE_UUID] = await set_up_database(settings, sessions)
        if settings.on_postgresql and settings.zone.workers == 1:  # else prepare() said it
            await warn_if_the_server_lacks_connections(settings)
        app[SESSIONS] = sessions
        app[HOST_BOARD] = HostBoard(
            refresh=settings.router.reread_interval,
            flush_interval=settings.hosts.expiry_flush_interval,
        )
        yield
    finally:
        await engine.dispose()


async def workers_context(app: web.Application) -> AsyncIterator[None]:
    """What keeps several workers over one PostgreSQL database one zone: claims per instance
    id, and the commit feed that tells each worker's copies what the others wrote."""
    settings = app[SETTINGS]
    postgresql = settings.database_url if settings.on_postgresql else None
    app[CLAIMS] = Claims(postgresql, concurrent=ConnectionBudget.of(settings).claims)
    listening = None
    if postgresql is not None:
        feed = CommitFeed(app[SESSIONS], postgresql)
        app[HOST_BOARD].follow_elsewhere(app[SESSIONS])
        listening = asyncio.create_task(feed.listen_forever(), name="commit feed")
    try:
        yield
    finally:
        if listening is not None:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
        await app[CLAIMS].close()


async def heartbeat_expiries_context(app: web.Application) -> AsyncIterator[None]:
    """Write the expiries heartbeats moved in memory, and the last of them on the way out."""
    board, sessions = app[HOST_BOARD], app[SESSIONS]
    task = asyncio.create_task(board.flush_forever(sessions), name="heartbeat expiries")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await board.flush(sessions)


async def http_session_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    # One watch is held open on each child (zones.router.following.watcher), beside the
    # calls forwarded to it: the pool must hold a few connections per child. An idle one
    # is let go before the child's header clock would close it under a new request.
    rules = settings.router.allowed_children
    connector = guarded_connector(
        rules,
        settings.trusted_issuers,
        limit=2000,
        limit_per_host=50,
        ttl_dns_cache=300,
        keepalive_timeout=IDLE_CONNECTION_SECONDS,
    )
    async with aiohttp.ClientSession(connector=connector) as session:
        app[HTTP_SESSION] = session
        jwks = JwksCache(session, timeout=settings.router.child_timeout)
        app[REVOCATIONS] = RevocationList(settings.url, settings.trusted_issuers, settings.auth)
        app[TOKEN_VERIFIER] = TokenVerifier(
            settings.url, app[SIGNING_KEY], settings.trusted_issuers, jwks, app[REVOCATIONS]
        )
        app[AUTHENTICATOR] = app[TOKEN_VERIFIER]
        app[TOKEN_ISSUER] = TokenIssuer(app[SIGNING_KEY], settings.url, settings.auth.token_ttl)
        app[CHILD_CLIENT] = ChildClient(session, settings.router.child_timeout, allowed_of(rules))
        app[CHILD_TOKENS] = ChildTokens(app[CHILD_CLIENT], app[SECRET_BOX])
        app[FORWARDER] = Forwarder(app[CHILD_CLIENT], app[CHILD_TOKENS], app[METRICS])
        app[ROUTING_CACHE] = RoutingCache(
            app[SESSIONS], app[CLAIMS], children_ttl=settings.router.reread_interval
        )
        app[KEPT_ANSWERS] = KeptAnswers(app[SESSIONS], max_age=settings.router.reread_interval)
        app[KEPT_QUOTAS] = KeptQuotas(app[SESSIONS], max_age=settings.router.reread_interval)
        app[ZONE_INFO] = ZoneInfoKeeper(
            settings,
            app[ZONE_UUID],
            app[SESSIONS],
            app[HOST_BOARD],
            app[ROUTING_CACHE],
            max_age=settings.router.reread_interval,
        )
        app[WRITE_SUMMARY] = app[ZONE_INFO].summary
        yield


async def revocations_context(app: web.Application) -> AsyncIterator[None]:
    """This zone's revocations read into memory, and a watch on each trusted issuer's."""
    settings, revocations = app[SETTINGS], app[REVOCATIONS]
    await revocations.load(app[SESSIONS])
    watches = [
        RevocationWatch(
            issuer,
            app[HTTP_SESSION],
            revocations,
            settings.auth.revocation_grace,
            settings.router.child_timeout,
        )
        for issuer in revocations.followed_issuers
    ]
    tasks = [asyncio.create_task(w.run(), name=f"revocations of {w.issuer}") for w in watches]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def release_watches(app: web.Application) -> None:
    """Answer the watches parents hold here now: a stopping zone must not wait them out."""
    if ZONE_INFO in app:
        app[ZONE_INFO].release()
    if REVOCATIONS in app:
        app[REVOCATIONS].release()


async def poller_context(app: web.Application) -> AsyncIterator[None]:
    """Follow the children (watches, or polls only): on PostgreSQL only while this worker
    holds the zone's leadership, so that one worker of the zone follows them at a time."""
    settings = app[SETTINGS]
    poller = ChildPoller(
        app[SESSIONS],
        app[CHILD_CLIENT],
        app[CHILD_TOKENS],
        settings.poll,
        app[ZONE_UUID],
        ChildObserver(app[METRICS], settings.zone.name),
    )
    app[POLLER] = poller
    follow: Callable[[], Coroutine[Any, Any, None]] = poller.run
    if settings.poll.watch:
        follow = ChildWatcher(poller, app[SESSIONS], settings.poll).run
    if settings.on_postgresql:
        app[LEADERSHIP] = Leadership(settings.database_url, settings.zone.name)
        task = asyncio.create_task(app[LEADERSHIP].run(follow), name="leadership")
    else:
        task = asyncio.create_task(follow(), name="child follower")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def announce_context(app: web.Application) -> AsyncIterator[None]:
    """A line when the zone starts serving, saying what and where, and one when it stops."""
    settings = app[SETTINGS]
    said: dict[str, Any] = {
        "zone": settings.zone.name,
        "url": settings.url,
        "uuid": app[ZONE_UUID],
        "database": make_url(settings.database_url).render_as_string(hide_password=True),
        "workers": settings.zone.workers,
        "pid": os.getpid(),
        "trusted_issuers": sorted(settings.trusted_issuers),
    }
    started = f"zone {settings.zone.name} serves at {settings.url} (pid {os.getpid()})"
    event(log, started, event="zone-start", **said)
    yield
    event(log, f"zone {settings.zone.name} stops (pid {os.getpid()})", event="zone-stop", **said)
