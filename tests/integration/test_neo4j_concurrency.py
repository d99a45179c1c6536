"""Concurrent writers on one Neo4j: several stores apply overlapping batches at once (as several
API processes behind a load balancer do). A batch merges records it read and creates what it read
as absent, so without the record locks concurrent batches lose each other's updates or create
duplicates (both seen when the lock was removed). Whatever the interleaving, nothing is lost or
doubled: the graph equals one writer applying everything."""

from __future__ import annotations

import asyncio

from ripple.graph.embedded import EmbeddedStore
from ripple.graph.neo4j import Neo4jStore
from ripple.ingest.event import parse_event
from ripple.ingest.projection import project

WRITERS = 4


async def test_concurrent_writers_lose_nothing_and_double_nothing(neo4j_uri: str) -> None:
    from bench.generator import generate  # the benchmarks' seeded warehouse generator

    deltas = [project(parse_event(event)) for event in generate(400, seed=5)]
    expected = EmbeddedStore()
    await expected.apply(deltas, through=len(deltas))

    stores = [Neo4jStore(neo4j_uri, batch_size=8) for _ in range(WRITERS)]
    for store in stores:
        await store.open()
    try:
        await stores[0].clear()
        # On an empty graph, every writer applies the same first events at once: all of them
        # want to create the same nodes.
        await asyncio.gather(*(store.apply(deltas[:40], through=40) for store in stores))
        # Each writer takes every WRITERS-th event, so neighbouring jobs (which share inputs and
        # so share datasets and columns) land in different writers' batches at the same time.
        await asyncio.gather(
            *(
                store.apply(deltas[i::WRITERS], through=len(deltas))
                for i, store in enumerate(stores)
            )
        )
        # And the same events again, all at once: re-assertions change nothing.
        await asyncio.gather(*(store.apply(deltas, through=len(deltas)) for store in stores))
        assert await stores[0].dump() == await expected.dump()
    finally:
        for store in stores:
            await store.close()
