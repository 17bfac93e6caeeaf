"""``python -m plugin.app.cli``: the same as the ``interest`` command."""

from __future__ import annotations

from plugin.app.cli.main import main

raise SystemExit(main())
