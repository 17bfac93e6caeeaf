"""The ``interest`` command, one module per command group.

``stack_commands`` (up, down, status, init, serve), ``content_commands`` (index, events, users,
rebuild, collab, neighbours), ``ranking_commands`` (search, recommend), ``weights_commands``
(blend weights) and ``evaluation_commands`` (demo, eval, encoders); ``main`` builds the parser
over them. Each command is a small function taking parsed arguments and the Settings read once
in ``main``.
"""

from __future__ import annotations

from plugin.app.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
