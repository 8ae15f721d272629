"""`zones login`, and the API a verb talks to: the profile's URL and token, or `--url`."""

from __future__ import annotations

import argparse
import getpass
import os

from zones.node.client.http import LOGIN_HINT, Api
from zones.node.client.problems import ClientError
from zones.node.client.profile import Profile, load_profile, save_profile
from zones.node.client.tables import Output

PASSWORD_ENV = "ZONES_PASSWORD"


def api_for(arguments: argparse.Namespace) -> Api:
    """The zone to call (`--url`, else the profile's), with the profile's token and
    `--zone`'s target."""
    profile = load_profile()
    url = arguments.url or (profile.url if profile else None)
    if not url:
        raise ClientError(f"no zone to talk to: {LOGIN_HINT}, or give --url URL")
    return Api(url, profile.token if profile else None, arguments.zone)


def ask_password(prompt: str, environment_variable: str = PASSWORD_ENV) -> str:
    """The password from the environment variable, else asked without echo."""
    given = os.environ.get(environment_variable)
    if given:
        return given
    try:
        return getpass.getpass(prompt)
    except EOFError:
        raise ClientError(f"no password given (type it, or set {environment_variable})") from None


def login(arguments: argparse.Namespace, output: Output) -> int:
    """Log in at URL and keep the token in the profile."""
    password = ask_password(f"password for {arguments.username} at {arguments.login_url}: ")
    body = {"username": arguments.username, "password": password}
    answer = Api(arguments.login_url, hints_login=False).call("POST", "/auth/tokens", body)
    profile = Profile(
        url=arguments.login_url,
        username=arguments.username,
        token=str(answer["token"]),
        expires_at=answer.get("expires_at"),
    )
    path = save_profile(profile)
    if output.as_json:
        output.json(answer)
        return 0
    user = answer.get("user") or {}
    roles = ", ".join(user.get("roles") or [])
    output.line(
        f"logged in to {profile.url} as {profile.username} "
        f"(client {user.get('client')}, roles {roles}); the token lasts until "
        f"{profile.expires_at}, kept in {path}"
    )
    endpoint = answer.get("endpoint") or {}
    if endpoint.get("url") and endpoint["url"].rstrip("/") != profile.url.rstrip("/"):
        output.line(
            f"your client's instances are managed by {endpoint['name']} at {endpoint['url']}"
        )
    return 0
