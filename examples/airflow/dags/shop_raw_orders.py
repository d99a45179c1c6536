"""Raw layer: land one day of orders in warehouse `raw.orders`.

Idempotent per logical date: each run replaces exactly its own day (delete + insert in one
transaction), so a retry, a clear or a backfill never duplicates rows. The `load_raw_orders` task
updates the `raw_orders` asset, which schedules `shop_stg_orders`.

The OpenLineage provider reports both tasks to Ripple with the SQL parsed into datasets and column
lineage (namespace `postgres://postgres:5432`).
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG, Asset

RAW_ORDERS = Asset(name="raw_orders", uri="postgres://postgres:5432/warehouse/raw/orders")

with DAG(
    dag_id="shop_raw_orders",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"conn_id": "warehouse", "retries": 1},
    tags=["ripple-example"],
):
    create_raw_orders = SQLExecuteQueryOperator(
        task_id="create_raw_orders",
        sql=[
            "CREATE SCHEMA IF NOT EXISTS raw",
            """
            CREATE TABLE IF NOT EXISTS raw.orders (
                order_id     BIGINT PRIMARY KEY,
                customer_id  INTEGER NOT NULL,
                amount_cents INTEGER NOT NULL,
                status       TEXT NOT NULL,
                order_date   DATE NOT NULL
            )
            """,
        ],
    )

    load_raw_orders = SQLExecuteQueryOperator(
        task_id="load_raw_orders",
        sql=[
            "DELETE FROM raw.orders WHERE order_date = DATE '{{ ds }}'",
            """
            INSERT INTO raw.orders (order_id, customer_id, amount_cents, status, order_date)
            SELECT {{ ds_nodash }}000 + n,
                   1 + (n * 7) % 25,
                   500 + (n * 379) % 20000,
                   CASE WHEN n % 10 = 0 THEN 'cancelled' ELSE 'placed' END,
                   DATE '{{ ds }}'
            FROM generate_series(1, 20) AS n
            """,
        ],
        outlets=[RAW_ORDERS],
    )

    create_raw_orders >> load_raw_orders
