import gzip
import json
from pathlib import Path

import pytest

from ripple.errors import MalformedInput, PayloadTooLarge
from ripple.ingest.files import (
    Located,
    RawEvent,
    expand,
    gunzip,
    input_size,
    read_events,
    read_raw,
)

EVENT = {"eventTime": "2026-03-01T10:00:00Z", "job": {"namespace": "jobs", "name": "a"}}
OTHER = {"eventTime": "2026-03-01T11:00:00Z", "job": {"namespace": "jobs", "name": "b"}}


def read(path: Path) -> list[Located]:
    return list(read_events(str(path)))


def test_json_object_is_one_event_at_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text("\n\n" + json.dumps(EVENT, indent=2) + "\n")
    assert read(path) == [Located(f"{path}:3", EVENT)]


def test_json_array_gives_each_element_with_the_line_it_starts_on(tmp_path: Path) -> None:
    path = tmp_path / "many.json"
    body = "[\n" + json.dumps(EVENT, indent=2) + ",\n\n" + json.dumps(OTHER) + ", " + "{}\n]\n"
    path.write_text(body)
    found = read(path)
    assert [item.doc for item in found] == [EVENT, OTHER, {}]
    first_line = 2
    second_line = first_line + json.dumps(EVENT, indent=2).count("\n") + 2
    assert [item.where for item in found] == [
        f"{path}:{first_line}",
        f"{path}:{second_line}",
        f"{path}:{second_line}",
    ]


def test_an_empty_json_array_has_no_events(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text("[ ]")
    assert read(path) == []


def test_a_broken_array_element_is_malformed_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("[\n" + json.dumps(EVENT) + ",\n{not json}\n]")
    found = read(path)
    assert found[0] == Located(f"{path}:2", EVENT)
    assert found[1].where == f"{path}:3"
    assert isinstance(found[1].doc, MalformedInput)
    assert len(found) == 2


def test_an_unclosed_array_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "open.json"
    path.write_text("[\n" + json.dumps(EVENT) + ",\n")
    found = read(path)
    assert found[0].doc == EVENT
    assert isinstance(found[-1].doc, MalformedInput)
    assert "not closed" in str(found[-1].doc)


def test_ndjson_with_a_bad_line_is_malformed_at_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text(json.dumps(EVENT) + "\n\n{oops\n" + json.dumps(OTHER) + "\n")
    found = read(path)
    assert [item.where for item in found] == [f"{path}:1", f"{path}:3", f"{path}:4"]
    assert found[0].doc == EVENT
    assert isinstance(found[1].doc, MalformedInput)
    assert "not valid JSON" in str(found[1].doc)
    assert found[2].doc == OTHER


def test_jsonl_is_read_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(EVENT) + "\n" + json.dumps(OTHER) + "\n")
    assert [item.doc for item in read(path)] == [EVENT, OTHER]


def test_ndjson_saved_as_json_is_read_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text(json.dumps(EVENT) + "\n" + json.dumps(OTHER) + "\n")
    found = read(path)
    assert found == [Located(f"{path}:1", EVENT), Located(f"{path}:2", OTHER)]


def test_expand_finds_event_files_under_a_directory_sorted(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    names = ("b/2.ndjson", "a.json", "b/1.jsonl", "notes.txt", "b/readme.md", "c.ndjson.gz", "d.gz")
    for name in names:
        (tmp_path / name).write_text("{}")
    assert expand([str(tmp_path)]) == [
        str(tmp_path / "a.json"),
        str(tmp_path / "b" / "1.jsonl"),
        str(tmp_path / "b" / "2.ndjson"),
        str(tmp_path / "c.ndjson.gz"),
    ]


def test_expand_keeps_named_files_and_stdin(tmp_path: Path) -> None:
    named = tmp_path / "any-name.txt"
    named.write_text("{}")
    assert expand([str(named), "-"]) == [str(named), "-"]


def test_expand_rejects_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(MalformedInput, match="no such file"):
        expand([str(tmp_path / "missing.json")])


def test_gzip_is_read_whatever_the_file_is_called(tmp_path: Path) -> None:
    lines = (json.dumps(EVENT) + "\n" + json.dumps(OTHER) + "\n").encode()
    ndjson = tmp_path / "day.ndjson.gz"
    ndjson.write_bytes(gzip.compress(lines))
    misnamed = tmp_path / "day.json"  # NDJSON, gzipped, under a plain name
    misnamed.write_bytes(gzip.compress(lines))
    for path in (ndjson, misnamed):
        assert [json.loads(item.body) for item in read_raw(str(path))] == [EVENT, OTHER]
        assert [item.where for item in read_raw(str(path))] == [f"{path}:1", f"{path}:2"]
    assert input_size(str(ndjson)) == len(lines)  # progress counts what is read
    assert input_size(str(tmp_path / "day.json")) == len(lines)


def test_a_truncated_gzip_stream_is_malformed_where_reading_stopped(tmp_path: Path) -> None:
    lines = b"".join(json.dumps({**EVENT, "n": i}).encode() + b"\n" for i in range(2_000))
    packed = gzip.compress(lines)
    path = tmp_path / "cut.ndjson.gz"
    path.write_bytes(packed[: len(packed) // 2])
    items = list(read_raw(str(path)))
    events, (last,) = items[:-1], items[-1:]
    assert events and all(isinstance(item, RawEvent) for item in events)
    assert isinstance(last, Located) and isinstance(last.doc, MalformedInput)
    assert last.where == f"{path}:{len(events) + 1}"
    assert "cannot read the file past this line" in str(last.doc)


def test_text_that_is_not_utf8_is_malformed_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{\n  "name": "caf\xe9"\n}')
    (found,) = read(path)
    assert found.where == f"{path}:2"
    assert isinstance(found.doc, MalformedInput)
    assert str(found.doc) == "not UTF-8 text: byte 0xe9 at offset 16"


def test_a_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    one = tmp_path / "one.json"
    one.write_bytes(bom + json.dumps(EVENT).encode())
    lines = tmp_path / "lines.ndjson"
    lines.write_bytes(bom + json.dumps(EVENT).encode() + b"\n" + json.dumps(OTHER).encode())
    assert read(one) == [Located(f"{one}:1", EVENT)]
    bodies = [item.body for item in read_raw(str(lines)) if isinstance(item, RawEvent)]
    assert [json.loads(body) for body in bodies] == [EVENT, OTHER]
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(bom + b'{\n  "name": "caf\xe9"\n}')
    (found,) = read(latin1)
    assert str(found.doc) == "not UTF-8 text: byte 0xe9 at offset 19"  # offsets count the mark


# gunzip: the one gzip reader, shared with request bodies over HTTP (ripple/api/body.py).


def test_gunzip_reads_every_member_and_padding_between_them() -> None:
    first, second = gzip.compress(b"one\n"), gzip.compress(b"two\n")
    assert gunzip(first + second) == b"one\ntwo\n"
    assert gunzip(first + b"\0\0\0" + second + b"\0") == b"one\ntwo\n"  # as gzip(1) allows
    assert gunzip(b"") == b""


@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        (gzip.compress(b"one\n")[:-4], "truncated — it ends inside member 1"),
        (gzip.compress(b"one\n") + gzip.compress(b"two\n")[:12], "ends inside member 2"),
        (gzip.compress(b"one\n") + b"garbage", "at offset 24 after member 1 are not gzip"),
        (b"plain text", "at offset 0 are not gzip"),
        (gzip.compress(b"one\n")[:-8] + b"\0\0\0\0\4\0\0\0", "member 1 is damaged"),  # bad CRC
    ],
)
def test_gunzip_names_what_is_wrong_with_a_damaged_stream(stream: bytes, reason: str) -> None:
    with pytest.raises(MalformedInput, match=reason):
        gunzip(stream)


def test_gunzip_stops_a_bomb_while_inflating() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 KiB that would grow to 64 MiB
    assert len(bomb) < 100 * 1024
    with pytest.raises(PayloadTooLarge, match="more than 1048576 bytes"):
        gunzip(bomb, limit=1024 * 1024)
    members = gzip.compress(b"x" * 600_000) * 2  # each member under the limit, not together
    with pytest.raises(PayloadTooLarge):
        gunzip(members, limit=1024 * 1024)
    assert len(gunzip(members, limit=1_200_000)) == 1_200_000


def test_gzip_files_are_read_through_every_member(tmp_path: Path) -> None:
    """A multi-member file (`cat a.gz b.gz`), read whole and line by line alike."""
    path = tmp_path / "two.ndjson.gz"
    path.write_bytes(
        gzip.compress(json.dumps(EVENT).encode() + b"\n")
        + gzip.compress(json.dumps(OTHER).encode() + b"\n")
    )
    assert [json.loads(item.body) for item in read_raw(str(path))] == [EVENT, OTHER]  # type: ignore[union-attr]
    same = tmp_path / "two.json"
    same.write_bytes(path.read_bytes())
    assert [item.doc for item in read(same)] == [EVENT, OTHER]


def test_trailing_garbage_after_a_gzip_file_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "tail.ndjson.gz"
    path.write_bytes(gzip.compress(json.dumps(EVENT).encode() + b"\n") + b"trailing junk")
    *events, last = read_raw(str(path))
    assert [json.loads(item.body) for item in events] == [EVENT]  # type: ignore[union-attr]
    assert isinstance(last, Located) and isinstance(last.doc, MalformedInput)
    assert "not gzip" in str(last.doc)
