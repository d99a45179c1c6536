"""A small demo pipeline, built with openlineage-python exactly as a producer would emit it.

    shop.public.orders ─┐                          ┌─> analytics.daily_revenue
    shop.public.payments┼─> stg_orders ─> staging.orders ┤
    shop.public.customers ─> stg_customers ─> staging.customers ─┴─> analytics.customer_ltv

Every job has a schema and column lineage (with an INDIRECT filter and a masked email column);
the last run of `build_customer_ltv` failed, so root-cause answers have something to show.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    error_message_run,
    job_type_job,
    schema_dataset,
)
from openlineage.client.serde import Serde

NAMESPACE = "postgres://demo-db:5432"
JOB_NAMESPACE = "demo"
PRODUCER = "https://github.com/ripple-lineage/ripple/demo"
_START = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)

Columns = dict[str, str]
# output column -> [(input dataset, input column, type, subtype, masking)]
Lineage = dict[str, list[tuple[str, str, str, str, bool]]]

TABLES: dict[str, Columns] = {
    "shop.public.orders": {
        "id": "INTEGER",
        "customer_id": "INTEGER",
        "amount": "NUMERIC",
        "status": "TEXT",
        "placed_at": "TIMESTAMP",
    },
    "shop.public.payments": {"id": "INTEGER", "order_id": "INTEGER", "paid": "NUMERIC"},
    "shop.public.customers": {"id": "INTEGER", "email": "TEXT", "country": "TEXT"},
    "staging.orders": {
        "order_id": "INTEGER",
        "customer_id": "INTEGER",
        "amount": "NUMERIC",
        "paid": "NUMERIC",
        "day": "DATE",
    },
    "staging.customers": {"customer_id": "INTEGER", "email_hash": "TEXT", "country": "TEXT"},
    "analytics.daily_revenue": {"day": "DATE", "revenue": "NUMERIC", "orders": "INTEGER"},
    "analytics.customer_ltv": {"customer_id": "INTEGER", "country": "TEXT", "ltv": "NUMERIC"},
}

JOBS: list[tuple[str, list[str], str, Lineage, list[tuple[str, str, str]]]] = [
    (
        "stg_orders",
        ["shop.public.orders", "shop.public.payments"],
        "staging.orders",
        {
            "order_id": [("shop.public.orders", "id", "DIRECT", "IDENTITY", False)],
            "customer_id": [("shop.public.orders", "customer_id", "DIRECT", "IDENTITY", False)],
            "amount": [("shop.public.orders", "amount", "DIRECT", "IDENTITY", False)],
            "paid": [("shop.public.payments", "paid", "DIRECT", "AGGREGATION", False)],
            "day": [("shop.public.orders", "placed_at", "DIRECT", "TRANSFORMATION", False)],
        },
        [("shop.public.orders", "status", "FILTER"), ("shop.public.payments", "order_id", "JOIN")],
    ),
    (
        "stg_customers",
        ["shop.public.customers"],
        "staging.customers",
        {
            "customer_id": [("shop.public.customers", "id", "DIRECT", "IDENTITY", False)],
            "email_hash": [("shop.public.customers", "email", "DIRECT", "TRANSFORMATION", True)],
            "country": [("shop.public.customers", "country", "DIRECT", "IDENTITY", False)],
        },
        [],
    ),
    (
        "build_daily_revenue",
        ["staging.orders"],
        "analytics.daily_revenue",
        {
            "day": [("staging.orders", "day", "DIRECT", "IDENTITY", False)],
            "revenue": [("staging.orders", "paid", "DIRECT", "AGGREGATION", False)],
            "orders": [("staging.orders", "order_id", "DIRECT", "AGGREGATION", False)],
        },
        [("staging.orders", "day", "GROUP_BY")],
    ),
    (
        "build_customer_ltv",
        ["staging.orders", "staging.customers"],
        "analytics.customer_ltv",
        {
            "customer_id": [("staging.customers", "customer_id", "DIRECT", "IDENTITY", False)],
            "country": [("staging.customers", "country", "DIRECT", "IDENTITY", False)],
            "ltv": [("staging.orders", "amount", "DIRECT", "AGGREGATION", False)],
        },
        [("staging.orders", "customer_id", "JOIN")],
    ),
]


def demo_events(days: int = 2) -> list[dict[str, Any]]:
    """START and COMPLETE (or FAIL) events for every job, for `days` daily runs."""
    events: list[dict[str, Any]] = []
    for day in range(days):
        nominal = _START + timedelta(days=day)
        for position, (job, inputs, output, lineage, indirect) in enumerate(JOBS):
            run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{job}/{nominal.isoformat()}"))
            started = nominal + timedelta(minutes=10 * position)
            failed = job == "build_customer_ltv" and day == days - 1
            for state, at in (
                (RunState.START, started),
                (RunState.FAIL if failed else RunState.COMPLETE, started + timedelta(minutes=4)),
            ):
                events.append(_event(job, run_id, state, at, inputs, output, lineage, indirect))
    return events


def _event(
    job: str,
    run_id: str,
    state: RunState,
    at: datetime,
    inputs: list[str],
    output: str,
    lineage: Lineage,
    indirect: list[tuple[str, str, str]],
) -> dict[str, Any]:
    run_facets: dict[str, Any] = {}
    if state is RunState.FAIL:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message="division by zero in ltv for customer 1042", programmingLanguage="SQL"
        )
    column_facet = column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            out: column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace=NAMESPACE,
                        name=table,
                        field=column,
                        transformations=[
                            column_lineage_dataset.Transformation(
                                type=kind, subtype=subtype, masking=masking
                            )
                        ],
                    )
                    for table, column, kind, subtype, masking in sources
                ]
            )
            for out, sources in lineage.items()
        },
        dataset=[
            column_lineage_dataset.InputField(
                namespace=NAMESPACE,
                name=table,
                field=column,
                transformations=[
                    column_lineage_dataset.Transformation(type="INDIRECT", subtype=sub)
                ],
            )
            for table, column, sub in indirect
        ],
    )
    event = RunEvent(
        eventType=state,
        eventTime=at.isoformat(),
        run=Run(runId=run_id, facets=run_facets),
        job=Job(
            namespace=JOB_NAMESPACE,
            name=job,
            facets={
                "jobType": job_type_job.JobTypeJobFacet(
                    processingType="BATCH", integration="SQL", jobType="QUERY"
                )
            },
        ),
        producer=PRODUCER,
        inputs=[
            InputDataset(namespace=NAMESPACE, name=name, facets={"schema": _schema(name)})
            for name in inputs
        ],
        outputs=[
            OutputDataset(
                namespace=NAMESPACE,
                name=output,
                facets={"schema": _schema(output), "columnLineage": column_facet},
            )
        ],
    )
    doc: dict[str, Any] = Serde.to_dict(event)
    return doc


def _schema(table: str) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(name=name, type=kind)
            for name, kind in TABLES[table].items()
        ]
    )
