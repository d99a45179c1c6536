"""Staging layer: clean the raw orders into warehouse `staging.orders`.

Scheduled by the `raw_orders` asset (updated by `shop_raw_orders`). Idempotent per logical date:
each run replaces the days of the raw runs that triggered it (their logical dates), in one
transaction; triggered by hand, it restages its own logical date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG, Asset

RAW_ORDERS = Asset(name="raw_orders", uri="postgres://postgres:5432/warehouse/raw/orders")
STG_ORDERS = Asset(name="stg_orders", uri="postgres://postgres:5432/warehouse/staging/orders")


def source_days(events: Mapping[Any, Iterable[Any]], logical_date: datetime | None) -> str:
    """The days to restage, as a SQL list of DATE literals (the triggering runs' logical dates)."""
    days: set[date] = set()
    for asset_events in events.values():
        for event in asset_events:
            run = event.source_dag_run
            if run is not None and run.logical_date is not None:
                days.add(run.logical_date.date())
    if not days and logical_date is not None:
        days.add(logical_date.date())
    if not days:
        raise ValueError("nothing to stage: run via the raw_orders asset or with a logical date")
    return ", ".join(f"DATE '{day.isoformat()}'" for day in sorted(days))


with DAG(
    dag_id="shop_stg_orders",
    schedule=[RAW_ORDERS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"conn_id": "warehouse", "retries": 1},
    user_defined_macros={"source_days": source_days},
    tags=["ripple-example"],
):
    create_stg_orders = SQLExecuteQueryOperator(
        task_id="create_stg_orders",
        sql=[
            "CREATE SCHEMA IF NOT EXISTS staging",
            """
            CREATE TABLE IF NOT EXISTS staging.orders (
                order_id    BIGINT PRIMARY KEY,
                customer_id INTEGER NOT NULL,
                amount      NUMERIC(12, 2) NOT NULL,
                order_date  DATE NOT NULL
            )
            """,
        ],
    )

    stage_orders = SQLExecuteQueryOperator(
        task_id="stage_orders",
        sql=[
            """
            DELETE FROM staging.orders
            WHERE order_date IN ({{ source_days(triggering_asset_events, dag_run.logical_date) }})
            """,
            """
            INSERT INTO staging.orders (order_id, customer_id, amount, order_date)
            SELECT order_id, customer_id, amount_cents / 100.0, order_date
            FROM raw.orders
            WHERE status <> 'cancelled'
              AND order_date IN ({{ source_days(triggering_asset_events, dag_run.logical_date) }})
            """,
        ],
        outlets=[STG_ORDERS],
    )

    create_stg_orders >> stage_orders
