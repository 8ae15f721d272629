"""A trusted issuer that rotates its key: its new tokens are accepted after one JWKS refetch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.harness import Api, eventually, free_port, start_zone, zone_settings


async def test_a_rotated_issuer_key_is_fetched_again(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    issuer_port = free_port()
    issuer_settings = zone_settings(
        tmp_path / "issuer", "issuer", zone={"listen": f"127.0.0.1:{issuer_port}"}
    )
    issuer = await start_zone(issuer_settings)
    verifier = await start_zone(
        zone_settings(tmp_path / "verifier", "verifier", auth={"trusted_issuers": [issuer.url]})
    )
    try:
        old_token = await Api(http, issuer.url).login()
        assert (await Api(http, verifier.url, old_token).call("GET", "/users")).status == 200

        # The issuer loses its key and makes a new one: same URL, new key id.
        await issuer.stop()
        (issuer.settings.secrets_dir / "signing-key.pem").unlink()
        issuer = await start_zone(issuer_settings)
        new_token = await Api(http, issuer.url).login()

        async def new_token_accepted() -> bool:
            answer = await Api(http, verifier.url, new_token).call("GET", "/users")
            return answer.status == 200

        # Unknown key ids trigger a refetch at most every few seconds: poll until it happens.
        await eventually(new_token_accepted, timeout=15, interval=0.25)
        refused = await Api(http, verifier.url, old_token).call("GET", "/users")
        assert refused.status == 401  # the withdrawn key no longer verifies anything
    finally:
        await verifier.stop()
        await issuer.stop()


async def test_simultaneous_first_uses_of_a_trusted_issuers_token_are_all_accepted(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """Regression: while the first request fetched the issuer's keys, the others found no key
    and were refused with 401 (the fetch counted as done from its start)."""
    issuer = await start_zone(zone_settings(tmp_path / "issuer", "issuer"))
    verifier = await start_zone(
        zone_settings(tmp_path / "verifier", "verifier", auth={"trusted_issuers": [issuer.url]})
    )
    try:
        api = Api(http, verifier.url, await Api(http, issuer.url).login())
        answers = await asyncio.gather(*(api.call("GET", "/users") for _ in range(8)))
        assert [answer.status for answer in answers] == [200] * 8, answers
    finally:
        await verifier.stop()
        await issuer.stop()
