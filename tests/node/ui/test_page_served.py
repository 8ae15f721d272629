"""`GET /ui` as served, without a browser: open to anyone, a strict policy, nothing from outside."""

from __future__ import annotations

import re

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Api

FILES = {
    "/ui": "text/html",
    "/ui/app.js": "text/javascript",
    "/ui/style.css": "text/css",
}
# Any absolute or protocol-relative URL: the page builds its only ones from zones' URLs.
OUTSIDE = re.compile(r"(?:https?:)?//[a-z0-9.-]+[:/]", re.IGNORECASE)


async def test_the_page_and_its_files_are_served_to_anyone_under_a_strict_policy(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    zone = await zones("served")
    for path, media_type in FILES.items():
        async with http.get(zone.url + path) as answer:
            body = await answer.text()
            assert answer.status == 200, (path, body)
            assert answer.content_type == media_type
            assert answer.headers["Cache-Control"] == "no-cache"
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            policy = [part.strip() for part in answer.headers["Content-Security-Policy"].split(";")]
            assert "default-src 'self'" in policy
            assert "connect-src 'self'" in policy
            assert "script-src 'self'" in policy
            assert "unsafe" not in answer.headers["Content-Security-Policy"]
            assert OUTSIDE.findall(body) == [], path


async def test_the_page_asks_only_for_its_own_files(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    zone = await zones("served")
    async with http.get(zone.url + "/ui") as answer:
        html = await answer.text()
    loaded = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sorted(loaded) == ["/ui/app.js", "/ui/style.css", "data:,"]
    assert "<script>" not in html and "style=" not in html  # nothing inline


async def test_an_unchanged_file_is_revalidated_not_sent_again(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    zone = await zones("served")
    async with http.get(zone.url + "/ui/app.js") as first:
        etag = first.headers["ETag"]
    async with http.get(zone.url + "/ui/app.js", headers={"If-None-Match": etag}) as again:
        assert again.status == 304
        assert await again.read() == b""


async def test_the_data_the_page_shows_needs_a_login(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    zone = await zones("served")
    async with http.get(zone.url + "/ui") as page:
        assert page.status == 200
    tree = await Api(http, zone.url).call("GET", "/zones/tree")
    assert tree.status == 401
    assert "credentials" in tree.problem["detail"]
