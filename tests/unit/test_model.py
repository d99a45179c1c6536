import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ripple.errors import InvalidNodeId
from ripple.model import (
    DagKey,
    DatasetKey,
    FieldKey,
    JobKey,
    NodeKind,
    RunId,
    TaskKey,
    canonical,
    kind_of,
    parse_node_id,
)

NAMESPACES = [
    "analytics",
    "postgres://db:5432",
    "s3://bucket",
    "kafka://host:9092",
    "bigquery",
]

RUN = uuid.UUID("6f1c7a3e-2b9d-4c5e-8f10-1234567890ab")


def keys_for(namespace: str) -> list[DatasetKey | JobKey | FieldKey | RunId | DagKey | TaskKey]:
    dataset = DatasetKey(namespace, "public.orders")
    return [
        dataset,
        JobKey(namespace, "etl.load_orders"),
        FieldKey(dataset, "customer_id"),
        RunId(RUN),
        DagKey(namespace, "daily_etl"),
        TaskKey(namespace, "daily_etl", "load_orders"),
    ]


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_kind_round_trips_through_its_node_id(namespace: str) -> None:
    for key in keys_for(namespace):
        assert parse_node_id(key.node_id) == key
        assert canonical(key.node_id) == key.node_id


@pytest.mark.parametrize(
    ("node_id", "kind"),
    [
        ("dataset:ns:t", NodeKind.DATASET),
        ("datasetField:ns:t:c", NodeKind.COLUMN),
        ("job:ns:j", NodeKind.JOB),
        (f"run:{RUN}", NodeKind.RUN),
        ("dag:ns:d", NodeKind.DAG),
        ("task:ns:d.t", NodeKind.TASK),
    ],
)
def test_kind_of_reads_the_prefix(node_id: str, kind: NodeKind) -> None:
    assert kind_of(node_id) is kind


def test_node_ids_have_the_marquez_form() -> None:
    dataset = DatasetKey("postgres://db:5432", "public.orders")
    assert dataset.node_id == "dataset:postgres://db:5432:public.orders"
    assert FieldKey(dataset, "id").node_id == "datasetField:postgres://db:5432:public.orders:id"
    assert JobKey("s3://bucket", "j").node_id == "job:s3://bucket:j"
    assert RunId(RUN).node_id == f"run:{RUN}"
    assert TaskKey("airflow", "dag", "task").node_id == "task:airflow:dag.task"


@pytest.mark.parametrize(
    ("node_id", "expected"),
    [
        (
            "dataset:postgres://db:5432:public.orders",
            DatasetKey("postgres://db:5432", "public.orders"),
        ),
        ("dataset:s3://bucket:raw/orders.parquet", DatasetKey("s3://bucket", "raw/orders.parquet")),
        ("dataset:kafka://host:9092:orders", DatasetKey("kafka://host:9092", "orders")),
        (
            "datasetField:kafka://host:9092:orders:amount",
            FieldKey(DatasetKey("kafka://host:9092", "orders"), "amount"),
        ),
        ("job:postgres://db:5432:nightly", JobKey("postgres://db:5432", "nightly")),
    ],
)
def test_colon_before_slashes_or_digit_belongs_to_the_namespace(
    node_id: str, expected: object
) -> None:
    assert parse_node_id(node_id) == expected


def test_a_name_may_hold_colons_that_separate_nothing() -> None:
    assert parse_node_id("dataset:ns:catalog:schema.table") == DatasetKey(
        "ns", "catalog:schema.table"
    )
    column = parse_node_id("datasetField:ns:catalog:table:col")
    assert column == FieldKey(DatasetKey("ns", "catalog:table"), "col")


@pytest.mark.parametrize(
    "node_id",
    [
        "table:ns:t",
        "Dataset:ns:t",
        "dataset",
        "",
        "ns:t",
    ],
)
def test_unknown_prefix_is_invalid(node_id: str) -> None:
    with pytest.raises(InvalidNodeId, match="prefix"):
        parse_node_id(node_id)


@pytest.mark.parametrize(
    "node_id",
    [
        "dataset:",
        "dataset:ns",
        "dataset:ns:",
        "dataset::t",
        "job:ns:",
        "job::j",
        "datasetField:ns:t",
        "datasetField:ns::c",
        "datasetField:ns:t:",
        "dag:ns:",
        "task:ns:dag_without_task",
    ],
)
def test_missing_or_empty_parts_are_invalid(node_id: str) -> None:
    with pytest.raises(InvalidNodeId):
        parse_node_id(node_id)


@pytest.mark.parametrize("node_id", ["run:", "run:not-a-uuid", "run:1234", f"run:{RUN}x"])
def test_run_id_must_be_a_uuid(node_id: str) -> None:
    with pytest.raises(InvalidNodeId, match="run:<uuid>"):
        parse_node_id(node_id)


def test_canonical_normalises_run_uuid_case() -> None:
    upper = f"run:{str(RUN).upper()}"
    assert canonical(upper) == f"run:{RUN}"
    assert canonical(f"run:{RUN.hex}") == f"run:{RUN}"


def test_canonical_keeps_other_ids_unchanged() -> None:
    for node_id in ("dataset:postgres://db:5432:Public.Orders", "job:ns:Job", "task:ns:d.t"):
        assert canonical(node_id) == node_id


def test_canonical_rejects_what_does_not_parse() -> None:
    with pytest.raises(InvalidNodeId):
        canonical("dataset:ns")


@pytest.mark.parametrize(
    "key",
    [
        DatasetKey("analytics", "2024_orders"),
        DatasetKey("postgres://db:5432", "2024_orders"),
        JobKey("kafka://host:9092", "1st_job"),
        FieldKey(DatasetKey("analytics", "users"), "2fa_enabled"),
        FieldKey(DatasetKey("postgres://db:5432", "2024_orders"), "1st_purchase"),
        FieldKey(DatasetKey("s3://bucket", "2024"), "amount"),
    ],
)
def test_names_starting_with_a_digit_round_trip(key: DatasetKey | JobKey | FieldKey) -> None:
    assert parse_node_id(key.node_id) == key


NAME = st.text(alphabet="abcxyz0123456789_./-", min_size=1, max_size=12)


@settings(max_examples=300, derandomize=True)
@given(st.sampled_from(NAMESPACES), NAME, NAME)
def test_any_colon_free_name_round_trips(namespace: str, name: str, field: str) -> None:
    dataset = DatasetKey(namespace, name)
    for key in (dataset, JobKey(namespace, name), FieldKey(dataset, field)):
        assert parse_node_id(key.node_id) == key
