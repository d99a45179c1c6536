"""Typed reads from decoded JSON that raise InvalidEvent naming the JSON path, value and reason."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from ripple.errors import MISSING, InvalidEvent

JsonObject = dict[str, Any]

_FRACTION = re.compile(r"\.(\d+)")


def obj(parent: JsonObject, key: str, path: str, *, required: bool = False) -> JsonObject | None:
    value = parent.get(key, MISSING)
    if value is MISSING or value is None:
        if required:
            raise InvalidEvent(f"{path}.{key}", MISSING, "is required")
        return None
    if not isinstance(value, dict):
        raise InvalidEvent(f"{path}.{key}", value, f"must be an object, not {_type(value)}")
    return value


def string(parent: JsonObject, key: str, path: str, *, required: bool = False) -> str | None:
    value = parent.get(key, MISSING)
    if value is MISSING or value is None:
        if required:
            raise InvalidEvent(f"{path}.{key}", MISSING, "is required")
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{path}.{key}", value, f"must be a string, not {_type(value)}")
    if required and not value:
        raise InvalidEvent(f"{path}.{key}", value, "must not be empty")
    return value


def integer(parent: JsonObject, key: str, path: str, *, required: bool = False) -> int | None:
    value = parent.get(key, MISSING)
    if value is MISSING or value is None:
        if required:
            raise InvalidEvent(f"{path}.{key}", MISSING, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise InvalidEvent(f"{path}.{key}", value, f"must be an integer, not {_type(value)}")
    return value


def boolean(parent: JsonObject, key: str, path: str) -> bool | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidEvent(f"{path}.{key}", value, f"must be true or false, not {_type(value)}")
    return value


def array(parent: JsonObject, key: str, path: str, *, required: bool = False) -> list[Any]:
    value = parent.get(key, MISSING)
    if value is MISSING or value is None:
        if required:
            raise InvalidEvent(f"{path}.{key}", MISSING, "is required")
        return []
    if not isinstance(value, list):
        raise InvalidEvent(f"{path}.{key}", value, f"must be an array, not {_type(value)}")
    return value


def item_obj(value: Any, path: str) -> JsonObject:
    if not isinstance(value, dict):
        raise InvalidEvent(path, value, f"must be an object, not {_type(value)}")
    return value


def run_uuid(parent: JsonObject, key: str, path: str) -> uuid.UUID:
    text = string(parent, key, path, required=True)
    assert text is not None
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidEvent(f"{path}.{key}", text, "must be a UUID") from None


def timestamp(
    parent: JsonObject, key: str, path: str, *, required: bool = False
) -> datetime | None:
    text = string(parent, key, path, required=required)
    if text is None:
        return None
    parsed = parse_timestamp(text)
    if parsed is None:
        raise InvalidEvent(f"{path}.{key}", text, "must be an ISO-8601 date-time")
    return parsed


def parse_timestamp(text: str) -> datetime | None:
    """ISO-8601 with Marquez's leniency: nanoseconds are cut to microseconds, no zone means UTC."""
    cleaned = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    cleaned = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), cleaned, count=1)
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
