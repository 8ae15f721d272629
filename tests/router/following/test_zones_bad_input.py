"""Bad input on `/zones`: every refusal is a 400 (or 413) naming the field, and stores nothing.

Validation happens before anything is stored, so one zone per backend serves
the whole module: each case checks that the zone's children are exactly as
they were before it, and puts them back if a case wrongly changed them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.conftest import emptied_postgres
from tests.harness import Answer, Api, RunningZone, start_zone, zone_settings

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Port 9 (discard) is outside the ephemeral range, so no test zone ever listens there.
GOOD = {"api_url": "http://127.0.0.1:9", "username": "svc", "password": "Never-Echo-Th1s"}
MISSING = object()


@dataclass
class Shared:
    """One zone for the whole module, its admin, and one child registered in it."""

    admin: Api
    child: dict[str, Any]

    async def children(self) -> list[dict[str, Any]]:
        answer = await self.admin.call("GET", "/zones")
        assert answer.status == 200, answer
        children: list[dict[str, Any]] = answer.body["zones"]
        return children

    async def restore(self) -> None:
        """Undo whatever a case wrongly stored, so the next case starts clean."""
        children = await self.children()
        for child in children:
            if child["id"] != self.child["id"]:
                await self.admin.call("DELETE", f"/zones/{child['id']}")
        if self.child in children:
            return
        if all(child["id"] != self.child["id"] for child in children):
            created = await self.admin.call("POST", "/zones", json_body={"zone": GOOD})
            self.child = created.body["zone"]
            return
        fields = ("name", "api_url", "username", "enabled", "weight_offset")
        original = {key: self.child[key] for key in fields} | {"password": GOOD["password"]}
        await self.admin.call("PUT", f"/zones/{self.child['id']}", json_body={"zone": original})


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def shared(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_database: str | None,
) -> AsyncIterator[Shared]:
    directory = tmp_path_factory.mktemp(f"bad-input-{request.param}")
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{directory / 'zone.db'}"
    else:
        database_url = await emptied_postgres(postgres_database)
    # Polls would change the registered child under the cases' feet: one round, at start.
    settings = zone_settings(directory, "alpha", database_url, poll={"interval": 86400})
    zone: RunningZone = await start_zone(settings)
    try:
        async with aiohttp.ClientSession() as session:
            admin = await Api(session, zone.url).as_user()
            created = await admin.call("POST", "/zones", json_body={"zone": GOOD})
            assert created.status == 201, created
            yield Shared(admin, created.body["zone"])
    finally:
        await zone.stop()


def zone_body(**changes: Any) -> str:
    """A zone-add body: GOOD with fields changed, or removed when given MISSING."""
    zone = {**GOOD, **changes}
    return json.dumps({"zone": {key: value for key, value in zone.items() if value is not MISSING}})


def names_field(answer: Answer, field: str) -> bool:
    """Whether the problem's detail has an entry `field: ...` (entries are joined by "; ")."""
    entries = answer.problem["detail"].split("; ")
    return any(entry.partition(": ")[0] == field for entry in entries)


async def expect_refusal(
    shared: Shared, method: str, path: str, body: str | bytes, status: int, field: str
) -> Answer:
    before = await shared.children()
    try:
        answer = await shared.admin.call(method, path, data=body)
        assert answer.status == status, answer
        assert answer.problem["status"] == status
        assert names_field(answer, field), answer.problem["detail"]
        assert await shared.children() == before
    finally:
        await shared.restore()
    return answer


# ---------------------------------------------------------------- POST /zones

POST_CASES: dict[str, tuple[str | bytes, str]] = {
    # the body as a whole
    "malformed JSON": ('{"zone": {', "body"),
    "trailing garbage": (zone_body() + " x", "body"),
    "empty body": ("", "body"),
    "not UTF-8": (b'{"zone": "\xff\xfe"}', "body"),
    "a list": (json.dumps([{"zone": GOOD}]), "body"),
    "a string": ('"zone"', "body"),
    "null": ("null", "body"),
    "a number": ("42", "body"),
    "Infinity literal": (zone_body().replace("}}", ', "weight_offset": -Infinity}}'), "body"),
    # the envelope
    "missing envelope": (json.dumps(GOOD), "zone"),
    "envelope is a list": (json.dumps({"zone": [GOOD]}), "zone"),
    "envelope is null": (json.dumps({"zone": None}), "zone"),
    "extra top-level field": (json.dumps({"zone": GOOD, "zones": []}), "zones"),
    # required fields
    "missing api_url": (zone_body(api_url=MISSING), "zone.api_url"),
    "missing username": (zone_body(username=MISSING), "zone.username"),
    "missing password": (zone_body(password=MISSING), "zone.password"),
    "null api_url": (zone_body(api_url=None), "zone.api_url"),
    "null password": (zone_body(password=None), "zone.password"),
    # wrong types and sizes
    "enabled 'yes'": (zone_body(enabled="yes"), "zone.enabled"),
    "enabled 1": (zone_body(enabled=1), "zone.enabled"),
    "enabled null": (zone_body(enabled=None), "zone.enabled"),
    "weight_offset '1'": (zone_body(weight_offset="1"), "zone.weight_offset"),
    "weight_offset true": (zone_body(weight_offset=True), "zone.weight_offset"),
    "weight_offset null": (zone_body(weight_offset=None), "zone.weight_offset"),
    "weight_offset 1e400": (
        zone_body().replace("}}", ', "weight_offset": 1e400}}'),
        "zone.weight_offset",
    ),
    "weight_offset out of range": (zone_body(weight_offset=1e7), "zone.weight_offset"),
    "username 5": (zone_body(username=5), "zone.username"),
    "username empty": (zone_body(username=""), "zone.username"),
    "username too long": (zone_body(username="u" * 256), "zone.username"),
    "password 5": (zone_body(password=5), "zone.password"),
    "password empty": (zone_body(password=""), "zone.password"),
    "password too long": (zone_body(password="p" * 1025), "zone.password"),
    # api_url
    "api_url ftp": (zone_body(api_url="ftp://x"), "zone.api_url"),
    "api_url without scheme": (zone_body(api_url="x"), "zone.api_url"),
    "api_url without host": (zone_body(api_url="http://"), "zone.api_url"),
    "api_url with credentials": (zone_body(api_url="http://u:p@host"), "zone.api_url"),
    "api_url with a query": (zone_body(api_url="http://host/?q=1"), "zone.api_url"),
    "api_url with a fragment": (zone_body(api_url="http://host/#top"), "zone.api_url"),
    "api_url with a bad port": (zone_body(api_url="http://host:99999"), "zone.api_url"),
    "api_url empty": (zone_body(api_url=""), "zone.api_url"),
    "api_url 5": (zone_body(api_url=5), "zone.api_url"),
    "api_url too long": (zone_body(api_url="http://h/" + "a" * 2048), "zone.api_url"),
    "api_url space in host": (zone_body(api_url="http://ho st:80"), "zone.api_url"),
    "api_url leading space": (zone_body(api_url=" http://127.0.0.1:19"), "zone.api_url"),
    "api_url newline": (zone_body(api_url="http://127.0.0.1:29\n"), "zone.api_url"),
    # name
    "name upper case": (zone_body(name="Bad"), "zone.name"),
    "name leading dash": (zone_body(name="-x"), "zone.name"),
    "name underscore": (zone_body(name="a_b"), "zone.name"),
    "name 64 characters": (zone_body(name="a" * 64), "zone.name"),
    "name empty": (zone_body(name=""), "zone.name"),
    "name trailing newline": (zone_body(name="abc\n"), "zone.name"),
    "name not ASCII": (zone_body(name="zürich"), "zone.name"),
    "name 5": (zone_body(name=5), "zone.name"),
    # fields that are not the caller's to give
    "unknown field": (zone_body(colour="red"), "zone.colour"),
    "id": (zone_body(id=5), "zone.id"),
    "uuid": (zone_body(uuid=str(uuid.uuid4())), "zone.uuid"),
    "state": (zone_body(state="online"), "zone.state"),
}


@pytest.mark.parametrize(("body", "field"), POST_CASES.values(), ids=POST_CASES.keys())
async def test_zone_add_refuses_bad_input(shared: Shared, body: str | bytes, field: str) -> None:
    answer = await expect_refusal(shared, "POST", "/zones", body, 400, field)
    assert GOOD["password"] not in json.dumps(answer.body)


async def test_nan_is_refused_as_not_json(shared: Shared) -> None:
    body = zone_body().replace("}}", ', "weight_offset": NaN}}')
    answer = await expect_refusal(shared, "POST", "/zones", body, 400, "body")
    assert "NaN" in answer.problem["detail"]


async def test_an_oversized_body_is_413(shared: Shared) -> None:
    body = zone_body(password="p" * (1024 * 1024))
    answer = await expect_refusal(shared, "POST", "/zones", body, 413, "body")
    assert "1048576" in answer.problem["detail"]


# ---------------------------------------------------------------- PUT /zones/{id}


def change_body(**changes: Any) -> str:
    return json.dumps({"zone": changes})


PUT_CASES: dict[str, tuple[str, str]] = {
    "malformed JSON": ('{"zone": ', "body"),
    "a list": ("[]", "body"),
    "missing envelope": (json.dumps({"name": "x"}), "zone"),
    "envelope null": (json.dumps({"zone": None}), "zone"),
    "empty zone object": (change_body(), "zone"),
    "null name": (change_body(name=None), "zone.name"),
    "null enabled": (change_body(enabled=None), "zone.enabled"),
    "null password": (change_body(password=None), "zone.password"),
    "null next to a good field": (
        change_body(name="fine", weight_offset=None),
        "zone.weight_offset",
    ),
    "unknown field": (change_body(colour="red"), "zone.colour"),
    "state": (change_body(state="online"), "zone.state"),
    "id": (change_body(id=9), "zone.id"),
    "enabled 'no'": (change_body(enabled="no"), "zone.enabled"),
    "weight_offset '2'": (change_body(weight_offset="2"), "zone.weight_offset"),
    "weight_offset out of range": (change_body(weight_offset=-1e7), "zone.weight_offset"),
    "name 5": (change_body(name=5), "zone.name"),
    "name upper case": (change_body(name="Bad"), "zone.name"),
    "username list": (change_body(username=[]), "zone.username"),
    "password empty": (change_body(password=""), "zone.password"),
    "api_url ftp": (change_body(api_url="ftp://x"), "zone.api_url"),
    "api_url with credentials": (change_body(api_url="http://u:p@h"), "zone.api_url"),
}


@pytest.mark.parametrize(("body", "field"), PUT_CASES.values(), ids=PUT_CASES.keys())
async def test_put_refuses_bad_input(shared: Shared, body: str, field: str) -> None:
    await expect_refusal(shared, "PUT", f"/zones/{shared.child['id']}", body, 400, field)


# ---------------------------------------------------------------- ids in the path

BAD_IDS = {
    "letters": "abc",
    "decimal": "1.5",
    "negative": "-1",
    "zero": "0",
    "exponent": "1e3",
    "more than 30 digits": "1" * 31,
    "superscript two": "%C2%B2",
    "arabic-indic one": "%D9%A1",
}
UNKNOWN_IDS = {
    "small": "4242",
    "beyond 32 bits": "2147483648",
    "largest 64-bit id": "9223372036854775807",
    "beyond 64 bits": "99999999999999999999999",
}
ID_ENDPOINTS = (
    ("GET", "/zones/{id}"),
    ("GET", "/zones/{id}/detail"),
    ("PUT", "/zones/{id}"),
    ("DELETE", "/zones/{id}"),
)


async def answers_for_id(shared: Shared, text: str) -> dict[str, Answer]:
    body = change_body(weight_offset=1)
    try:
        return {
            f"{method} {path}": await shared.admin.call(
                method, path.format(id=text), data=body if method == "PUT" else None
            )
            for method, path in ID_ENDPOINTS
        }
    finally:
        await shared.restore()


@pytest.mark.parametrize("text", BAD_IDS.values(), ids=BAD_IDS.keys())
async def test_a_path_id_that_is_not_a_positive_integer_is_400(shared: Shared, text: str) -> None:
    before = await shared.children()

    answers = await answers_for_id(shared, text)

    statuses = {endpoint: answer.status for endpoint, answer in answers.items()}
    assert statuses == dict.fromkeys(answers, 400)
    for answer in answers.values():
        assert answer.problem["detail"].startswith("id: ")
    assert await shared.children() == before


@pytest.mark.parametrize("text", UNKNOWN_IDS.values(), ids=UNKNOWN_IDS.keys())
async def test_an_unknown_id_is_404(shared: Shared, text: str) -> None:
    before = await shared.children()

    answers = await answers_for_id(shared, text)

    statuses = {endpoint: answer.status for endpoint, answer in answers.items()}
    assert statuses == dict.fromkeys(answers, 404)
    for answer in answers.values():
        assert answer.problem["detail"] == f"zone {text} does not exist"
    assert await shared.children() == before
