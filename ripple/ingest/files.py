"""Read events from files: `.json` (one object or an array), `.ndjson`/`.jsonl`, or `-` for stdin.

Every event comes with its location (`file:line`) so a rejection can say where it was.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ripple.errors import MalformedInput

SUFFIXES = (".json", ".ndjson", ".jsonl")


@dataclass(frozen=True, slots=True)
class Located:
    where: str  # "path:line"
    doc: Any | MalformedInput


@dataclass(frozen=True, slots=True)
class RawEvent:
    where: str  # "path:line"
    body: bytes  # one event's JSON, as read (undecoded where the format allows)


def read_raw(name: str) -> Iterator[RawEvent | Located]:
    """Events as JSON bytes, for bulk ingest; an unreadable one comes as Located(where, error).

    NDJSON lines and single-object files pass through undecoded; array elements are re-encoded."""
    if name == "-" or not name.endswith((".ndjson", ".jsonl")):
        for located in read_events(name):
            if isinstance(located.doc, MalformedInput):
                yield located
            else:
                yield RawEvent(located.where, orjson.dumps(located.doc))
        return
    with Path(name).open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                yield RawEvent(f"{name}:{number}", line)


def expand(paths: list[str]) -> list[str]:
    """Files named, and event files found under directories named (sorted); `-` is stdin."""
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        if raw == "-" or path.is_file():
            found.append(raw)
        elif path.is_dir():
            found.extend(str(p) for p in sorted(path.rglob("*")) if p.suffix in SUFFIXES)
        else:
            raise MalformedInput(f"{raw}: no such file or directory")
    return found


def read_events(name: str) -> Iterator[Located]:
    text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    label = "<stdin>" if name == "-" else name
    stripped = text.lstrip()
    if name.endswith((".ndjson", ".jsonl")) or (stripped and stripped[0] not in "[{"):
        yield from _lines(text, label)
    elif stripped.startswith("["):
        yield from _array(text, label)
    else:
        try:
            yield Located(
                f"{label}:{_line_of(text, len(text) - len(stripped))}", orjson.loads(text)
            )
        except orjson.JSONDecodeError:
            yield from _lines(text, label)  # NDJSON saved as .json


def _lines(text: str, label: str) -> Iterator[Located]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield Located(f"{label}:{number}", orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            yield Located(f"{label}:{number}", MalformedInput(f"not valid JSON: {exc}"))


def _array(text: str, label: str) -> Iterator[Located]:
    """Elements of a top-level array with the line each starts on."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    line = _line_of(text, pos)
    last = pos
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            yield Located(f"{label}:{line}", MalformedInput("array is not closed"))
            return
        if text[pos] == "]":
            return
        line += text.count("\n", last, pos)
        last = pos
        try:
            doc, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield Located(f"{label}:{line}", MalformedInput(f"not valid JSON: {exc.msg}"))
            return
        yield Located(f"{label}:{line}", doc)
        pos = end


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1
