"""Read events from files: `.json` (one object or an array), `.ndjson`/`.jsonl`, or `-` for stdin.

Any of them may be gzip-compressed (recognised by its first bytes, whatever its name); in a
directory, `.gz` copies of those names are picked up too. Every event comes with its location
(`file:line`) so a rejection can say where it was, and a file that cannot be read whole (not
UTF-8, a truncated gzip stream) is reported at the line where reading stopped.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ripple.errors import MalformedInput

SUFFIXES = (".json", ".ndjson", ".jsonl")
_GZIP = b"\x1f\x8b"  # the first bytes of every gzip stream
_UNREADABLE = (OSError, EOFError, zlib.error)  # a damaged or truncated gzip stream


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
    if name == "-" or not _plain(name).endswith((".ndjson", ".jsonl")):
        for located in read_events(name):
            if isinstance(located.doc, MalformedInput):
                yield located
            else:
                yield RawEvent(located.where, orjson.dumps(located.doc))
        return
    number = 0
    try:
        with _open(name) as fh:
            for number, line in enumerate(fh, start=1):
                if not line.isspace():  # (strip() would copy every line)
                    yield RawEvent(f"{name}:{number}", line)
    except _UNREADABLE as exc:
        yield Located(
            f"{name}:{number + 1}", MalformedInput(f"cannot read the file past this line: {exc}")
        )


def input_size(name: str) -> int | None:
    """Bytes `name` holds once decompressed (for progress), or None for stdin. A gzip stream
    records its size modulo 4 GiB in its last four bytes."""
    if name == "-":
        return None
    path = Path(name)
    size = path.stat().st_size
    with path.open("rb") as fh:
        if size < 18 or fh.read(2) != _GZIP:  # 18 bytes: the smallest gzip stream
            return size
        fh.seek(-4, 2)
        return int.from_bytes(fh.read(4), "little")


@contextmanager
def _open(name: str) -> Iterator[io.BufferedIOBase]:
    """The file's bytes, decompressed if it is gzip, after any byte-order mark."""
    with Path(name).open("rb") as raw:
        gzipped = raw.read(2) == _GZIP
        raw.seek(0)
        if not gzipped:
            yield _after_bom(raw)
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            yield _after_bom(unzipped)


def _after_bom(stream: io.BufferedIOBase) -> io.BufferedIOBase:
    """The stream past a UTF-8 byte-order mark (as saved on Windows), if it starts with one."""
    if stream.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
        stream.seek(0)
    return stream


def _plain(name: str) -> str:
    return name[: -len(".gz")] if name.endswith(".gz") else name


def expand(paths: list[str]) -> list[str]:
    """Files named, and event files found under directories named (sorted); `-` is stdin."""
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        if raw == "-" or path.is_file():
            found.append(raw)
        elif path.is_dir():
            found.extend(
                str(p) for p in sorted(path.rglob("*")) if _plain(p.name).endswith(SUFFIXES)
            )
        else:
            raise MalformedInput(f"{raw}: no such file or directory")
    return found


def read_events(name: str) -> Iterator[Located]:
    label = "<stdin>" if name == "-" else name
    data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    try:
        if data.startswith(_GZIP):
            data = gzip.decompress(data)
    except _UNREADABLE as exc:
        yield Located(f"{label}:1", MalformedInput(f"not a readable gzip stream: {exc}"))
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        reason = f"not UTF-8 text: byte {data[exc.start]:#04x} at offset {exc.start}"
        yield Located(f"{label}:{line}", MalformedInput(reason))
        return
    text = text.removeprefix("\ufeff")  # a byte-order mark, as saved on Windows
    stripped = text.lstrip()
    if _plain(name).endswith((".ndjson", ".jsonl")) or (stripped and stripped[0] not in "[{"):
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
