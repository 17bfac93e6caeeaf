"""Keyed pseudonyms for user ids: Elasticsearch never sees the ids that hosts send."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from plugin.errors import InputError
from plugin.settings import Settings

MAX_USER_ID_CHARS = 200
KEY_FILE_NAME = "user-key"


def validate_user_id(user: object) -> str:
    if not isinstance(user, str | int) or isinstance(user, bool):
        raise InputError("user id must be a string")
    text = str(user).strip()
    if not text:
        raise InputError("user id is empty")
    if len(text) > MAX_USER_ID_CHARS or any(ord(ch) < 32 for ch in text):
        raise InputError("user id is too long or has control characters")
    return text


def pseudonymize(user: str, key: bytes) -> str:
    """HMAC-SHA256 of the id: stable per key, not reversible without it."""
    digest = hmac.new(key, validate_user_id(user).encode("utf-8"), hashlib.sha256).hexdigest()
    return "u_" + digest[:32]


def load_user_key(settings: Settings) -> bytes:
    """INTEREST_USER_KEY, else a random key kept (0600) in the state folder and made once."""
    if settings.user_key:
        return settings.user_key.encode("utf-8")
    path = Path(settings.state_dir) / KEY_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write aside, then link into place: concurrent first users all read one complete key.
        temp = path.with_name(f"{KEY_FILE_NAME}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_hex(32).encode())
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        finally:
            temp.unlink(missing_ok=True)
    return path.read_bytes().strip()
