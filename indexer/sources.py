"""Read items or events from JSONL or CSV files; bad rows are reported, not fatal."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from plugin.errors import InputError

MAX_ROWS = 5_000_000


def read_rows(path: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Rows as dicts plus errors ({"id": "line N", "error"}) for lines that do not parse."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: no such file")
    suffix = file.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".json", ".csv"):
        raise InputError(f"{file}: expected a .jsonl or .csv file")
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    with file.open(encoding="utf-8", errors="replace", newline="") as handle:
        if suffix == ".csv":
            for number, row in enumerate(csv.DictReader(handle), start=2):
                if None in row:
                    errors.append({"id": f"line {number}", "error": "more fields than the header"})
                    continue
                rows.append({k.strip(): v for k, v in row.items() if k})
        else:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    errors.append({"id": f"line {number}", "error": f"malformed JSON: {exc.msg}"})
                    continue
                if not isinstance(value, dict):
                    errors.append({"id": f"line {number}", "error": "expected a JSON object"})
                    continue
                rows.append(value)
                if len(rows) > MAX_ROWS:
                    raise InputError(f"{file}: more than {MAX_ROWS} rows; split the file")
    return rows, errors


read_items = read_rows
read_events = read_rows
