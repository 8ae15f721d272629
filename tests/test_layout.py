"""The package's layout: every module in a layer, no import cycle, rooms of a readable size.

The layering itself (no module imports a higher layer) is import-linter's
contract in pyproject.toml, run by bin/test; these tests keep that contract
complete and the rest of the layout true.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "zones"
MAX_MODULE_LINES = 400
# The package roots hold docstrings only; `python -m zones` is above every layer. Alembic's
# environment and revisions are not modules of the package (no __init__.py): Alembic loads
# them by path.
PACKAGE_ROOTS = {"zones", "zones.node", "zones.router", "zones.capabilities"}
OUTSIDE_LAYERS = PACKAGE_ROOTS | {"zones.__main__"}


@cache
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("zones")


def layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [name.strip() for layer in contract["layers"] for name in layer.split("|")]


def import_cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), TYPE_CHECKING imports too."""
    modules = sorted(graph().modules)
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for imported in graph().find_modules_directly_imported_by(module):
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in modules:
        if module not in order:
            visit(module)
    return cycles


def source_files() -> Iterator[Path]:
    yield from sorted(PACKAGE.rglob("*.py"))


def test_no_two_modules_import_each_other_even_indirectly() -> None:
    assert import_cycles() == []


def test_every_module_of_the_package_belongs_to_a_layer() -> None:
    declared = layers()
    modules = set(graph().modules)
    unlayered = sorted(
        module
        for module in modules - OUTSIDE_LAYERS
        if not any(module == layer or module.startswith(layer + ".") for layer in declared)
    )
    assert unlayered == []
    assert set(declared) <= modules, "a layer names a module that does not exist"


def test_the_package_roots_import_nothing() -> None:
    importing = {root: graph().find_modules_directly_imported_by(root) for root in PACKAGE_ROOTS}
    assert {root: found for root, found in importing.items() if found} == {}


def test_no_module_passes_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in source_files()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_every_package_and_module_says_what_it_owns() -> None:
    silent = [
        str(path.relative_to(ROOT))
        for path in source_files()
        if "versions" not in path.parts and not ast.get_docstring(ast.parse(path.read_text()))
    ]
    assert silent == []


def test_the_router_keeps_its_modules_in_sub_packages() -> None:
    own_level = sorted(path.name for path in (PACKAGE / "router").glob("*.py"))
    assert own_level == ["__init__.py"]
