"""The client's verbs on the command line (argparse, as the rest of `zones`), and running one.

`zones.node.cli` adds these commands to its parser and hands the parsed arguments of
any of them to `run`, which prints a zone's problem, or any other ClientError, on one
line to stderr and exits 1. `--url`, `--json` and `--zone` go before the verb or
after it; after `instances move`, `--zone` names the zone to move to.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TextIO

from zones.node.client import accounts, children, instances, session, tree
from zones.node.client.http import Api
from zones.node.client.problems import ClientError
from zones.node.client.requirements import requirement, resource
from zones.node.client.status import status
from zones.node.client.tables import Output

Verb = Callable[[Api, argparse.Namespace, Output], int]
Runner = Callable[[argparse.Namespace, Output], int]
Subcommands = Any  # what add_subparsers returns: its class is private to argparse
# `status` is built by zones.node.cli with `up` and `down`, and run here.
COMMANDS = frozenset({"login", "tree", "zones", "instances", "lookup", "users", "status"})
INTERRUPTED = 130


def add_global_options(
    parser: argparse.ArgumentParser, after_verb: bool = False, zone: bool = True
) -> None:
    """--url, --json, --zone on the main parser; after the verb they must not undo what the
    main parser read, so their defaults there are suppressed."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if after_verb else value

    parser.add_argument(
        "--url", default=default(None), help="the zone to talk to (else the login profile's)"
    )
    parser.add_argument(
        "--json",
        dest="as_json",
        action="store_true",
        default=default(False),
        help="print the API's JSON instead of a table",
    )
    if zone:
        parser.add_argument(
            "--zone",
            default=default(None),
            metavar="NAME",
            help="reach this descendant through the zone (sent as ?zone=NAME)",
        )


def add_commands(commands: Subcommands) -> None:
    """The client's commands, added to the main parser's subcommands."""
    login = commands.add_parser("login", help="log in to a zone and keep the token")
    add_global_options(login, after_verb=True)
    login.add_argument("login_url", metavar="URL", help="the zone's URL")
    login.add_argument("--username", required=True)
    login.set_defaults(run=session.login)
    verb(commands, "tree", "show the zone's whole subtree", tree.show_tree)
    lookup = verb(commands, "lookup", "which zone manages a client", accounts.lookup)
    lookup.add_argument("client")
    add_children_commands(group(commands, "zones", "the children registered in a zone"))
    add_instance_commands(group(commands, "instances", "instances in the zone's subtree"))
    add_user_commands(group(commands, "users", "a zone's user accounts"))


def add_children_commands(verbs: Subcommands) -> None:
    verb(verbs, "list", "list the zone's children", children.list_children)
    add = verb(verbs, "add", "register a child zone (zone-add)", children.add_child)
    add.add_argument("api_url", metavar="URL", help="the child's URL")
    add.add_argument("--username", required=True, help="the child's service account")
    add.add_argument(
        "--password", help=f"its password (else ${children.CHILD_PASSWORD_ENV}, else asked)"
    )
    add.add_argument("--name", help="the child's name (else learnt from the child)")
    add.add_argument("--disabled", action="store_true", help="register it disabled")
    add.add_argument("--weight-offset", type=float, default=0.0)
    for name, text, handler in (
        ("show", "show one child with its last polled info", children.show_child),
        ("remove", "unregister a child", children.remove_child),
    ):
        verb(verbs, name, text, handler).add_argument("child", help="the child's name or id")


def add_instance_commands(verbs: Subcommands) -> None:
    listing = verb(verbs, "list", "list instances (every page)", instances.list_instances)
    listing.add_argument("--all-clients", action="store_true", help="every client's (admins)")
    listing.add_argument("--limit", type=positive, help="show at most this many")
    listing.add_argument("--marker", help="start after this instance id")
    listing.add_argument(
        "--page-size",
        type=positive,
        default=instances.PAGE_LIMIT,
        help=f"instances asked for in one call [{instances.PAGE_LIMIT}]",
    )
    create = verb(verbs, "create", "create an instance", instances.create_instance)
    create.add_argument("name")
    add_requirements(create)
    create.add_argument(
        "--resource",
        action="append",
        type=resource,
        metavar="KEY=AMOUNT",
        help="take AMOUNT of KEY from a host's free inventory (repeatable)",
    )
    create.add_argument("--id", help="the instance's UUID: a retry with it creates no second")
    for name, text, handler in (
        ("show", "show one instance", instances.show_instance),
        ("delete", "delete an instance", instances.delete_instance),
    ):
        verb(verbs, name, text, handler).add_argument("id", help="the instance's id")
    move = verb(verbs, "move", "place an instance again", instances.move_instance, zone=False)
    move.add_argument("id", help="the instance's id")
    add_requirements(move)
    move.add_argument(
        "--zone", dest="to_zone", metavar="NAME", help="the zone to move it to (admins)"
    )


def add_user_commands(verbs: Subcommands) -> None:
    verb(verbs, "list", "list the zone's users", accounts.list_users)
    add = verb(verbs, "add", "create a user", accounts.add_user)
    add.add_argument("name")
    add.add_argument("--client", required=True, help="the tenant the user belongs to")
    add.add_argument(
        "--role",
        action="append",
        choices=("admin", "member", "service", "host"),
        help="a role (repeatable) [member]",
    )
    add.add_argument(
        "--password", help=f"its password (else ${accounts.NEW_USER_PASSWORD_ENV}, else asked)"
    )
    verb(verbs, "remove", "delete a user", accounts.remove_user).add_argument("name")


def add_requirements(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--require",
        action="append",
        type=requirement,
        metavar="KEY=VALUE",
        help="a capability to ask for: region=na, gpus=ge:1, os=in:linux,bsd (repeatable)",
    )


def group(commands: Subcommands, name: str, text: str) -> Subcommands:
    parser = commands.add_parser(name, help=text, description=text)
    add_global_options(parser, after_verb=True)
    return parser.add_subparsers(dest="verb", required=True, metavar="VERB")


def verb(
    commands: Subcommands, name: str, text: str, handler: Verb, zone: bool = True
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=text, description=text)
    add_global_options(parser, after_verb=True, zone=zone)
    parser.set_defaults(run=with_api(handler))
    return parser


def with_api(handler: Verb) -> Runner:
    def run_with_api(arguments: argparse.Namespace, output: Output) -> int:
        return handler(session.api_for(arguments), arguments, output)

    return run_with_api


def positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return number


def run(arguments: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one client command; a ClientError is one line on stderr and exit code 1."""
    output = Output(out or sys.stdout, err or sys.stderr, bool(arguments.as_json))
    try:
        if arguments.command == "status":
            return status(arguments.state_dir, output)
        runner: Runner = arguments.run
        return runner(arguments, output)
    except ClientError as exc:
        output.warn(str(exc))
        return 1
    except (KeyError, TypeError, AttributeError) as exc:  # not the shape of this version's API
        output.warn(f"a zone answered in a shape this client does not know ({exc!r})")
        return 1
    except KeyboardInterrupt:
        output.warn("interrupted")
        return INTERRUPTED
