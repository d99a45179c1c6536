"""Seeded synthetic OpenLineage traffic for Ripple's benchmarks.

The lineage is a layered DAG of datasets, built the way warehouses tend to grow:

* layer 0 holds the raw sources, plus a few shared "hub" tables (dimensions, calendars) that jobs
  in every layer read — the fan-out that gives some datasets a very large blast radius;
* every later dataset is written by exactly one job; a job writes 1 or 2 neighbouring datasets of
  its layer and reads 2 or 3 datasets: one from the layer above within a small positional window,
  the others from that window, from a layer further up (a skip connection) or from a hub;
* neighbouring jobs share inputs, so fan-in, fan-out and diamonds arise everywhere, and the
  downstream closure of a dataset grows like a cone with the number of layers below it. Datasets
  near the bottom have small closures, datasets near the top very large ones, so roots of any
  closure size can be picked (see `Plan.closure`).

Each job yields one COMPLETE RunEvent (OpenLineage spec 2-0-2): a fresh run id, the schema facet on
every input and output, and a columnLineage facet on every output whose input fields cite only the
event's own inputs. The same (n_datasets, seed, columns) always gives the same events, byte for
byte.

With `symlinks` (a share of the datasets), those datasets' writers name them by a storage location
and declare their table name in the `symlinks` facet, while readers keep the table name: the same
lineage, split at every such dataset unless a dataset and its symlink are taken as one node.

    python -m bench.generator --datasets 10000 --seed 7 --out events.ndjson
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PRODUCER = "urn:ripple:bench:generator:1"
_FACETS = "https://openlineage.io/spec/facets"
SCHEMA_FACET = f"{_FACETS}/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
LINEAGE_FACET = f"{_FACETS}/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
JOB_TYPE_FACET = f"{_FACETS}/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
NOMINAL_TIME_FACET = f"{_FACETS}/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet"
OUTPUT_STATS_FACET = (
    f"{_FACETS}/1-0-2/OutputStatisticsOutputDatasetFacet.json"
    "#/$defs/OutputStatisticsOutputDatasetFacet"
)
SYMLINKS_FACET = f"{_FACETS}/1-0-1/SymlinksDatasetFacet.json#/$defs/SymlinksDatasetFacet"

JOB_NAMESPACE = "ripple-bench"
RAW_NAMESPACE = "s3://lake-raw"
HUB_NAMESPACE = "postgres://crm-db:5432"
WAREHOUSE_NAMESPACE = "bigquery"
LOCATION_NAMESPACE = "s3://warehouse"  # where a dataset with a symlink is written (see `symlinks`)
START_TIME = datetime(2025, 1, 1, tzinfo=UTC)

# Column names and their types; a dataset draws its columns from here ("id" always first).
VOCABULARY: tuple[tuple[str, str], ...] = (
    ("id", "BIGINT"),
    ("customer_id", "BIGINT"),
    ("order_id", "BIGINT"),
    ("product_id", "BIGINT"),
    ("account_id", "BIGINT"),
    ("amount", "DECIMAL(18,2)"),
    ("price", "DECIMAL(18,2)"),
    ("discount", "DECIMAL(5,2)"),
    ("quantity", "INTEGER"),
    ("currency", "STRING"),
    ("status", "STRING"),
    ("channel", "STRING"),
    ("region", "STRING"),
    ("country", "STRING"),
    ("email", "STRING"),
    ("sku", "STRING"),
    ("score", "DOUBLE"),
    ("is_active", "BOOLEAN"),
    ("created_at", "TIMESTAMP"),
    ("updated_at", "TIMESTAMP"),
    ("event_date", "DATE"),
    ("session_id", "STRING"),
    ("segment", "STRING"),
    ("revenue", "DECIMAL(18,2)"),
)
_TYPES = dict(VOCABULARY)
DIRECT_SUBTYPES = ("TRANSFORMATION", "AGGREGATION")
INDIRECT_SUBTYPES = ("FILTER", "JOIN", "GROUP_BY", "SORT", "WINDOW", "CONDITIONAL")


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    namespace: str
    name: str
    layer: int
    columns: tuple[str, ...]
    # The (namespace, name) of the location its writer names it by, declaring (namespace, name)
    # as its TABLE symlink; None: written under (namespace, name). Readers always use the latter.
    location: tuple[str, str] | None = None

    @property
    def node_id(self) -> str:
        """The dataset's id in the graph, once its location and table name are one node."""
        return f"dataset:{self.namespace}:{self.name}"


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    layer: int
    inputs: tuple[int, ...]  # dataset indexes
    outputs: tuple[int, ...]

    @property
    def node_id(self) -> str:
        return f"job:{JOB_NAMESPACE}:{self.name}"


@dataclass(frozen=True, slots=True)
class ClosureSize:
    """What a downstream walk from a dataset (columns included, no caps) should return."""

    datasets: int  # downstream datasets, the root excluded
    jobs: int
    columns: int  # the root's own columns and those of every downstream dataset

    @property
    def nodes(self) -> int:
        return self.datasets + self.jobs + self.columns


@dataclass(slots=True)
class Plan:
    """The shape of the synthetic lineage, before any event is written."""

    seed: int
    datasets: list[DatasetSpec]
    jobs: list[JobSpec]
    layers: int
    width: int
    window: int
    hubs: int  # datasets 0..hubs-1 are the shared hub tables
    _readers: list[list[int]] | None = None

    def readers(self) -> list[list[int]]:
        """For every dataset, the jobs that read it."""
        if self._readers is None:
            readers: list[list[int]] = [[] for _ in self.datasets]
            for j, job in enumerate(self.jobs):
                for d in job.inputs:
                    readers[d].append(j)
            self._readers = readers
        return self._readers

    def closure(self, root: int, cap: int | None = None) -> ClosureSize | None:
        """Exact size of the downstream closure of dataset `root` (ground truth for the walks).

        With `cap`, gives up (None) as soon as the closure is known to exceed `cap` nodes."""
        readers = self.readers()
        seen_datasets = {root}
        seen_jobs: set[int] = set()
        nodes = len(self.datasets[root].columns)
        frontier = [root]
        while frontier:
            nxt: list[int] = []
            for d in frontier:
                for j in readers[d]:
                    if j in seen_jobs:
                        continue
                    seen_jobs.add(j)
                    nodes += 1
                    for out in self.jobs[j].outputs:
                        if out not in seen_datasets:
                            seen_datasets.add(out)
                            nodes += 1 + len(self.datasets[out].columns)
                            nxt.append(out)
            if cap is not None and nodes > cap:
                return None
            frontier = nxt
        columns = sum(len(self.datasets[d].columns) for d in seen_datasets)
        return ClosureSize(len(seen_datasets) - 1, len(seen_jobs), columns)

    @property
    def events(self) -> int:
        return len(self.jobs)

    @property
    def symlinked(self) -> int:
        """How many datasets are written under a location name with a symlink to their own."""
        return sum(ds.location is not None for ds in self.datasets)


def build_plan(n_datasets: int, seed: int, columns: int = 10, symlinks: float = 0.0) -> Plan:
    """Lay out `n_datasets` datasets in layers and assign every non-source one to a job.

    `symlinks` is the share of all datasets whose writer names them by a storage location and
    declares their table name in the `symlinks` facet (see `_locate`); it only renames what
    writers write, so the plan is otherwise the same, and so is every closure once a dataset and
    its symlink are one node. Only datasets that some job writes can have one."""
    if n_datasets < 8:
        raise ValueError("need at least 8 datasets")
    if not 2 <= columns <= len(VOCABULARY) * 4:
        raise ValueError(f"columns must be between 2 and {len(VOCABULARY) * 4}")
    if not 0.0 <= symlinks <= 1.0:
        raise ValueError(f"symlinks must be a share between 0 and 1, not {symlinks}")
    rng = random.Random(f"plan:{seed}")
    hubs = max(2, n_datasets // 2_000)
    layers = min(40, max(4, round(math.sqrt(n_datasets) / 8)))
    width = math.ceil((n_datasets - hubs) / layers)
    window = max(2, width // 100)

    datasets: list[DatasetSpec] = []
    for h in range(hubs):
        datasets.append(
            DatasetSpec(HUB_NAMESPACE, f"public.dim_{h:04d}", 0, _columns(rng, columns))
        )
    layer_start: list[int] = []
    for layer in range(layers):
        layer_start.append(len(datasets))
        size = min(width, n_datasets - len(datasets))
        for pos in range(size):
            if layer == 0:
                namespace, name = RAW_NAMESPACE, f"raw/source_{pos:05d}"
            else:
                stage = "staging.stg" if layer < layers // 2 else "marts.mart"
                namespace, name = WAREHOUSE_NAMESPACE, f"{stage}_l{layer:02d}_{pos:05d}"
            datasets.append(DatasetSpec(namespace, name, layer, _columns(rng, columns)))
    layer_size = [
        (layer_start[i + 1] if i + 1 < layers else len(datasets)) - layer_start[i]
        for i in range(layers)
    ]

    def near(layer: int, pos: int, from_size: int) -> int:
        """A dataset of `layer` close to relative position pos/from_size."""
        size = layer_size[layer]
        centre = pos * size // from_size
        return layer_start[layer] + (centre + rng.randint(-window, window)) % size

    drafts: list[tuple[int, list[int], tuple[int, ...]]] = []  # (layer, inputs, outputs)
    for layer in range(1, layers):
        size = layer_size[layer]
        pos = 0
        while pos < size:
            n_out = 2 if pos + 1 < size and rng.random() < 0.5 else 1
            outputs = tuple(layer_start[layer] + pos + k for k in range(n_out))
            n_in = 3 if rng.random() < 0.4 else 2
            inputs = [near(layer - 1, pos, size)]
            for _ in range(50):  # distinct inputs; small windows may need a few draws
                if len(inputs) == n_in:
                    break
                r = rng.random()
                if r < 0.08:
                    candidate = rng.randrange(hubs)
                elif r < 0.20 and layer >= 2:
                    candidate = near(rng.randint(max(0, layer - 4), layer - 2), pos, size)
                else:
                    candidate = near(layer - 1, pos, size)
                if candidate not in inputs:
                    inputs.append(candidate)
            drafts.append((layer, inputs, outputs))
            pos += n_out
    _read_every_source(drafts, layer_start[1] - layer_start[0], hubs, rng)
    jobs = [
        JobSpec(f"{datasets[outputs[0]].name.replace('/', '.')}.build", layer, tuple(ins), outputs)
        for layer, ins, outputs in drafts
    ]
    if symlinks:
        _locate(datasets, layer_start[1], symlinks, random.Random(f"symlinks:{seed}"))
    return Plan(seed, datasets, jobs, layers, width, window, hubs)


def _locate(datasets: list[DatasetSpec], first: int, share: float, rng: random.Random) -> None:
    """Give `share` of all datasets (drawn from the written ones, index `first` on) a location.

    `bigquery:staging.stg_l01_00042` is then written as `s3://warehouse:staging.db/stg_l01_00042`
    with a TABLE symlink back to its table name, which every reader keeps using: the way Spark
    or Hive writes a table that Trino or dbt reads."""
    written = range(first, len(datasets))
    for index in rng.sample(written, min(len(written), round(share * len(datasets)))):
        ds = datasets[index]
        schema, table = ds.name.split(".", 1)
        datasets[index] = replace(ds, location=(LOCATION_NAMESPACE, f"{schema}.db/{table}"))


def _read_every_source(
    drafts: list[tuple[int, list[int], tuple[int, ...]]],
    sources: int,
    hubs: int,
    rng: random.Random,
) -> None:
    """Give every layer-0 dataset a reader, so that each one appears in some event.

    An unread source becomes the third input of the nearest layer-1 job that has only two."""
    read = {d for _, inputs, _ in drafts for d in inputs}
    first = [i for i, (layer, _, _) in enumerate(drafts) if layer == 1]
    if not first:
        return
    for d in range(hubs + sources):
        if d in read:
            continue
        pos = rng.randrange(sources) if d < hubs else d - hubs
        centre = pos * len(first) // sources
        for step in range(len(first)):
            candidates = [centre + step, centre - step] if step else [centre]
            spot = next(
                (
                    first[c]
                    for c in candidates
                    if 0 <= c < len(first) and len(drafts[first[c]][1]) < 3
                ),
                None,
            )
            if spot is not None:
                drafts[spot][1].append(d)
                read.add(d)
                break


def _columns(rng: random.Random, count: int) -> tuple[str, ...]:
    names = [name for name, _ in VOCABULARY[1:]]
    picked = ["id", *rng.sample(names, min(count - 1, len(names)))]
    suffix = 2
    while len(picked) < count:  # more columns than the vocabulary: numbered variants
        picked.extend(f"{name}_{suffix}" for name in names[: count - len(picked)])
        suffix += 1
    return tuple(picked)


def _type_of(column: str) -> str:
    return _TYPES.get(column) or _TYPES[column.rsplit("_", 1)[0]]


class EventWriter:
    """Turns the jobs of a plan into OpenLineage RunEvents (one per job, in layer order).

    `day` > 0 runs every job again that many days later: the same event but for a new run id and
    times shifted by `day` days — the steady state of a warehouse, where most events re-assert
    datasets, schemas and column lineage that Ripple already holds."""

    def __init__(self, plan: Plan, day: int = 0) -> None:
        self.plan = plan
        self._rng = random.Random(f"events:{plan.seed}")  # the same draws on every day
        self._runs = random.Random(f"runs:{plan.seed}:{day}") if day else None
        self._shift = timedelta(days=day)

    def events(self) -> Iterator[dict[str, Any]]:
        for index, job in enumerate(self.plan.jobs):
            yield self.event(index, job)

    def event(self, index: int, job: JobSpec) -> dict[str, Any]:
        rng = self._rng
        run_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        if self._runs is not None:
            run_id = uuid.UUID(int=self._runs.getrandbits(128), version=4)
        start = START_TIME + self._shift
        when = start + timedelta(seconds=index * 1.5, microseconds=rng.randrange(1_000_000))
        nominal = start + timedelta(hours=index // 2_000)
        inputs = [self.plan.datasets[d] for d in job.inputs]
        return {
            "eventType": "COMPLETE",
            "eventTime": _iso(when),
            "run": {
                "runId": str(run_id),
                "facets": {
                    "nominalTime": {
                        **_base(NOMINAL_TIME_FACET),
                        "nominalStartTime": _iso(nominal),
                        "nominalEndTime": _iso(nominal + timedelta(hours=1)),
                    }
                },
            },
            "job": {
                "namespace": JOB_NAMESPACE,
                "name": job.name,
                "facets": {
                    "jobType": {
                        **_base(JOB_TYPE_FACET),
                        "processingType": "BATCH",
                        "integration": "SPARK" if job.layer < self.plan.layers // 2 else "DBT",
                        "jobType": "JOB" if job.layer < self.plan.layers // 2 else "MODEL",
                    }
                },
            },
            "inputs": [
                {"namespace": ds.namespace, "name": ds.name, "facets": {"schema": _schema(ds)}}
                for ds in inputs
            ],
            "outputs": [self._output(self.plan.datasets[d], inputs) for d in job.outputs],
            "producer": PRODUCER,
            "schemaURL": RUN_EVENT_SCHEMA,
        }

    def _output(self, ds: DatasetSpec, inputs: Sequence[DatasetSpec]) -> dict[str, Any]:
        rng = self._rng
        facets: dict[str, Any] = {}
        namespace, name = ds.namespace, ds.name
        if ds.location is not None:  # no draw from rng: the other events stay the same
            namespace, name = ds.location
            facets["symlinks"] = {
                **_base(SYMLINKS_FACET),
                "identifiers": [{"namespace": ds.namespace, "name": ds.name, "type": "TABLE"}],
            }
        lineage: dict[str, Any] = {
            **_base(LINEAGE_FACET),
            "fields": {
                column: {"inputFields": self._sources(column, inputs)} for column in ds.columns
            },
        }
        if rng.random() < 0.3:  # rows filtered or joined on a key: a dataset-wide dependency
            keyed = rng.sample(list(inputs), rng.randint(1, min(2, len(inputs))))
            lineage["dataset"] = [
                _input_field(src, "id", "INDIRECT", rng.choice(("JOIN", "FILTER"))) for src in keyed
            ]
        facets.update(schema=_schema(ds), columnLineage=lineage)
        return {
            "namespace": namespace,
            "name": name,
            "facets": facets,
            "outputFacets": {
                "outputStatistics": {
                    **_base(OUTPUT_STATS_FACET),
                    "rowCount": rng.randrange(1_000, 10_000_000),
                    "size": rng.randrange(100_000, 10_000_000_000),
                }
            },
        }

    def _sources(self, column: str, inputs: Sequence[DatasetSpec]) -> list[dict[str, Any]]:
        """1-3 input fields that an output column is computed from."""
        rng = self._rng
        wanted = rng.choices((1, 2, 3), weights=(6, 3, 1))[0]
        picked: list[tuple[DatasetSpec, str]] = []
        same_name = [ds for ds in inputs if column in ds.columns]
        if same_name and rng.random() < 0.7:
            picked.append((rng.choice(same_name), column))
        while len(picked) < wanted:
            src = rng.choice(inputs)
            pair = (src, rng.choice(src.columns))
            if pair not in picked:
                picked.append(pair)
        fields = []
        for src, name in picked:
            if rng.random() < 0.1:
                fields.append(_input_field(src, name, "INDIRECT", rng.choice(INDIRECT_SUBTYPES)))
            elif name == column and len(picked) == 1:
                fields.append(_input_field(src, name, "DIRECT", "IDENTITY"))
            else:
                fields.append(_input_field(src, name, "DIRECT", rng.choice(DIRECT_SUBTYPES)))
        return fields


def _input_field(src: DatasetSpec, name: str, kind: str, subtype: str) -> dict[str, Any]:
    return {
        "namespace": src.namespace,
        "name": src.name,
        "field": name,
        "transformations": [{"type": kind, "subtype": subtype, "masking": False}],
    }


def _schema(ds: DatasetSpec) -> dict[str, Any]:
    return {
        **_base(SCHEMA_FACET),
        "fields": [{"name": column, "type": _type_of(column)} for column in ds.columns],
    }


def _base(schema_url: str) -> dict[str, str]:
    return {"_producer": PRODUCER, "_schemaURL": schema_url}


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def generate(
    n_datasets: int, seed: int, columns: int = 10, symlinks: float = 0.0
) -> Iterator[dict[str, Any]]:
    """Every event of the lineage of `n_datasets` datasets: one RunEvent per job."""
    return EventWriter(build_plan(n_datasets, seed, columns, symlinks)).events()


def events_for(n_events: int, seed: int, columns: int = 10) -> tuple[Plan, list[dict[str, Any]]]:
    """A plan sized to give about `n_events` events, and exactly that many of its events."""
    n_datasets = max(8, round(n_events * 1.5 * 1.05))
    plan = build_plan(n_datasets, seed, columns)
    while plan.events < n_events:
        n_datasets = math.ceil(n_datasets * 1.05)
        plan = build_plan(n_datasets, seed, columns)
    events = EventWriter(plan).events()
    return plan, [next(events) for _ in range(n_events)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.generator",
        description="Write synthetic OpenLineage events as NDJSON.",
    )
    parser.add_argument("--datasets", type=int, required=True, help="number of datasets")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--columns", type=int, default=10, help="columns per dataset (default 10)")
    parser.add_argument(
        "--symlinks",
        type=float,
        default=0.0,
        help="share of datasets written under a location name with a TABLE symlink (default 0)",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="NDJSON file to write ('-': stdout)"
    )
    args = parser.parse_args(argv)
    try:
        plan = build_plan(args.datasets, args.seed, args.columns, args.symlinks)
    except ValueError as exc:
        parser.error(str(exc))
    lines = (orjson.dumps(event) + b"\n" for event in EventWriter(plan).events())
    if str(args.out) == "-":
        for line in lines:
            sys.stdout.buffer.write(line)
    else:
        with args.out.open("wb") as fh:
            fh.writelines(lines)
    print(
        f"{plan.events} events, {len(plan.datasets)} datasets "
        f"({plan.layers} layers of {plan.width}, {plan.hubs} hubs), "
        f"{len(plan.datasets) * args.columns} columns"
        + (f", {plan.symlinked} written under a location with a symlink" if plan.symlinked else "")
        + f" -> {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
