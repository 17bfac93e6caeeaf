"""What every command module shares: the handler type, output and input errors."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, NoReturn, Protocol

from plugin.errors import InputError
from plugin.settings import Settings

logger = logging.getLogger("interest")

Handler = Callable[[argparse.Namespace, Settings], int]


class AddCommand(Protocol):
    """Registers a subcommand: ``add(name, handler, help)`` returns its parser."""

    def __call__(
        self, name: str, handler: Handler, help_text: str, *, json_flag: bool = True
    ) -> argparse.ArgumentParser: ...


def emit(args: argparse.Namespace, payload: Any, text: str | None = None) -> None:
    """--json: one JSON document on stdout; otherwise the human text."""
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, default=str) + "\n")
    elif text is not None:
        sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()


def raise_input(message: str) -> NoReturn:
    raise InputError(message)
