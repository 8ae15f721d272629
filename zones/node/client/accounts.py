"""`zones users list|add|remove` (a zone's accounts) and `zones lookup CLIENT` (which zone
manages a client's instances)."""

from __future__ import annotations

import argparse

from zones.node.client.http import Api, segment
from zones.node.client.session import ask_password
from zones.node.client.tables import Output

USER_COLUMNS = ("name", "client", "roles", "created_at")
NEW_USER_PASSWORD_ENV = "ZONES_NEW_PASSWORD"


def list_users(api: Api, arguments: argparse.Namespace, output: Output) -> int:
    answer = api.call("GET", "/users")
    if output.as_json:
        output.json(answer)
    else:
        rows = [[user.get(key) for key in USER_COLUMNS] for user in answer["users"]]
        output.table(USER_COLUMNS, rows)
    return 0


def add_user(api: Api, arguments: argparse.Namespace, output: Output) -> int:
    password = arguments.password or ask_password(
        f"password for the new user {arguments.name}: ", NEW_USER_PASSWORD_ENV
    )
    user = {
        "name": arguments.name,
        "password": password,
        "client": arguments.client,
        "roles": arguments.role or ["member"],
    }
    answer = api.call("POST", "/users", {"user": user})
    if output.as_json:
        output.json(answer)
    else:
        made = answer["user"]
        roles = ", ".join(made["roles"])
        output.line(f"added user {made['name']} (client {made['client']}, roles {roles})")
    return 0


def remove_user(api: Api, arguments: argparse.Namespace, output: Output) -> int:
    api.call("DELETE", f"/users/{segment(arguments.name)}")
    if not output.as_json:
        output.line(f"removed user {arguments.name}")
    return 0


def lookup(api: Api, arguments: argparse.Namespace, output: Output) -> int:
    answer = api.call("GET", "/auth/lookup", query={"client": arguments.client})
    if output.as_json:
        output.json(answer)
    else:
        zone = answer.get("zone") or {}
        path = " > ".join(answer.get("path") or [])
        row = [answer.get("client"), zone.get("name"), zone.get("url"), path]
        output.table(("client", "zone", "url", "path"), [row])
    return 0
