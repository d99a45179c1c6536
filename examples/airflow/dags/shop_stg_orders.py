"""Staging layer of the example shop pipeline: clean one day of `raw.orders` into `staging.orders`.

Cancelled orders are dropped, cents become a NUMERIC amount, the status is normalised. Runs daily
for its logical date (`{{ ds }}`), like every DAG of the pipeline; it consumes the `raw_orders`
asset (an inlet) and produces `stg_orders` (an outlet). See shop_raw_orders.py for how the DAGs are
scheduled and linked, and why every run has a logical date.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.providers.common.sql.sensors.sql import SqlSensor
from airflow.sdk import DAG, Asset

RAW_ORDERS = Asset(name="raw_orders", uri="postgres://postgres:5432/warehouse/raw/orders")
STG_ORDERS = Asset(name="stg_orders", uri="postgres://postgres:5432/warehouse/staging/orders")

with DAG(
    dag_id="shop_stg_orders",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    default_args={"conn_id": "warehouse", "retries": 0},
    tags=["ripple-example", "shop"],
    doc_md=__doc__,
):
    wait_for_raw_orders = SqlSensor(
        task_id="wait_for_raw_orders",
        # True once raw.orders holds the day; query_to_xml runs the count only when the table
        # exists, so the sensor keeps waiting (instead of failing) on a fresh warehouse.
        sql="""
            SELECT CASE WHEN to_regclass('raw.orders') IS NULL THEN false
                   ELSE query_to_xml('SELECT 1 FROM raw.orders WHERE order_date = ''{{ ds }}'' LIMIT 1',
                                     false, true, '')::text <> '' END
        """,
        mode="reschedule",
        poke_interval=30,
        timeout=6 * 60 * 60,
    )

    create_stg_orders = SQLExecuteQueryOperator(
        task_id="create_stg_orders",
        sql=[
            "CREATE SCHEMA IF NOT EXISTS staging",
            """
            CREATE TABLE IF NOT EXISTS staging.orders (
                order_id    BIGINT PRIMARY KEY,
                customer_id INTEGER NOT NULL,
                amount      NUMERIC(12, 2) NOT NULL,
                status      TEXT NOT NULL,
                order_date  DATE NOT NULL
            )
            """,
        ],
    )

    stage_orders = SQLExecuteQueryOperator(
        task_id="stage_orders",
        sql=[
            "DELETE FROM staging.orders WHERE order_date = DATE '{{ ds }}'",
            """
            INSERT INTO staging.orders (order_id, customer_id, amount, status, order_date)
            SELECT order_id AS order_id,
                   customer_id AS customer_id,
                   amount_cents / 100.0 AS amount,
                   upper(status) AS status,
                   order_date AS order_date
            FROM raw.orders
            WHERE status <> 'cancelled' AND order_date = DATE '{{ ds }}'
            """,
        ],
        inlets=[RAW_ORDERS],
        outlets=[STG_ORDERS],
    )

    [wait_for_raw_orders, create_stg_orders] >> stage_orders
