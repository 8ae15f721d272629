"""`/ui` in a real headless Chromium, against a real tree: root > middle > three leaves.

What an operator sees: a bad password's problem, every zone of the tree with its
state and figures, a zone turning offline (its badge says so, in red, and the
summary names it) once it is stopped, the instances with their zone, and a child's
own page opened through its link. `middle`, `leaf-a` and `leaf-c` trust the root's
tokens, so the login carried by the link holds there; `leaf-b` does not, so its page
asks for a login of its own. `leaf-c` has no hosts and is the one stopped, so the
other tests' figures hold whichever runs first.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.harness import ADMIN_PASSWORD, RunningZone, eventually, start_zone, zone_settings
from tests.node.ui.browser import BrowserError, Page, chromium, find_chromium
from tests.router.tree import Tree

pytestmark = pytest.mark.asyncio(loop_scope="module")

FAST_POLLING = {"interval": 0.3, "timeout": 0.5, "failures_before_offline": 2}
HOST = {"capabilities": {"os": "linux"}, "inventory": {"ram_mb": 65536, "vcpus": 32}, "ttl": 3600}
ZONES = ("root", "middle", "leaf-a", "leaf-b", "leaf-c")
SCREENSHOT_COPY = Path("/tmp/zones-ui-test.png")
NO_CHROMIUM = (
    "no chromium on PATH: bin/test installs Debian's chromium package when it runs as root "
    "with apt-get (bin/_browser); elsewhere install chromium, or set ZONES_CHROMIUM"
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tree(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Tree]:
    directory = tmp_path_factory.mktemp("ui-tree")
    running: list[RunningZone] = []

    async def start(name: str, **sections: Any) -> RunningZone:
        (directory / name).mkdir()
        zone = await start_zone(zone_settings(directory / name, name, **sections))
        running.append(zone)
        return zone

    async with aiohttp.ClientSession() as http:
        tree = Tree(http)
        try:
            root = await tree.start(start, "root", poll=FAST_POLLING)
            trusting = {"trusted_issuers": [root.url]}
            await tree.start(start, "middle", poll=FAST_POLLING, auth=trusting)
            await tree.start(start, "leaf-a", poll=FAST_POLLING, auth=trusting)
            await tree.start(start, "leaf-b", poll=FAST_POLLING)
            await tree.start(start, "leaf-c", poll=FAST_POLLING, auth=trusting)
            await tree.heartbeat("leaf-a", "leaf-a-host-1", **HOST)
            await tree.heartbeat("leaf-b", "leaf-b-host-1", **HOST)
            for leaf in ("leaf-a", "leaf-b", "leaf-c"):
                await tree.add_child("middle", leaf)
            await tree.add_child("root", "middle")
            await eventually(lambda: whole_tree_online(tree))
            yield tree
        finally:
            for zone in reversed(running):
                await zone.stop()


async def whole_tree_online(tree: Tree) -> bool:
    answer = await tree.admins["root"].call("GET", "/zones/tree")
    assert answer.status == 200, answer
    states: list[str] = []

    def collect(zone: dict[str, Any]) -> None:
        states.append(zone["state"])
        for child in zone["children"]:
            collect(child)

    collect(answer.body["zone"])
    return len(states) == len(ZONES) and set(states) == {"online"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def page(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Page]:
    executable = find_chromium()
    if executable is None:
        pytest.skip(NO_CHROMIUM)
    async with chromium(executable, tmp_path_factory.mktemp("chromium")) as page:
        yield page


async def open_fresh(page: Page, url: str) -> None:
    """The page at `url` as a new visitor sees it: nothing kept from an earlier test."""
    await page.navigate(url)
    await page.evaluate("sessionStorage.clear()")
    await page.navigate(url)
    page.reports.clear()


async def log_in(page: Page, username: str, password: str) -> None:
    await page.wait_for("!document.getElementById('login').hidden")
    await page.evaluate(
        f"""(() => {{
          document.getElementById('username').value = {json.dumps(username)};
          document.getElementById('password').value = {json.dumps(password)};
          document.getElementById('login-submit').click();
          return true;
        }})()"""
    )


def zone_item(name: str) -> str:
    """A JavaScript expression: the tree's item of the zone named `name` (or undefined)."""
    return (
        "[...document.querySelectorAll('#tree li.zone')].find(item => "
        f"item.querySelector(':scope > .card > .name').textContent === {json.dumps(name)})"
    )


async def badge_of(page: Page, name: str, state: str) -> dict[str, Any]:
    """The zone's badge once it says `state`: its word and its colour as rendered."""
    found: dict[str, Any] = await page.wait_for(
        f"""(() => {{
          const item = {zone_item(name)};
          const badge = item && item.querySelector(':scope > .card > .badge');
          if (!badge || badge.textContent !== {json.dumps(state)}) return null;
          const colour = getComputedStyle(badge).backgroundColor.match(/\\d+/g).map(Number);
          return {{state: badge.textContent, colour}};
        }})()"""
    )
    return found


async def shown_names(page: Page, wanted: tuple[str, ...]) -> list[str]:
    names: list[str] = await page.wait_for(
        f"""(() => {{
          const names = [...document.querySelectorAll('#tree .name')].map(n => n.textContent);
          return {json.dumps(list(wanted))}.every(name => names.includes(name)) && names;
        }})()"""
    )
    return names


async def click_child_link(page: Page, name: str) -> None:
    await page.evaluate(f"{zone_item(name)}.querySelector(':scope > .card a.child-page').click()")


def assert_nothing_refused(page: Page) -> None:
    """No uncaught error in the page, and nothing its Content-Security-Policy refused."""
    refused = [
        report
        for report in page.reports
        if "exceptionDetails" in report or report.get("entry", {}).get("source") == "security"
    ]
    assert refused == []


async def test_a_bad_password_shows_the_problems_detail(page: Page, tree: Tree) -> None:
    await open_fresh(page, tree.zones["root"].url + "/ui")
    await log_in(page, "admin", "not-the-password")
    shown = await page.wait_for(
        "(() => { const p = document.getElementById('login-error');"
        " return !p.hidden && p.textContent; })()"
    )
    assert shown == "401 Unauthorized: wrong username or password"
    assert await page.evaluate("document.getElementById('app').hidden") is True
    assert_nothing_refused(page)


async def test_the_browser_refuses_html_from_strings_and_calls_elsewhere(
    page: Page, tree: Tree
) -> None:
    await open_fresh(page, tree.zones["root"].url + "/ui")
    with pytest.raises(BrowserError, match="TrustedHTML"):
        await page.evaluate("document.body.innerHTML = '<img src=x onerror=alert(1)>'")
    elsewhere = "fetch('http://127.0.0.1:9/').then(() => 'called', () => 'refused')"
    assert await page.evaluate(elsewhere) == "refused"
    refused = [report["entry"]["text"] for report in page.reports if "entry" in report]
    assert any("connect-src 'self'" in text for text in refused), refused


async def test_logging_out_forgets_the_login_and_what_was_shown(page: Page, tree: Tree) -> None:
    await open_fresh(page, tree.zones["root"].url + "/ui")
    await log_in(page, "admin", ADMIN_PASSWORD)
    await shown_names(page, ("root",))
    await page.evaluate("document.getElementById('logout').click()")
    await page.wait_for("!document.getElementById('login').hidden")
    assert await page.evaluate("document.querySelectorAll('#tree li').length") == 0
    assert await page.evaluate("sessionStorage.getItem('zones.token')") is None
    await page.navigate(tree.zones["root"].url + "/ui")  # and a reload does not bring it back
    await page.wait_for("!document.getElementById('login').hidden")


async def test_an_admin_sees_every_zone_with_its_state_and_figures(page: Page, tree: Tree) -> None:
    await open_fresh(page, tree.zones["root"].url + "/ui")
    await log_in(page, "admin", ADMIN_PASSWORD)
    names = await shown_names(page, ZONES)
    assert names[0] == "root"
    assert await page.evaluate("document.getElementById('zone-name').textContent") == "root"
    online = await badge_of(page, "leaf-a", "online")
    red, green, _ = online["colour"]
    assert green > red
    facts = await page.evaluate(f"{zone_item('root')}.querySelector('.facts').textContent")
    assert "2 hosts" in facts
    assert "ram 128 GB free (at most 64 GB on one host)" in facts
    assert "vcpus 64 free (at most 32 on one host)" in facts
    seen = await page.evaluate(f"{zone_item('middle')}.querySelector('.seen').textContent")
    assert seen.startswith("last seen ") and seen.endswith(" s ago")
    loaded = await page.evaluate(
        "performance.getEntriesByType('resource').map(entry => new URL(entry.name).origin)"
    )
    assert loaded and set(loaded) == {tree.zones["root"].url}  # nothing from elsewhere
    assert_nothing_refused(page)


async def test_a_stopped_zone_turns_offline_in_red_and_is_named_at_the_top(
    page: Page, tree: Tree, tmp_path: Path
) -> None:
    await open_fresh(page, tree.zones["root"].url + "/ui")
    await log_in(page, "admin", ADMIN_PASSWORD)
    await badge_of(page, "leaf-c", "online")
    await page.evaluate(f"{zone_item('leaf-c')}.dataset.mark = 'the same element'")
    await tree.zones["leaf-c"].stop()
    offline = await badge_of(page, "leaf-c", "offline")
    red, green, blue = offline["colour"]
    assert red > 150 and green < 100 and blue < 100, offline
    summary = await page.wait_for(
        "(() => { const s = document.getElementById('summary');"
        " return s.classList.contains('alarm') && s.firstChild.textContent; })()"
    )
    assert summary == "1 zone offline: leaf-c"
    # Updated in place (no reload, no redrawing from scratch): the very same element.
    assert await page.evaluate(f"{zone_item('leaf-c')}.dataset.mark") == "the same element"
    shot = await page.screenshot(tmp_path / "zones-ui-tree.png")
    shutil.copyfile(shot, SCREENSHOT_COPY)
    assert_nothing_refused(page)


async def test_the_instances_tab_lists_them_with_their_zone_filtered_by_name(
    page: Page, tree: Tree
) -> None:
    admin = tree.admins["root"]
    created = {}
    for name in ("web-ui-1", "db-ui-1"):
        body = {"instance": {"name": name, "requirements": {}, "resources": {"ram_mb": 512}}}
        answer = await admin.call("POST", "/instances", json_body=body)
        assert answer.status == 201, answer
        created[name] = answer.body["instance"]
    await open_fresh(page, tree.zones["root"].url + "/ui")
    await log_in(page, "admin", ADMIN_PASSWORD)
    await page.evaluate("document.getElementById('tab-instances').click()")
    rows = await page.wait_for(
        """(() => {
          const rows = [...document.querySelectorAll('#instances tr')]
            .map(row => [...row.children].map(cell => cell.textContent));
          return rows.some(row => row[0] === 'web-ui-1') && rows; })()"""
    )
    web = created["web-ui-1"]
    expected = ["web-ui-1", web["id"], web["client"], "ACTIVE", web["zone"], web["host"]]
    assert [row[:6] for row in rows if row[0] == "web-ui-1"] == [expected]
    assert web["zone"] in ("leaf-a", "leaf-b")
    await page.evaluate(
        "(() => { const f = document.getElementById('filter'); f.value = 'web-ui';"
        " f.dispatchEvent(new Event('input')); })()"
    )
    visible = await page.evaluate(
        "[...document.querySelectorAll('#instances tr')].filter(r => !r.hidden)"
        ".map(r => r.firstChild.textContent)"
    )
    assert visible == ["web-ui-1"]
    assert_nothing_refused(page)


async def test_a_childs_link_opens_its_own_page_logged_in_where_it_trusts_the_root(
    page: Page, tree: Tree
) -> None:
    await open_fresh(page, tree.zones["root"].url + "/ui")
    await log_in(page, "admin", ADMIN_PASSWORD)
    await badge_of(page, "middle", "online")
    await click_child_link(page, "middle")
    middle_page = tree.zones["middle"].url + "/ui"
    await page.wait_for(f"location.href === {json.dumps(middle_page)}")  # the token is gone
    names = await shown_names(page, ("middle", "leaf-a", "leaf-b"))
    assert "root" not in names
    assert await page.evaluate("document.getElementById('zone-name').textContent") == "middle"
    # Two hops down, the root's login still holds where it is trusted...
    await click_child_link(page, "leaf-a")
    await page.wait_for(f"location.href === {json.dumps(tree.zones['leaf-a'].url + '/ui')}")
    await page.wait_for("document.getElementById('zone-name').textContent === 'leaf-a'")
    assert await shown_names(page, ("leaf-a",)) == ["leaf-a"]
    # ...and where it is not, the child's page asks for a login of its own.
    await page.navigate(middle_page)
    await badge_of(page, "leaf-b", "online")
    await click_child_link(page, "leaf-b")
    await page.wait_for(f"location.href === {json.dumps(tree.zones['leaf-b'].url + '/ui')}")
    why = await page.wait_for(
        "(() => { const w = document.getElementById('login-why'); return !w.hidden &&"
        " !document.getElementById('login').hidden && w.textContent; })()"
    )
    carried_from = tree.zones["middle"].url
    assert why.startswith(f"This zone did not accept the login carried from {carried_from} (401")
    assert_nothing_refused(page)
