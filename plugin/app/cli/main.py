"""The parser over every command group, logging, and the one place errors become exit codes."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from plugin.app.cli import (
    content_commands,
    evaluation_commands,
    ranking_commands,
    stack_commands,
    weights_commands,
)
from plugin.app.cli.common import Handler, logger
from plugin.app.cli.weights_commands import parse_rollback_version
from plugin.errors import PersonalizationError
from plugin.settings import Settings

COMMAND_GROUPS = (
    stack_commands,
    content_commands,
    ranking_commands,
    weights_commands,
    evaluation_commands,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="interest",
        description="Personalised search and recommendation inside Elasticsearch.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Handler, help_text: str, *, json_flag: bool = True
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if json_flag:
            p.add_argument("--json", action="store_true", help="print one JSON document")
        p.set_defaults(handler=handler)
        return p

    for group in COMMAND_GROUPS:
        group.register(add)
    return parser


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("elastic_transport", "urllib3", "jieba", "httpx", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if args.command == "weights" and args.action == "rollback":
        parse_rollback_version(args, parser)
    try:
        settings = Settings.from_env()
        code: int = args.handler(args, settings)
        return code
    except PersonalizationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a last line of defence: one clear line, details with -v
        from stack.processes import StackError

        if isinstance(exc, StackError):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        logger.debug("unexpected failure", exc_info=True)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
