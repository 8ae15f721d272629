"""Users: an admin creates, lists and deletes them; bad input and other roles are refused.

Every test runs on both database backends through the `zone` fixture.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from tests.harness import ADMIN_PASSWORD, Answer, Api, RunningZone

PASSWORD = "s3cret-pw"
USER_FIELDS = {"name", "client", "roles", "created_at"}


def new_user(name: str = "bob", **fields: Any) -> dict[str, Any]:
    return {"user": {"name": name, "password": PASSWORD, "client": "acme", **fields}}


async def create(admin: Api, name: str = "bob", **fields: Any) -> Answer:
    return await admin.call("POST", "/users", json_body=new_user(name, **fields))


async def user_names(admin: Api) -> list[str]:
    answer = await admin.call("GET", "/users")
    assert answer.status == 200, answer
    return sorted(user["name"] for user in answer.body["users"])


async def logs_in(api: Api, name: str, password: str = PASSWORD) -> int:
    answer = await api.call(
        "POST", "/auth/tokens", json_body={"username": name, "password": password}, token=""
    )
    return answer.status


def assert_problem(answer: Answer, status: int, title: str) -> dict[str, Any]:
    assert answer.status == status, answer
    problem = answer.problem
    assert (problem["status"], problem["title"]) == (status, title)
    assert problem["type"] and problem["detail"]
    return problem


def names_field(detail: str, field: str) -> bool:
    """Whether a 400 detail ("a: msg; b.c: msg") names `field` as one of the bad fields."""
    return re.search(rf"(^|; ){re.escape(field)}:", detail) is not None


# --- create, list, delete -------------------------------------------------------------------


async def test_create_answers_the_user_and_never_a_password(admin: Api) -> None:
    before = datetime.now(UTC)
    answer = await create(admin, "bob", roles=["service", "member"])
    assert answer.status == 201, answer
    assert answer.headers["Content-Type"].startswith("application/json")
    assert set(answer.body) == {"user"}
    user = answer.body["user"]
    assert set(user) == USER_FIELDS
    assert (user["name"], user["client"], user["roles"]) == ("bob", "acme", ["member", "service"])
    created_at = datetime.fromisoformat(user["created_at"])
    assert created_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= created_at <= datetime.now(UTC)

    listed = await admin.call("GET", "/users")
    [bob] = [entry for entry in listed.body["users"] if entry["name"] == "bob"]
    assert bob == user
    for seen in (answer.body, listed.body):
        text = json.dumps(seen)
        assert PASSWORD not in text and ADMIN_PASSWORD not in text
        assert "password" not in text and "hash" not in text and "scrypt" not in text


async def test_roles_default_to_member(admin: Api) -> None:
    answer = await create(admin, "carol")
    assert answer.status == 201, answer
    assert answer.body["user"]["roles"] == ["member"]


async def test_list_shows_every_user(admin: Api) -> None:
    assert await user_names(admin) == ["admin"]
    for name in ("dave", "erin"):
        assert (await create(admin, name)).status == 201
    answer = await admin.call("GET", "/users")
    assert set(answer.body) == {"users"}
    assert all(set(user) == USER_FIELDS for user in answer.body["users"])
    assert await user_names(admin) == ["admin", "dave", "erin"]


async def test_a_new_user_logs_in_and_a_deleted_one_cannot(admin: Api) -> None:
    assert (await create(admin, "frank")).status == 201
    assert await logs_in(admin, "frank") == 201

    deleted = await admin.call("DELETE", "/users/frank")
    assert deleted.status == 204, deleted
    assert deleted.body is None
    assert await user_names(admin) == ["admin"]
    assert await logs_in(admin, "frank") == 401

    again = await admin.call("DELETE", "/users/frank")
    assert "frank" in assert_problem(again, 404, "Not Found")["detail"]


# --- bad input ------------------------------------------------------------------------------

GOOD = {"name": "bob", "password": PASSWORD, "client": "acme"}

BAD_BODIES: list[tuple[str, Any, str]] = [
    ("malformed-json", '{"user": {"name": "bob",', "body"),
    ("list", [{"user": GOOD}], "body"),
    ("no-envelope", GOOD, "user"),
    ("missing-name", {"user": {"password": PASSWORD, "client": "acme"}}, "user.name"),
    ("missing-password", {"user": {"name": "bob", "client": "acme"}}, "user.password"),
    ("missing-client", {"user": {"name": "bob", "password": PASSWORD}}, "user.client"),
    ("name-number", {"user": {**GOOD, "name": 5}}, "user.name"),
    ("password-empty", {"user": {**GOOD, "password": ""}}, "user.password"),
    ("client-with-space", {"user": {**GOOD, "client": "Acme Corp"}}, "user.client"),
    ("roles-string", {"user": {**GOOD, "roles": "admin"}}, "user.roles"),
    ("roles-number-item", {"user": {**GOOD, "roles": [1]}}, "user.roles.0"),
    ("unknown-role", {"user": {**GOOD, "roles": ["root"]}}, "user.roles.0"),
    ("duplicate-role", {"user": {**GOOD, "roles": ["member", "member"]}}, "user.roles"),
    ("empty-roles", {"user": {**GOOD, "roles": []}}, "user.roles"),
    ("name-with-space", {"user": {**GOOD, "name": "Bad Name"}}, "user.name"),
    ("name-uppercase", {"user": {**GOOD, "name": "Bob"}}, "user.name"),
    ("name-leading-dash", {"user": {**GOOD, "name": "-x"}}, "user.name"),
    ("name-64-chars", {"user": {**GOOD, "name": "x" * 64}}, "user.name"),
    ("name-trailing-newline", {"user": {**GOOD, "name": "bob\n"}}, "user.name"),
    ("extra-field-inside", {"user": {**GOOD, "is_admin": True}}, "user.is_admin"),
    ("extra-field-outside", {"user": GOOD, "roles": ["admin"]}, "roles"),
]


@pytest.mark.parametrize(
    ("body", "field"),
    [(body, field) for _, body, field in BAD_BODIES],
    ids=[case for case, _, _ in BAD_BODIES],
)
async def test_bad_user_bodies_are_400_naming_the_field_and_store_nothing(
    admin: Api, body: Any, field: str
) -> None:
    data = body if isinstance(body, str) else json.dumps(body)
    answer = await admin.call(
        "POST", "/users", data=data, headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(answer, 400, "Bad Request")
    assert names_field(problem["detail"], field), problem
    assert PASSWORD not in json.dumps(problem)
    assert await user_names(admin) == ["admin"]


async def test_a_name_up_to_63_characters_is_fine(admin: Api) -> None:
    """The limit just below the bad 64-character name above."""
    name = "a" + "b.c_d-e" * 8 + "x" * 6
    assert len(name) == 63
    answer = await create(admin, name)
    assert answer.status == 201, answer
    assert await user_names(admin) == sorted(["admin", name])


async def test_a_duplicate_name_is_409_and_keeps_the_first(admin: Api) -> None:
    assert (await create(admin, "bob")).status == 201
    answer = await admin.call(
        "POST",
        "/users",
        json_body={
            "user": {"name": "bob", "password": "other", "client": "evil", "roles": ["admin"]}
        },
    )
    assert "bob" in assert_problem(answer, 409, "Conflict")["detail"]
    listed = await admin.call("GET", "/users")
    [bob] = [user for user in listed.body["users"] if user["name"] == "bob"]
    assert (bob["client"], bob["roles"]) == ("acme", ["member"])
    assert await logs_in(admin, "bob", "other") == 401


async def test_creating_the_same_name_twice_at_once_is_one_201_and_one_409(admin: Api) -> None:
    answers = await asyncio.gather(create(admin, "twin"), create(admin, "twin"))
    assert sorted(answer.status for answer in answers) == [201, 409], answers
    assert await user_names(admin) == ["admin", "twin"]


@pytest.mark.parametrize(
    "name",
    ["Bad%20Name", "-x", "x" * 64, "bob%0A"],
    ids=["space", "leading-dash", "64-chars", "trailing-newline"],
)
async def test_delete_of_a_name_breaking_the_pattern_is_400(admin: Api, name: str) -> None:
    answer = await admin.call("DELETE", f"/users/{name}")
    problem = assert_problem(answer, 400, "Bad Request")
    assert problem["detail"].startswith("name:"), problem
    assert await user_names(admin) == ["admin"]


async def test_the_last_admin_cannot_be_deleted(admin: Api) -> None:
    answer = await admin.call("DELETE", "/users/admin")
    assert "admin" in assert_problem(answer, 409, "Conflict")["detail"]
    listed = await admin.call("GET", "/users")
    assert [(user["name"], user["roles"]) for user in listed.body["users"]] == [
        ("admin", ["admin"])
    ]


async def test_an_admin_may_go_while_another_admin_stays(admin: Api) -> None:
    assert (await create(admin, "root2", roles=["admin"])).status == 201
    second = await admin.as_user("root2", PASSWORD)
    assert (await second.call("DELETE", "/users/admin")).status == 204
    answer = await second.call("DELETE", "/users/root2")
    assert_problem(answer, 409, "Conflict")
    assert await user_names(second) == ["root2"]


async def test_deleting_every_admin_at_once_leaves_one(admin: Api) -> None:
    """The last-admin rule holds under concurrency: of N racing deletes, exactly one is 409."""
    others = [f"root{number}" for number in range(2, 7)]
    for name in others:
        assert (await create(admin, name, roles=["admin"])).status == 201
    names = ["admin", *others]
    # open one connection per request first, so the deletes reach the zone together
    await asyncio.gather(*(admin.call("GET", "/healthz") for _ in names))
    answers = await asyncio.gather(*(admin.call("DELETE", f"/users/{name}") for name in names))
    statuses = [answer.status for answer in answers]
    assert sorted(statuses) == [204] * len(others) + [409], dict(zip(names, statuses, strict=True))
    survivor = names[statuses.index(409)]
    survivor_password = ADMIN_PASSWORD if survivor == "admin" else PASSWORD
    assert await logs_in(admin, survivor, survivor_password) == 201


# --- who may manage users -------------------------------------------------------------------

ADMIN_ONLY: list[tuple[str, str, Any]] = [
    ("POST", "/users", new_user("intruder", roles=["admin"])),
    ("GET", "/users", None),
    ("DELETE", "/users/admin", None),
    ("GET", "/zones", None),
]


@pytest.mark.parametrize(("role", "name"), [("member", "mia"), ("service", "sid"), ("host", "hal")])
async def test_other_roles_get_403_naming_the_roles_needed(
    admin: Api, role: str, name: str
) -> None:
    assert (await create(admin, name, roles=[role])).status == 201
    caller = await admin.as_user(name, PASSWORD)
    for method, path, body in ADMIN_ONLY:
        answer = await caller.call(method, path, json_body=body)
        problem = assert_problem(answer, 403, "Forbidden")
        assert "admin" in problem["detail"] and role in problem["detail"], (method, path, problem)

    malformed = await caller.call("POST", "/users", data="{")
    assert_problem(malformed, 403, "Forbidden")
    assert await user_names(admin) == ["admin", name]


async def test_no_token_gets_401_everywhere_an_admin_is_needed(
    http: aiohttp.ClientSession, zone: RunningZone, admin: Api
) -> None:
    anonymous = Api(http, zone.url)
    for method, path, body in ADMIN_ONLY:
        answer = await anonymous.call(method, path, json_body=body)
        assert_problem(answer, 401, "Unauthorized")
    assert await user_names(admin) == ["admin"]
