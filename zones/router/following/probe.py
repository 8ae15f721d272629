"""zone-add's first contact: log in to the child and learn who it is.

A child that cannot be reached is still accepted (operators add zones before
they are up); a child that answers but refuses the credentials is not, since
it would never come online with them.
"""

from __future__ import annotations

from dataclasses import dataclass

from zones.errors import BadRequest, ChildError, ChildRefused, ChildTimeout
from zones.router.children.http import ChildClient
from zones.router.children.schemas import ZoneInfo


@dataclass(frozen=True)
class ProbeResult:
    """What the first contact learnt: the child's info, or why there is none yet."""

    info: ZoneInfo | None
    error: str | None


async def probe_child(
    child_client: ChildClient, api_url: str, username: str, password: str, request_id: str
) -> ProbeResult:
    try:
        token = await child_client.login(api_url, username, password, request_id=request_id)
        info = await child_client.fetch_info(api_url, token.token, request_id=request_id)
        return ProbeResult(info=info, error=None)
    except ChildRefused as exc:
        if exc.child_status == 401:
            raise BadRequest(
                f"zone.password: the child at {api_url} refused user {username!r} with this "
                f"password (or knows no such user): {exc.detail}"
            ) from exc
        if exc.child_status == 403:
            raise BadRequest(
                f"zone.username: user {username!r} may not read the child's /zones/info "
                "(it needs role admin or service)"
            ) from exc
        return ProbeResult(info=None, error=exc.detail)
    except (ChildError, ChildTimeout) as exc:
        return ProbeResult(info=None, error=exc.detail)
