"""`zones status`: a deployment's zones as they are now, read from the zones themselves.

`<state-dir>/topology.json` (which `zones up` writes) says where each zone is and how
to log in to it as its admin; everything shown comes from each zone's live
`GET /zones/tree`: its children as the zone itself reports them (so a child added
through the API appears, with a row of its own), its hosts, and its state as its
parents see it. States are those of the API (online, offline, disabled, unknown),
the words `zones up` prints too, plus `down` for a zone that does not answer at all.
A zone no parent reports (a root) that answers is online.

Exits 0 when every zone answers and is online (or disabled on purpose), else 1.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zones.node.client.http import Api
from zones.node.client.problems import ClientError, Unreachable
from zones.node.client.tables import Output
from zones.node.launch.checks import TopologyError
from zones.node.launch.state_dir import read_topology_json

COLUMNS = ("name", "url", "state", "children", "hosts")
DOWN = "down"
HEALTHY = {"online", "disabled"}
# A root's tree waits for a hung child up to its router.child_timeout (5 s by default).
TIMEOUT = 10.0


@dataclass
class Reading:
    """What one zone of the file answered: its tree, or why there is none."""

    name: str
    url: str
    tree: dict[str, Any] | None = None
    unreachable: bool = False
    problem: str | None = None


@dataclass
class Sightings:
    """Every zone met in the trees read: where it is, what it reported, how parents see it."""

    order: list[str] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # the first seen, nested
    states: dict[tuple[str, str], str] = field(default_factory=dict)  # (parent, child) -> state

    def walk(self, tree: dict[str, Any]) -> None:
        name = str(tree.get("name"))
        self.meet(name, tree)
        for child in tree.get("children") or []:
            self.states.setdefault((name, str(child.get("name"))), str(child.get("state")))
            self.walk(child)

    def meet(self, name: str, node: dict[str, Any]) -> None:
        if name not in self.order:
            self.order.append(name)
        if node.get("url"):
            self.urls.setdefault(name, str(node["url"]))
        known = self.nodes.get(name)
        if known is None or (known.get("hosts") is None and node.get("hosts") is not None):
            self.nodes[name] = node  # the figures of a stub are better learnt elsewhere

    def seen_as(self, name: str) -> list[str]:
        return sorted({state for (_, child), state in self.states.items() if child == name})


def status(state_dir: Path, output: Output) -> int:
    try:
        document = read_topology_json(state_dir)
    except TopologyError as exc:
        raise ClientError(str(exc)) from None
    zones: dict[str, dict[str, Any]] = document["zones"]
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(zones)))) as pool:
        readings = list(pool.map(read_zone, zones.keys(), zones.values()))
    for reading in readings:
        if reading.problem:
            output.warn(f"{reading.name}: cannot read its tree: {reading.problem}")
    rows = status_rows(readings)
    if output.as_json:
        output.json({"zones": rows})
    else:
        output.table(COLUMNS, [[row[key] for key in COLUMNS] for row in rows])
    return 0 if all(row["state"] in HEALTHY for row in rows) else 1


def read_zone(name: str, zone: dict[str, Any]) -> Reading:
    """Log in to the zone as its admin and read its tree."""
    reading = Reading(name, str(zone["url"]))
    api = Api(reading.url, timeout=TIMEOUT, hints_login=False)
    login = {"username": zone["admin_username"], "password": zone["admin_password"]}
    try:
        token = api.call("POST", "/auth/tokens", login)["token"]
        reading.tree = api.with_token(token).call("GET", "/zones/tree")["zone"]
    except Unreachable:
        reading.unreachable = True
    except ClientError as exc:
        reading.problem = str(exc)
    except (KeyError, TypeError):
        reading.problem = "it answered in another shape"
    return reading


def status_rows(readings: list[Reading]) -> list[dict[str, Any]]:
    """One row per zone: the file's zones first, then those only the live trees name."""
    sightings = Sightings()
    for reading in readings:
        sightings.meet(reading.name, {"url": reading.url, **(reading.tree or {})})
    for reading in readings:  # a parent's own answer is the freshest word on its children
        for child in (reading.tree or {}).get("children") or []:
            sightings.states[(reading.name, str(child.get("name")))] = str(child.get("state"))
    for reading in readings:
        if reading.tree:
            sightings.walk(reading.tree)
    by_name = {reading.name: reading for reading in readings}
    return [row(name, by_name.get(name), sightings) for name in sightings.order]


def row(name: str, reading: Reading | None, sightings: Sightings) -> dict[str, Any]:
    node = reading.tree if reading and reading.tree else sightings.nodes.get(name, {})
    parents_say = sightings.seen_as(name)
    if reading is not None and reading.unreachable:
        state = DOWN
    elif parents_say:
        state = "/".join(parents_say)
    else:
        state = "online" if reading is not None and reading.tree else "unknown"
    children = [str(child.get("name")) for child in node.get("children") or []]
    return {
        "name": name,
        "url": sightings.urls.get(name, reading.url if reading else None),
        "state": state,
        "children": children,
        "hosts": None if state == DOWN else node.get("hosts"),
    }
