"""The layers point one way: a module imports only its own layer and the layers below it.

    bench                 benchmark scripts (a checkout only; not packaged)
    plugin.app            the CLI, the HTTP API and page, the demo, the evaluation
    stack                 the embedded stack's processes (starts the Celery worker)
    tasks                 Celery tasks and their client
    indexer               the write side: documents, events, interest updates
    plugin (the core)     settings, errors, types, encoder, Elasticsearch, ranking, service
    mappings              index mappings

Every import counts, also one inside a function: hiding a backward import there is still a
backward import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("mappings", "plugin", "indexer", "tasks", "stack", "plugin.app", "bench")


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to (None: not first-party)."""
    if module == "plugin.app" or module.startswith("plugin.app."):
        return "plugin.app"
    top = module.split(".", 1)[0]
    return top if top in LAYERS else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in the file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from plugin import app` names a module of the app layer.
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def backward_imports(files: list[Path]) -> list[str]:
    """One line per import statement that reaches above its module's layer."""
    problems: dict[tuple[str, int], str] = {}
    for path in files:
        source_layer = layer_of(module_name(path))
        assert source_layer is not None
        rank = LAYERS.index(source_layer)
        where = str(path.relative_to(ROOT))
        for line, module in imported_modules(path):
            target = layer_of(module)
            if target is not None and LAYERS.index(target) > rank:
                problems.setdefault(
                    (where, line), f"{where}:{line} ({source_layer}) imports {module} ({target})"
                )
    return sorted(problems.values())


def project_files() -> list[Path]:
    return sorted(
        path
        for top in ("mappings", "plugin", "indexer", "tasks", "stack", "bench")
        for path in (ROOT / top).rglob("*.py")
    )


def test_no_module_imports_a_layer_above_its_own() -> None:
    files = project_files()
    assert len(files) > 50  # the walk found the project
    assert backward_imports(files) == []


@pytest.mark.parametrize(
    ("source", "code", "expected"),
    [
        ("plugin/service.py", "def f():\n    from tasks.client import TaskClient\n", 1),
        ("indexer/events.py", "from plugin import app\n", 1),
        ("tasks/events.py", "import stack.control\n", 1),
        ("plugin/app/demo.py", "from tasks.client import TaskClient\nimport bench.soak\n", 1),
        ("stack/control.py", "from tasks.app import create_app\nfrom plugin.es import x\n", 0),
    ],
)
def test_the_check_sees_a_backward_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, code: str, expected: int
) -> None:
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    path = tmp_path / source
    path.parent.mkdir(parents=True)
    path.write_text(code, encoding="utf-8")
    assert len(backward_imports([path])) == expected
