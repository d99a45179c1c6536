"""For the Browser guide tests: the guide's runnable blocks, and Neo4j loaded with the demo."""

from __future__ import annotations

from html.parser import HTMLParser

from ripple.graph.neo4j import Neo4jStore
from ripple.ingest.demo import demo_events
from ripple.ingest.event import parse_event
from ripple.ingest.projection import project


class _Runnable(HTMLParser):
    """Collects the text of every `<pre class="code runnable">` (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = set((dict(attrs).get("class") or "").split())
        if tag == "pre" and {"code", "runnable"} <= classes:
            self._current = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre" and self._current is not None:
            self.blocks.append("".join(self._current).strip())
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)


def runnable_blocks(html: str) -> list[str]:
    parser = _Runnable()
    parser.feed(html)
    parser.close()
    return parser.blocks


async def load_demo(uri: str) -> None:
    """Clear the Neo4j database at `uri` and project the demo pipeline into it."""
    deltas = [project(parse_event(event)) for event in demo_events()]
    store = Neo4jStore(uri)
    await store.open()
    try:
        await store.clear()
        await store.apply(deltas, through=len(deltas))
    finally:
        await store.close()
