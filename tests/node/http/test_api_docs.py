"""`docs/api.md` describes every route the app serves, and the project's docs stand alone."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ZoneStarter
from tests.node.http.test_openapi import served_routes

ROOT = Path(__file__).resolve().parents[3]
API_DOC = ROOT / "docs" / "api.md"
# Where a user's clone has nothing: the repository's parent, or any other site.
OUTSIDE_LINK = re.compile(r"\]\((?!#)(?:\.\./|[a-z]+://(?!127\.0\.0\.1|localhost))[^)]*\)")


def project_docs() -> list[Path]:
    folders = [path for path in ROOT.glob("*/README.md") if not path.parent.name.startswith(".")]
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted(folders)]


async def test_every_served_route_is_in_the_api_document(zones: ZoneStarter) -> None:
    zone = await zones("described")
    text = API_DOC.read_text()
    routes = served_routes(zone)
    assert routes, "the app serves no routes?"
    missing = sorted(
        f"{method.upper()} {path}"
        for method, path in routes
        if f"`{method.upper()} {path}`" not in text
    )
    assert missing == []


def test_the_docs_link_nothing_outside_the_repository() -> None:
    outside = {
        str(path.relative_to(ROOT)): OUTSIDE_LINK.findall(path.read_text())
        for path in project_docs()
    }
    assert {path: links for path, links in outside.items() if links} == {}


def test_every_relative_link_in_the_docs_leads_to_a_file_of_the_repository() -> None:
    broken = [
        f"{path.relative_to(ROOT)}: {target}"
        for path in project_docs()
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text())
        if not (path.parent / target).resolve().exists()
    ]
    assert broken == []
