"""How `--require KEY=VALUE` and `--resource KEY=AMOUNT` become the API's JSON."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from tests.node.client.running import invoke
from zones.node.client.requirements import requirement, resource


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("region=na", ("region", "na")),
        ("gpus=ge:1", ("gpus", {"ge": 1})),
        ("load=lt:0.5", ("load", {"lt": 0.5})),
        ("os=in:linux,bsd", ("os", {"in": ["linux", "bsd"]})),
        ("size=in:1,2.5", ("size", {"in": [1, 2.5]})),
        ("ssd=true", ("ssd", True)),
        ("ssd=ne:false", ("ssd", {"ne": False})),
        ('version="8"', ("version", "8")),
        ('tier="ge:8"', ("tier", "ge:8")),
        ("name=web:8080", ("name", "web:8080")),  # not an operator: the whole value
        ("count=1e3", ("count", 1000.0)),
        ("code=007", ("code", "007")),  # not a JSON number: a string
        ("empty=", ("empty", "")),
    ],
)
def test_values_are_typed_as_json_would_type_them(given: str, sent: tuple[str, Any]) -> None:
    assert requirement(given) == sent


@pytest.mark.parametrize("given", ["region", "=na", 'v="unclosed', 'v="a"b'])
def test_what_is_not_key_equals_value_is_refused(given: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        requirement(given)


def test_resources_are_numbers() -> None:
    assert resource("ram_mb=2048") == ("ram_mb", 2048)
    assert resource("vcpus=0.5") == ("vcpus", 0.5)
    for given in ("ram_mb=lots", "ram_mb=true", 'ram_mb="8"'):
        with pytest.raises(argparse.ArgumentTypeError):
            resource(given)


def test_a_malformed_one_on_the_command_line_is_a_usage_error() -> None:
    ran = invoke(("instances", "create", "web", "--resource", "ram_mb=lots"))
    assert (ran.code, ran.out) == (2, ""), ran
    assert "argument --resource: 'ram_mb=lots': the amount must be a number" in ran.err
