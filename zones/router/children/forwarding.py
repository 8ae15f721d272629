"""Forwarding a caller's request to a child, and the headers that travel with it.

    Authorization: Bearer <caller token>    the child authorizes on the caller
    X-Zones-Service-Token: <parent token>   this zone's own service account at the child
    X-Zones-Path: uuid,uuid,...             every zone the request has visited
    X-Zones-Placement: forwarded            on creates: "nothing fits" is an answer, not a fault
    X-Zones-Settled: region,tier            requirement keys a zone above met with its own
                                            static capabilities: met for all below it too
    X-Zones-Target: eu-dc1                  place only inside the zone of that name (moves)
    X-Zones-Moving: acme,<created_at>       a create that is the new copy of a moving
                                            instance: it keeps its client and created_at
    X-Zones-Client: acme                    on deletes: whose instance the parent's mapping
                                            says it is, so a 404 still carries the child's
                                            client index answer for that client
    X-Zones-Budget-Ms: 4500                 how long the caller will still wait: the child
                                            waits less for its own children (zones nearest
                                            a failure give up first, and say so)
    X-Request-Id                            the same id all the way down

Answers coming back may carry X-Zones-Lookup (the child's client index
answer), X-Zones-Summary (its info after a write) and X-Zones-Unreachable
(the zones below it that could not be asked).

A zone that finds itself in X-Zones-Path, or a path already MAX_HOPS long,
answers 508: a misconfigured deployment cannot make a request loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from zones.auth.tokens import TokenVerifier, token_from_headers
from zones.capabilities.values import KEY_PATTERN
from zones.errors import ChildAnswerLost, ChildTimeout, ChildUnreachable, LoopDetected, Unauthorized
from zones.node.metrics.registry import Metrics, method_label
from zones.router.children.http import BUDGET_HEADER, ChildClient, Reply
from zones.router.children.models import ChildZone
from zones.router.children.retries import sent_again_when_lost
from zones.router.children.tokens import ChildCredentials, ChildTokens

SERVICE_TOKEN_HEADER = "X-Zones-Service-Token"
PATH_HEADER = "X-Zones-Path"
PLACEMENT_HEADER = "X-Zones-Placement"
SETTLED_HEADER = "X-Zones-Settled"
TARGET_HEADER = "X-Zones-Target"
MOVING_HEADER = "X-Zones-Moving"
# The create's id was made by the zone it entered, for this request, and this is its first
# sending: no zone can have seen it, so none needs to look for an earlier attempt.
FRESH_HEADER = "X-Zones-Fresh-Id"
CLIENT_HEADER = "X-Zones-Client"
MAX_HOPS = 16
FROM_PARENT_KEY = web.RequestKey("from_parent", bool)
# A call another zone relayed here for `?zone=` (zones.router.reaching) is the caller's own:
# the relaying zone's service token vouches for its budget and path, not for acting for it.
RELAYED_KEY = web.RequestKey("relayed", bool)


def visited_path(request: web.Request, own_uuid: str) -> list[str]:
    """The zones this request has visited, this one added; 508 when it comes back here."""
    raw = request.headers.get(PATH_HEADER, "")
    visited = [part for part in raw.split(",") if part][: MAX_HOPS + 1]
    if own_uuid in visited:
        raise LoopDetected("this request has already visited this zone: the zones form a loop")
    if len(visited) >= MAX_HOPS:
        raise LoopDetected(f"this request has crossed {MAX_HOPS} zones; refusing to go deeper")
    return [*visited, own_uuid]


def from_a_parent(request: web.Request) -> bool:
    """Whether a parent sent this request on for a caller, with a verified service token
    (see check_service_token); not so for a call relayed here by `?zone=`."""
    return bool(request.get(FROM_PARENT_KEY)) and not request.get(RELAYED_KEY)


def mark_relayed(request: web.Request) -> None:
    request[RELAYED_KEY] = True


def zone_budget(request: web.Request) -> str | None:
    """X-Zones-Budget-Ms, honoured from any zone that sent a verified service token."""
    return request.headers.get(BUDGET_HEADER) if request.get(FROM_PARENT_KEY) else None


def is_forwarded_create(request: web.Request) -> bool:
    """Only a parent may ask for "nothing fits" as an answer instead of a kept fault."""
    return from_a_parent(request) and request.headers.get(PLACEMENT_HEADER) == "forwarded"


def parent_header(request: web.Request, name: str) -> str | None:
    """A routing header, honoured only from a parent (a verified service token)."""
    return request.headers.get(name) if from_a_parent(request) else None


def settled_keys(request: web.Request) -> frozenset[str]:
    """Requirement keys the zones above already met (from a parent only; else none)."""
    if not from_a_parent(request):
        return frozenset()
    raw = request.headers.get(SETTLED_HEADER, "")
    return frozenset(key for key in raw.split(",") if KEY_PATTERN.fullmatch(key))


async def check_service_token(request: web.Request, verifier: TokenVerifier) -> None:
    """A parent's service token, when sent, must be good and must be a service's."""
    token = request.headers.get(SERVICE_TOKEN_HEADER)
    if token is None:
        return
    try:
        identity = await verifier.verify(token)
    except Unauthorized as exc:
        raise Unauthorized(f"{SERVICE_TOKEN_HEADER}: {exc.detail}") from exc
    if identity.roles.isdisjoint({"service", "admin"}):
        raise Unauthorized(f"{SERVICE_TOKEN_HEADER}: not a service account's token")
    request[FROM_PARENT_KEY] = True


def caller_token(request: web.Request) -> str:
    token = token_from_headers(request.headers)
    if token is None:
        raise Unauthorized("credentials required: send Authorization: Bearer <token>")
    return token


# What a forwarded call answered, with the routing headers that came back.
ChildAnswer = Reply


class Forwarder:
    """Sends callers' requests to children with the headers above, retrying lost connections.

    Retrying is safe only because every forwarded create carries its instance id.
    """

    def __init__(self, child_client: ChildClient, tokens: ChildTokens, metrics: Metrics) -> None:
        self._child_client = child_client
        self._tokens = tokens
        self._metrics = metrics

    async def send(
        self,
        child: ChildZone,
        method: str,
        path: str,
        *,
        request: web.Request,
        request_id: str,
        visited: list[str],
        payload: dict[str, Any] | None = None,
        placement: bool = False,
        settled: frozenset[str] = frozenset(),
        extra: dict[str, str] | None = None,
        wait: Callable[[], float] | None = None,
    ) -> ChildAnswer:
        """`wait()`, asked before each sending, is how long this zone may wait for the
        answer (the child is told, as its budget); none: the client's child timeout."""
        credentials = ChildCredentials.of(child)
        caller = caller_token(request)
        lost: list[ChildAnswerLost] = []
        sent = 0

        async def once() -> ChildAnswer:
            nonlocal sent
            service = await self._tokens.token_for(credentials, request_id)
            headers = {
                **(extra or {}),
                SERVICE_TOKEN_HEADER: service,
                PATH_HEADER: ",".join(visited),
            }
            sent += 1
            if sent > 1:  # an earlier sending may have been acted on: the id is not fresh
                headers.pop(FRESH_HEADER, None)
            if placement:
                headers[PLACEMENT_HEADER] = "forwarded"
            if settled:
                headers[SETTLED_HEADER] = ",".join(sorted(settled))
            timeout = None if wait is None else wait()
            if timeout is not None:
                headers[BUDGET_HEADER] = str(max(1, int(timeout * 1000)))
            with timed_forward(self._metrics, child.name, method) as outcome:
                try:
                    reply = await self._child_client.forward(
                        child.api_url,
                        method,
                        path,
                        caller_token=caller,
                        headers=headers,
                        request_id=request_id,
                        payload=payload,
                        timeout=timeout,
                    )
                except ChildAnswerLost as exc:
                    lost.append(exc)
                    raise
                outcome.status = reply.status
            if reply.status == 401 and service_token_refused(reply.body):
                self._tokens.forget(child.id)
            return reply

        try:
            answer: ChildAnswer = await sent_again_when_lost(once)
        except ChildUnreachable as exc:
            if lost:  # an earlier try may have reached the child: that is what counts
                raise lost[-1] from exc
            raise
        if answer.status == 401 and service_token_refused(answer.body):
            answer = await once()  # with a fresh service token
        return replace(answer, after_lost=bool(lost))


@dataclass
class ForwardOutcome:
    """What a forwarded call came to, for zones_forward_seconds: the status it answered."""

    status: int | None = None


@contextmanager
def timed_forward(metrics: Metrics, child: str, method: str) -> Iterator[ForwardOutcome]:
    """Time one call to a child, labelled answered (below 500), error, timeout, unreachable
    or lost."""
    started, outcome, label = time.perf_counter(), ForwardOutcome(), "error"
    try:
        yield outcome
        label = "answered" if outcome.status is not None and outcome.status < 500 else "error"
    except ChildTimeout:
        label = "timeout"
        raise
    except ChildUnreachable:
        label = "unreachable"
        raise
    except ChildAnswerLost:
        label = "lost"
        raise
    finally:
        seconds = time.perf_counter() - started
        metrics.forward_seconds.labels(child, method_label(method), label).observe(seconds)


def service_token_refused(body: Any) -> bool:
    """Whether a child's 401 refused this zone's service token (to be renewed), not the
    caller's own credentials."""
    return isinstance(body, dict) and SERVICE_TOKEN_HEADER in str(body.get("detail", ""))
