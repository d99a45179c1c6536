"""Read events from files: `.json` (one object or an array), `.ndjson`/`.jsonl`, or `-` for stdin.

Any of them may be gzip-compressed (recognised by its first bytes, whatever its name); in a
directory, `.gz` copies of those names are picked up too. Every event comes with its location
(`file:line`) so a rejection can say where it was, and a file that cannot be read whole (not
UTF-8, a truncated gzip stream) is reported at the line where reading stopped.

`gunzip` is the one gzip reader of Ripple: files here, and request bodies over HTTP
(ripple/api/body.py), so both read every member of a stream and both refuse a truncated one.
"""

from __future__ import annotations

import codecs
import io
import json
import sys
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ripple.errors import MalformedInput, PayloadTooLarge

SUFFIXES = (".json", ".ndjson", ".jsonl")
_GZIP = b"\x1f\x8b"  # the first bytes of every gzip stream
_UNREADABLE = (OSError, EOFError, zlib.error, MalformedInput)  # a damaged or truncated stream
_PIECE = 8 * 1024  # compressed bytes handed to zlib at a time (and the most it leaves over)


def gunzip(data: bytes, limit: int | None = None) -> bytes:
    """The decompressed bytes of a gzip stream: every member, in order (pure).

    MalformedInput naming the reason when the stream is damaged, truncated (it ends inside a
    member), or followed by bytes that are not another member (zero padding after a member is
    allowed, as gzip allows it); PayloadTooLarge as soon as the output passes `limit` bytes,
    while inflating, so a small bomb never grows in memory."""
    return b"".join(inflate_gzip((data,), limit))


def inflate_gzip(chunks: Iterable[bytes], limit: int | None = None) -> Iterator[bytes]:
    """`gunzip` of a stream given in pieces (a file read block by block), piece by piece."""
    pieces = _bounded(chunks)
    pending, offset, out, member = b"", 0, 0, 0  # offset: compressed bytes consumed so far
    while True:
        while not pending or pending[0] == 0:  # between members: the end, padding or a member
            if not pending and not (pending := next(pieces, b"")):
                return
            offset += len(pending) - len(pending := pending.lstrip(b"\x00"))
        member += 1
        if not pending.startswith(_GZIP[: len(pending)]):
            after = f" after member {member - 1}" if member > 1 else ""
            raise MalformedInput(f"gzip: the bytes at offset {offset}{after} are not gzip")
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while not inflater.eof:
            if not pending:
                pending = next(pieces, b"")
                if not pending:
                    raise MalformedInput(
                        f"gzip: the stream is truncated — it ends inside member {member}, "
                        f"after {offset} compressed and {out} decompressed bytes"
                    )
            room = 0 if limit is None else limit + 1 - out  # 0: no bound
            try:
                chunk = inflater.decompress(pending, room)
            except zlib.error as exc:
                raise MalformedInput(f"gzip: member {member} is damaged: {exc}") from None
            offset += len(pending) - len(inflater.unconsumed_tail)
            pending = inflater.unconsumed_tail
            out += len(chunk)
            if limit is not None and out > limit:
                raise PayloadTooLarge(
                    f"gzip: the stream decompresses to more than {limit} bytes (the limit)"
                )
            if chunk:
                yield chunk
        pending = inflater.unused_data
        offset -= len(pending)


def _bounded(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks cut to at most _PIECE bytes, so zlib's leftover copies stay small however many
    members a stream has."""
    for chunk in chunks:
        view = memoryview(chunk)
        for start in range(0, len(view), _PIECE):
            yield bytes(view[start : start + _PIECE])


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
def _open(name: str) -> Iterator[io.BufferedReader]:
    """The file's bytes, decompressed if it is gzip, after any byte-order mark."""
    with Path(name).open("rb") as raw:
        gzipped = raw.read(2) == _GZIP
        raw.seek(0)
        if not gzipped:
            yield _after_bom(raw)
            return
        blocks = iter(lambda: raw.read(_PIECE), b"")
        yield _after_bom(io.BufferedReader(_Unzipped(inflate_gzip(blocks)), _PIECE))


class _Unzipped(io.RawIOBase):
    """A gzip file read through `inflate_gzip`, as a stream (for its lines)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            self._left = next(self._chunks, b"")
            if not self._left:
                return 0
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size


def _after_bom(stream: io.BufferedReader) -> io.BufferedReader:
    """The stream past a UTF-8 byte-order mark (as saved on Windows), if it starts with one."""
    if stream.peek(len(codecs.BOM_UTF8)).startswith(codecs.BOM_UTF8):
        stream.read(len(codecs.BOM_UTF8))
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
            data = gunzip(data)
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
