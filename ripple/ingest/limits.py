"""The bounds a new event from a producer must keep: name lengths, facet and dataset counts, and
how far ahead of this server's clock its time may lie.

They apply where events arrive (the routes, `ripple ingest`), never when the event log is
replayed: an event accepted yesterday must replay today, whatever the settings are now.
`check_event` names the offending field and the limit; `admits` is the cheap test the C path's
deltas take, true whenever `check_event` would pass (a false "no" only sends the event through
the Python parser, which then decides).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ripple.errors import InvalidEvent
from ripple.graph.delta import GraphDelta
from ripple.ingest.event import DatasetRef, Event
from ripple.model import Prop

_UNRESOLVED = str(Prop.UNRESOLVED)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Limits:
    """The input limits of config.Settings (same names), and the clock future times are told by."""

    max_name_length: int = 1024
    max_facets: int = 1000
    max_datasets: int = 10_000
    max_clock_skew: float = 86_400
    clock: Callable[[], datetime] = field(default=_now, compare=False)
    # the longest name in a schema or a lineage, by its digest: producers repeat them
    _longest: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def latest(self) -> datetime:
        """The latest event time accepted now."""
        return self.clock() + timedelta(seconds=self.max_clock_skew)

    def cutoff(self) -> str:
        """`latest()` as the start of a delta's stamp compares with it (for `admits`)."""
        # "~" sorts after the stamp separator, so a stamp of exactly the latest time passes.
        return self.latest().astimezone(UTC).isoformat(timespec="microseconds") + "~"

    def admits(self, delta: GraphDelta, cutoff: str) -> bool:
        """Whether the delta surely keeps the limits (cheap; `check_event` decides otherwise).

        Holds for deltas of the C path, which names each dataset once and keeps every facet
        as one property (schema and columnLineage as column facts)."""
        if delta.stamp > cutoff or len(delta.nodes) > self.max_datasets:
            return False
        longest = self.max_name_length
        props = 2 * len(delta.columns)
        for node in delta.nodes:
            # an id holds its namespace and name, so a short id has short ones
            if len(node.id) > longest or _UNRESOLVED in node.props:
                return False
            props += len(node.props)
        if props > self.max_facets:
            return False
        known = self._longest
        for facts in delta.columns:
            schema = facts.schema
            if schema is not None:
                size = known.get(schema.digest)
                if size is None:
                    size = self._remember(schema.digest, [f[0] for f in schema.fields])
                if size > longest:
                    return False
            if facts.lineage:
                key = facts.lineage_digest or ""
                size = known.get(key)
                if size is None:
                    names = [e[1] for e in facts.lineage] + [e[2] or "" for e in facts.lineage]
                    size = self._remember(key, names)
                if size > longest:
                    return False
        return True

    def _remember(self, digest: str, names: list[str]) -> int:
        if len(self._longest) >= 100_000:
            self._longest.clear()
        size = self._longest[digest] = max(map(len, names), default=0)
        return size

    def check_event(self, event: Event) -> None:
        """Raise InvalidEvent naming the first limit the event exceeds, and the limit."""
        datasets = [*event.inputs, *event.outputs]
        if len(datasets) > self.max_datasets:
            raise InvalidEvent(
                "$",
                f"{len(event.inputs)} inputs, {len(event.outputs)} outputs",
                f"names {len(datasets)} inputs and outputs; at most {self.max_datasets} are "
                "accepted in one event (RIPPLE_MAX_DATASETS)",
            )
        facets = _facet_count(event)
        if facets > self.max_facets:
            raise InvalidEvent(
                "$",
                facets,
                f"carries {facets} facets; at most {self.max_facets} are accepted in one "
                "event (RIPPLE_MAX_FACETS)",
            )
        for path, name in _names(event):
            if len(name) > self.max_name_length:
                raise InvalidEvent(
                    path,
                    name,
                    f"is {len(name)} characters long; at most {self.max_name_length} are "
                    "accepted (RIPPLE_MAX_NAME_LENGTH)",
                )
        now = self.clock()
        if event.event_time > now + timedelta(seconds=self.max_clock_skew):
            raise InvalidEvent(
                "$.eventTime",
                event.event_time.isoformat(),
                f"eventTime {event.event_time.isoformat()} is more than "
                f"{self.max_clock_skew:g} s ahead of this server's clock "
                f"({now.astimezone(UTC).isoformat(timespec='seconds')}; "
                "RIPPLE_MAX_CLOCK_SKEW) — is the producer's clock right?",
            )


def _facet_count(event: Event) -> int:
    count = len(event.warnings)  # each warning is a facet dropped
    if event.job is not None:
        count += len(event.job.facets)
    if event.run is not None:
        count += len(event.run.facets)
    for ref in (*event.inputs, *event.outputs):
        count += len(ref.facets) + len(ref.io_facets)
        count += (ref.schema is not None) + (ref.lineage is not None)
    return count


def _names(event: Event) -> list[tuple[str, str]]:
    """(JSON path, name) of every name the event gives the graph."""
    found: list[tuple[str, str]] = []
    if event.job is not None:
        found += [("$.job.namespace", event.job.key.namespace), ("$.job.name", event.job.key.name)]
    if event.run is not None:
        parent = "$.run.facets.parent"
        for path, link in ((parent, event.run.parent), (f"{parent}.root", event.run.root)):
            if link is not None:
                found += [(f"{path}.job.namespace", link[1].namespace)]
                found += [(f"{path}.job.name", link[1].name)]
    if event.kind == "DatasetEvent":
        places = [("$.dataset", event.outputs[0])]
    else:
        places = [(f"$.inputs[{i}]", ref) for i, ref in enumerate(event.inputs)]
        places += [(f"$.outputs[{i}]", ref) for i, ref in enumerate(event.outputs)]
    for path, ref in places:
        found += _dataset_names(path, ref)
    return found


def _dataset_names(path: str, ref: DatasetRef) -> list[tuple[str, str]]:
    found = [(f"{path}.namespace", ref.key.namespace), (f"{path}.name", ref.key.name)]
    if ref.schema is not None:
        found += [(f"{path}.facets.schema.fields", f[0]) for f in ref.schema.fields]
    if ref.lineage is not None:
        lineage = f"{path}.facets.columnLineage"
        for entry in ref.lineage.entries:
            # "datasetField:<ns>:<name>:<field>" of "dataset:<ns>:<name>": its field
            field_name = entry.src_column[len(entry.src_dataset) + 6 :]
            found.append((f"{lineage} (an input field)", field_name))
            if entry.dst_field is not None:
                found.append((f"{lineage}.fields", entry.dst_field))
        if ref.lineage.dataset_wide:
            found += [(f"{lineage}.fields", name) for name in ref.lineage.fields]
    return found
