"""tradectl entry point: global options, then one subcommand.

Each issue adds its own subcommands in `tradectl/commands/`.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from tradectl.commands import orders as order_commands
from tradectl.commands import quotes as quote_commands
from tradectl.commands import risk as risk_commands
from tradectl.commands import signal as signal_commands
from tradectl.commands import status as status_commands
from tradectl.connection import connect
from tradectl.output import emit


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradectl", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument(
        "--kong",
        default=os.environ.get("TRADECTL_KONG"),
        help="call through Kong at HOST:PORT (env TRADECTL_KONG)",
    )
    parser.add_argument(
        "--apikey",
        default=os.environ.get("TRADECTL_APIKEY"),
        help="the team's Kong apikey (env TRADECTL_APIKEY)",
    )
    parser.add_argument(
        "--key-file",
        type=Path,
        default=Path(os.environ.get("TRADECTL_ISSUER_KEY", ".run/keys/local.pem")),
        help="local issuer key for direct calls (default .run/keys/local.pem)",
    )
    parser.add_argument(
        "--user",
        default=os.environ.get("TRADECTL_USER", getpass.getuser()),
        help="subject of the local token",
    )
    parser.add_argument(
        "--group",
        action="append",
        dest="groups",
        help="group of the local token, repeatable (default: all teams)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("health", help="gRPC health of each service")
    commands.add_parser("status", help="health, latency and the gRPC services each one serves")
    risk_commands.add_parser(commands)
    signal_commands.add_parser(commands)
    order_commands.add_parsers(commands)
    quote_commands.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    connection = connect(args.kong, args.apikey, args.key_file, args.user, args.groups)
    if args.command == "risk":
        print(risk_commands.run(args, connection))
        return 0
    if args.command == "signal":
        for text in signal_commands.run(args, connection):
            print(text, flush=True)
        return 0
    if args.command == "quote":
        for text in quote_commands.run(args, connection):
            print(text, flush=True)
        return 0
    if args.command == "watch":
        for line in order_commands.watch(connection, args):
            print(line, flush=True)
        return 0
    if args.command in order_commands.COMMANDS:
        order_rows, columns = order_commands.run(connection, args)
        print(emit(order_rows, columns, args.json))
        return 0
    if args.command == "health":
        rows = status_commands.health(connection)
        print(emit(rows, ["service", "target", "status", "ms"], args.json))
    else:
        rows = status_commands.status(connection)
        print(emit(rows, ["service", "target", "status", "ms", "serves"], args.json))
    return 0 if all(row["status"] == "SERVING" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
