"""Timestamps from user input: ISO 8601 strings or epoch seconds/milliseconds, to UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from plugin.errors import InputError

# Events from before the web or more than a day ahead are typos or broken clocks.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
MAX_FUTURE_S = 24 * 3600


def parse_time(value: object, *, now: datetime | None = None, field: str = "time") -> datetime:
    """Parse ``value`` to an aware UTC datetime; refuse absurd dates with InputError."""
    now = now or datetime.now(UTC)
    if value is None or value == "":
        return now
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, bool):
        raise InputError(f"{field}: expected an ISO 8601 date or epoch seconds, got a boolean")
    elif isinstance(value, int | float):
        seconds = float(value) / 1000.0 if abs(value) > 1e11 else float(value)
        try:
            moment = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise InputError(f"{field}: epoch value {value!r} is out of range") from None
    elif isinstance(value, str):
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            return parse_time(float(text), now=now, field=field)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{field}: {value[:40]!r} is not an ISO 8601 date") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    else:
        raise InputError(f"{field}: expected an ISO 8601 date or epoch seconds")
    moment = moment.astimezone(UTC)
    if moment < EARLIEST:
        raise InputError(f"{field}: {moment.date()} is before {EARLIEST.date()}")
    if (moment - now).total_seconds() > MAX_FUTURE_S:
        raise InputError(f"{field}: {moment.isoformat()} is more than a day in the future")
    return moment


def to_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
