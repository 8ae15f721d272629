"""Every error path answers the same problem+json shape, with no Python detail in it."""

from __future__ import annotations

from http import HTTPStatus

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import Api

MEMBER = {"name": "mia", "password": "mia-pw", "client": "acme", "roles": ["member"]}
ZONE = {"api_url": "http://127.0.0.1:9", "username": "u", "password": "p"}

# (who calls, method, path, raw body, expected status)
ERROR_PATHS = [
    ("nobody", "GET", "/zones", None, 401),
    ("nobody", "GET", "/zones/info", None, 401),
    ("nobody", "POST", "/users", '{"user": {}}', 401),
    ("forger", "GET", "/users", None, 401),
    ("member", "GET", "/users", None, 403),
    ("member", "POST", "/zones", '{"zone": {}}', 403),
    ("nobody", "POST", "/auth/tokens", '{"username": "admin", "password": "wrong"}', 401),
    ("nobody", "POST", "/auth/tokens", "{not json", 400),
    ("admin", "POST", "/users", "[1, 2]", 400),
    ("admin", "POST", "/users", '{"user": {"name": "x"}}', 400),
    ("admin", "POST", "/zones", '{"zone": {"api_url": "gopher://x"}}', 400),
    ("admin", "PUT", "/zones/1", "{}", 400),
    ("admin", "GET", "/zones/abc", None, 400),
    ("admin", "GET", "/zones/42", None, 404),
    ("admin", "DELETE", "/zones/42", None, 404),
    ("admin", "DELETE", "/users/nobody-here", None, 404),
    ("admin", "DELETE", "/users/admin", None, 409),
    ("admin", "GET", "/nowhere", None, 404),
    ("admin", "PATCH", "/users", None, 405),
    ("admin", "PUT", "/zones/info", '{"zone": {"name": "x"}}', 405),
    ("admin", "DELETE", "/zones/info", None, 405),
    ("admin", "POST", "/users", '{"user": {"name": "' + "x" * 1_100_000 + '"}}', 413),
]


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "status"),
    ERROR_PATHS,
    ids=[f"{row[1]} {row[2][:30]} as {row[0]} -> {row[4]}" for row in ERROR_PATHS],
)
async def test_error_paths_share_one_shape(
    http: aiohttp.ClientSession,
    zones: ZoneStarter,
    who: str,
    method: str,
    path: str,
    body: str | None,
    status: int,
) -> None:
    zone = await zones("shapes")
    admin = await Api(http, zone.url).as_user()
    tokens = {"nobody": "", "admin": admin.token or "", "forger": "not.a.token"}
    if who == "member":
        await admin.call("POST", "/users", json_body={"user": MEMBER})
        tokens["member"] = await admin.login(MEMBER["name"], MEMBER["password"])

    answer = await Api(http, zone.url).call(method, path, data=body, token=tokens[who])

    assert answer.status == status
    problem = answer.problem
    assert set(problem) - {"errors"} == {"type", "title", "status", "detail"}
    assert problem["status"] == status
    assert problem["title"] == HTTPStatus(status).phrase
    assert problem["type"].startswith("urn:zones:problem:")
    assert isinstance(problem["detail"], str) and problem["detail"]
    assert "Traceback" not in str(problem) and 'File "' not in str(problem)
    if status == 401:  # RFC 9110: every 401 says how to authenticate
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
