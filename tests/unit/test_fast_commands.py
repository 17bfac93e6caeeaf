"""One-shot commands stay light: what they import decides how fast they answer."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("celery", "fastapi", "torch", "jieba", "sklearn")


@pytest.mark.parametrize(
    "module",
    ["stack.control", "plugin.app.remote", "plugin.app.cli.ranking_commands", "plugin.app.cli"],
)
def test_status_and_query_commands_import_nothing_heavy(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]", f"{module} loads {loaded}"
