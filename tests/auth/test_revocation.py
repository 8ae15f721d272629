"""Revocation: a deleted user's tokens and revoked ones are refused at the issuer at once and
below it within 5 s; `GET /auth/revocations` and its watch; an issuer unread past the grace.

The issuer runs on each database backend (`database_url`); the zone below it, which trusts
the issuer's tokens and follows its revocations, on SQLite.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import ZoneStarter, emptied_postgres
from tests.harness import Answer, Api, RunningZone, eventually, free_port, start_zone, zone_settings
from tests.statements import counting
from zones.auth.appkeys import TOKEN_ISSUER, TOKEN_VERIFIER
from zones.node.logs import FIELDS

PASSWORD = "member-pw"
BELOW_WITHIN = 5.0  # seconds: the contract's bound for a zone below the issuer


def subject(issuer: str, username: str) -> str:
    return hashlib.sha256(f"{issuer}\n{username}".encode()).hexdigest()


async def answer_to(http: aiohttp.ClientSession, zone: RunningZone, token: str) -> Answer:
    """What `zone` answers a call any user may make (its own client's instances)."""
    return await Api(http, zone.url, token).call("GET", "/instances")


async def works(http: aiohttp.ClientSession, zone: RunningZone, token: str) -> bool:
    answer = await answer_to(http, zone, token)
    assert answer.status in (200, 401), answer
    return answer.status == 200


async def refused_as_revoked(http: aiohttp.ClientSession, zone: RunningZone, token: str) -> bool:
    answer = await answer_to(http, zone, token)
    if answer.status == 200:
        return False
    assert answer.status == 401, answer
    assert "revoked" in answer.problem["detail"], answer
    return True


async def add_user(admin: Api, name: str, roles: list[str]) -> None:
    user = {"name": name, "password": PASSWORD, "client": "acme", "roles": roles}
    answer = await admin.call("POST", "/users", json_body={"user": user})
    assert answer.status == 201, answer


async def revoke(api: Api, body: dict[str, Any], token: str | None = None) -> Answer:
    return await api.call("POST", "/auth/tokens/revoke", json_body=body, token=token)


@pytest.fixture
async def issuer(zones: ZoneStarter, database_url: str) -> RunningZone:
    return await zones("top", database_url)


@pytest.fixture
async def below(zones: ZoneStarter, issuer: RunningZone) -> RunningZone:
    """A zone that trusts the issuer's tokens (and so follows its revocations)."""
    return await zones("below", auth={"trusted_issuers": [issuer.url]})


@pytest.fixture
async def top_admin(http: aiohttp.ClientSession, issuer: RunningZone) -> Api:
    return await Api(http, issuer.url).as_user()


# --- deleting a user, revoking on demand --------------------------------------------------


async def test_a_deleted_users_token_is_refused_at_the_issuer_at_once_and_below_within_5s(
    http: aiohttp.ClientSession, issuer: RunningZone, below: RunningZone, top_admin: Api
) -> None:
    await add_user(top_admin, "ops", ["admin"])
    token = await top_admin.login("ops", PASSWORD)
    assert await works(http, issuer, token)
    assert await works(http, below, token)

    assert (await top_admin.call("DELETE", "/users/ops")).status == 204
    assert await refused_as_revoked(http, issuer, token)
    started = time.monotonic()
    await eventually(lambda: refused_as_revoked(http, below, token), timeout=BELOW_WITHIN)
    assert time.monotonic() - started < BELOW_WITHIN
    assert await works(http, below, top_admin.token or "")  # others' tokens are untouched


async def test_revoking_ones_own_tokens_spares_those_issued_after(
    http: aiohttp.ClientSession, issuer: RunningZone, below: RunningZone, top_admin: Api
) -> None:
    await add_user(top_admin, "bob", ["member"])
    first, second = [await top_admin.login("bob", PASSWORD) for _ in range(2)]
    assert await works(http, below, first)

    assert (await revoke(top_admin, {}, token=first)).status == 204
    # Within the same second as the revocation, most likely: still not revoked.
    after = issuer.app[TOKEN_ISSUER].issue("bob", "acme", ["member"]).token
    for token in (first, second):
        assert await refused_as_revoked(http, issuer, token)
    await eventually(lambda: refused_as_revoked(http, below, second), timeout=BELOW_WITHIN)
    assert await works(http, issuer, after)
    assert await works(http, below, after)
    assert await works(http, below, await top_admin.login("bob", PASSWORD))


async def test_an_admin_revokes_a_users_tokens_and_a_member_only_its_own(
    http: aiohttp.ClientSession, issuer: RunningZone, below: RunningZone, top_admin: Api
) -> None:
    await add_user(top_admin, "bob", ["member"])
    await add_user(top_admin, "eve", ["member"])
    bob = await top_admin.login("bob", PASSWORD)
    eve = Api(http, issuer.url, await top_admin.login("eve", PASSWORD))
    assert await works(http, below, bob)

    refused = await revoke(eve, {"user": "bob"})
    assert refused.status == 403, refused
    assert "its own" in refused.problem["detail"]
    assert await works(http, issuer, bob)

    assert (await revoke(top_admin, {"user": "bob"})).status == 204
    assert await refused_as_revoked(http, issuer, bob)
    await eventually(lambda: refused_as_revoked(http, below, bob), timeout=BELOW_WITHIN)
    assert await works(http, issuer, top_admin.token or "")

    assert (await revoke(eve, {"user": "eve"})).status == 204  # naming itself is its own
    assert await refused_as_revoked(http, issuer, eve.token or "")


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        ({"user": "nobody"}, 404, "nobody"),
        ({"user": "bob", "also": 1}, 400, "also"),
        ({"user": "Not A Name!"}, 400, "user"),
        ({"user": 5}, 400, "user"),
    ],
    ids=["unknown-user", "extra-field", "bad-name", "not-a-string"],
)
async def test_revoking_refuses_bad_input(
    lone_admin: Api, body: dict[str, Any], status: int, said: str
) -> None:
    answer = await revoke(lone_admin, body)
    assert answer.status == status, answer
    assert said in answer.problem["detail"]


async def test_revoking_needs_a_token(http: aiohttp.ClientSession, lone_admin: Api) -> None:
    answer = await Api(http, lone_admin.url).call("POST", "/auth/tokens/revoke", json_body={})
    assert answer.status == 401, answer


# --- the issuer's revocations ---------------------------------------------------------------


async def test_the_revocations_are_open_to_anyone_and_name_no_user(
    http: aiohttp.ClientSession, issuer: RunningZone, top_admin: Api
) -> None:
    anyone = Api(http, issuer.url)
    empty = await anyone.call("GET", "/auth/revocations")
    assert empty.status == 200, empty
    assert set(empty.body) == {"revocations", "as_of"}
    assert empty.body["revocations"] == []

    await add_user(top_admin, "bob", ["member"])
    assert (await revoke(top_admin, {"user": "bob"})).status == 204
    listed = await anyone.call("GET", "/auth/revocations")
    [entry] = listed.body["revocations"]
    assert entry["subject"] == subject(issuer.url, "bob")
    assert "bob" not in str(listed.body)
    not_before = datetime.fromisoformat(entry["not_before"])
    as_of = datetime.fromisoformat(listed.body["as_of"])
    assert not_before.utcoffset() == as_of.utcoffset() == timedelta(0)

    before = (not_before - timedelta(microseconds=1)).isoformat()
    assert (await anyone.call("GET", f"/auth/revocations?after={before.replace('+', '%2B')}")).body[
        "revocations"
    ] == [entry]
    later = (not_before + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert (await anyone.call("GET", f"/auth/revocations?after={later}")).body["revocations"] == []


async def test_a_watch_on_the_revocations_answers_when_a_token_is_revoked(
    http: aiohttp.ClientSession, issuer: RunningZone, top_admin: Api
) -> None:
    anyone = Api(http, issuer.url)
    as_of = (await anyone.call("GET", "/auth/revocations")).body["as_of"]
    path = f"/auth/revocations?after={as_of.replace('+', '%2B')}"

    started = time.monotonic()
    quiet = await anyone.call("GET", path, headers={"Prefer": "wait=0.2"})
    assert time.monotonic() - started >= 0.2  # held for the wait: nothing was revoked
    assert quiet.status == 200, quiet
    assert quiet.body["revocations"] == []
    assert quiet.headers["Preference-Applied"] == "wait=0.2"

    await add_user(top_admin, "bob", ["member"])
    started = time.monotonic()
    # Held until the revocation (or, sent after it, answered at once): long before 30 s.
    held = asyncio.create_task(anyone.call("GET", path, headers={"Prefer": "wait=30"}))
    assert (await revoke(top_admin, {"user": "bob"})).status == 204
    answer = await asyncio.wait_for(held, timeout=10)
    assert time.monotonic() - started < 10
    assert [entry["subject"] for entry in answer.body["revocations"]] == [
        subject(issuer.url, "bob")
    ]


@pytest.mark.parametrize(
    ("query", "headers", "said"),
    [
        ("?after=garbage", {}, "after"),
        ("?after=", {}, "after"),
        ("?after=2026-12-05T10:00:00", {}, "after"),  # no time zone
        ("?after=9999-12-31T23:59:59-12:00", {}, "after"),
        ("", {"Prefer": "wait=soon"}, "Prefer"),
    ],
    ids=["garbage", "empty", "no-zone", "out-of-range", "bad-wait"],
)
async def test_bad_questions_about_the_revocations_are_400_naming_what(
    lone_admin: Api, query: str, headers: dict[str, str], said: str
) -> None:
    answer = await lone_admin.call("GET", f"/auth/revocations{query}", headers=headers, token="")
    assert answer.status == 400, answer
    assert answer.problem["detail"].startswith(said), answer.problem


# --- an issuer that cannot be read ----------------------------------------------------------


def told_unknown(caplog: pytest.LogCaptureFixture, issuer: str) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if (getattr(record, FIELDS, None) or {}).get("event") == "revocations-unknown"
        and getattr(record, FIELDS)["issuer"] == issuer
    ]


async def issuer_and_follower(tmp_path: Path, **auth: Any) -> tuple[RunningZone, RunningZone, Any]:
    """An issuer on a port it can be restarted on, and a zone following it with `auth`."""
    settings = zone_settings(tmp_path / "top", "top", zone={"listen": f"127.0.0.1:{free_port()}"})
    issuer = await start_zone(settings)
    follower = await start_zone(
        zone_settings(tmp_path / "below", "below", auth={"trusted_issuers": [issuer.url], **auth})
    )
    return issuer, follower, settings


async def test_past_the_grace_an_unread_issuers_tokens_are_refused_saying_why(
    tmp_path: Path, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    issuer, follower, settings = await issuer_and_follower(tmp_path, revocation_grace=1.0)
    try:
        token = issuer.app[TOKEN_ISSUER].issue("admin", "admin", ["admin"]).token
        assert await works(http, follower, token)

        await issuer.stop()

        async def refused() -> bool:
            answer = await answer_to(http, follower, token)
            return answer.status == 401

        await eventually(refused, timeout=10)
        detail = (await answer_to(http, follower, token)).problem["detail"]
        assert "revocations of issuer" in detail and "auth.revocation_grace" in detail
        assert issuer.url in detail
        assert len(told_unknown(caplog, issuer.url)) == 1  # said once, however often refused
        assert told_unknown(caplog, issuer.url)[0].levelno == logging.WARNING

        issuer = await start_zone(settings)
        await eventually(lambda: works(http, follower, token), timeout=10)
    finally:
        await follower.stop()
        await issuer.stop()


async def test_past_the_grace_an_unread_issuers_tokens_may_be_accepted(
    tmp_path: Path, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    issuer, follower, _ = await issuer_and_follower(
        tmp_path, revocation_grace=1.0, revocations_unknown="accept"
    )
    try:
        token = issuer.app[TOKEN_ISSUER].issue("admin", "admin", ["admin"]).token
        assert await works(http, follower, token)

        await issuer.stop()

        async def said_unknown() -> bool:
            await answer_to(http, follower, token)
            return bool(told_unknown(caplog, issuer.url))

        await eventually(said_unknown, timeout=10)
        assert await works(http, follower, token)
        assert len(told_unknown(caplog, issuer.url)) == 1
        assert getattr(told_unknown(caplog, issuer.url)[0], FIELDS)["revocations_unknown"] == (
            "accept"
        )
    finally:
        await follower.stop()
        await issuer.stop()


# --- one zone of several workers -------------------------------------------------------------


async def test_a_revocation_through_one_worker_is_refused_at_the_other_at_once(
    tmp_path: Path, http: aiohttp.ClientSession, postgres_database: str | None
) -> None:
    """Two apps of one zone over one PostgreSQL database, as two workers are: the second
    hears of the first's revocations by the commit feed, and of its deleted users."""
    database = await emptied_postgres(postgres_database)
    port = free_port()
    first = await start_zone(
        zone_settings(tmp_path, "top", database, zone={"listen": f"127.0.0.1:{port}"})
    )
    second = await start_zone(zone_settings(tmp_path, "top", database, zone={"url": first.url}))
    try:
        at_first = Api(http, first.url, await Api(http, first.url).login())
        at_second = f"http://127.0.0.1:{second.settings.listen_port}"
        await add_user(at_first, "bob", ["member"])
        await add_user(at_first, "ops", ["admin"])
        bob, ops = [await at_first.login(name, PASSWORD) for name in ("bob", "ops")]
        for token in (bob, ops):
            assert (await Api(http, at_second, token).call("GET", "/instances")).status == 200

        assert (await revoke(at_first, {"user": "bob"})).status == 204
        assert (await at_first.call("DELETE", "/users/ops")).status == 204
        for token in (bob, ops):
            refused = await Api(http, at_second, token).call("GET", "/instances")
            assert refused.status == 401, refused
            assert "revoked" in refused.problem["detail"]
    finally:
        await second.stop()
        await first.stop()


async def test_checking_a_token_for_revocation_asks_nothing_of_the_database(
    zones: ZoneStarter, database_url: str, http: aiohttp.ClientSession
) -> None:
    zone = await zones("top", database_url)
    admin = Api(http, zone.url, zone.app[TOKEN_ISSUER].issue("admin", "admin", ["admin"]).token)
    await add_user(admin, "bob", ["member"])
    assert (await revoke(admin, {"user": "bob"})).status == 204
    fresh = zone.app[TOKEN_ISSUER].issue("eve", "acme", ["member"]).token
    verifier = zone.app[TOKEN_VERIFIER]
    with counting(zone) as counted:
        for token in (admin.token or "", fresh, fresh):  # verified anew, then from memory
            await verifier.verify(token)
    assert counted.cost == {"statements": 0, "transactions": 0}
