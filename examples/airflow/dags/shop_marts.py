"""Marts of the example shop pipeline: one day of `staging.orders` aggregated into
`marts.daily_revenue` (per day) and `marts.customer_stats` (per customer and day).

Runs daily for its logical date (`{{ ds }}`), like every DAG of the pipeline; it consumes the
`stg_orders` asset (an inlet) and produces `daily_revenue` and `customer_stats` (outlets). See
shop_raw_orders.py for how the DAGs are scheduled and linked, and why every run has a logical date.

Failure on demand: trigger a run with `conf={"fail": true}` (the `fail` param) and
`build_customer_stats` fails with the error "build_customer_stats failed on demand (param
fail=true)" raised by PostgreSQL — after the OpenLineage START event named its datasets, so the
failed run has inputs and outputs like a real failure would.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.providers.common.sql.sensors.sql import SqlSensor
from airflow.sdk import DAG, Asset, Param

STG_ORDERS = Asset(name="stg_orders", uri="postgres://postgres:5432/warehouse/staging/orders")
DAILY_REVENUE = Asset(
    name="daily_revenue", uri="postgres://postgres:5432/warehouse/marts/daily_revenue"
)
CUSTOMER_STATS = Asset(
    name="customer_stats", uri="postgres://postgres:5432/warehouse/marts/customer_stats"
)

FAIL_ON_DEMAND = """
{% if params.fail %}
DO $$ BEGIN RAISE EXCEPTION 'build_customer_stats failed on demand (param fail=true)'; END $$
{% else %}
SELECT 1
{% endif %}
"""

with DAG(
    dag_id="shop_marts",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    default_args={"conn_id": "warehouse", "retries": 0},
    params={
        "fail": Param(False, type="boolean", description="make build_customer_stats fail"),
    },
    tags=["ripple-example", "shop"],
    doc_md=__doc__,
):
    wait_for_stg_orders = SqlSensor(
        task_id="wait_for_stg_orders",
        # True once staging.orders holds the day (see shop_stg_orders.wait_for_raw_orders).
        sql="""
            SELECT CASE WHEN to_regclass('staging.orders') IS NULL THEN false
                   ELSE query_to_xml('SELECT 1 FROM staging.orders WHERE order_date = ''{{ ds }}'' LIMIT 1',
                                     false, true, '')::text <> '' END
        """,
        mode="reschedule",
        poke_interval=30,
        timeout=6 * 60 * 60,
    )

    create_marts = SQLExecuteQueryOperator(
        task_id="create_marts",
        sql=[
            "CREATE SCHEMA IF NOT EXISTS marts",
            """
            CREATE TABLE IF NOT EXISTS marts.daily_revenue (
                order_date  DATE PRIMARY KEY,
                order_count INTEGER NOT NULL,
                revenue     NUMERIC(14, 2) NOT NULL
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS marts.customer_stats (
                customer_id  INTEGER NOT NULL,
                order_date   DATE NOT NULL,
                order_count  INTEGER NOT NULL,
                total_amount NUMERIC(14, 2) NOT NULL,
                PRIMARY KEY (customer_id, order_date)
            )
            """,
        ],
    )

    build_daily_revenue = SQLExecuteQueryOperator(
        task_id="build_daily_revenue",
        sql=[
            "DELETE FROM marts.daily_revenue WHERE order_date = DATE '{{ ds }}'",
            """
            INSERT INTO marts.daily_revenue (order_date, order_count, revenue)
            SELECT order_date AS order_date,
                   count(order_id) AS order_count,
                   sum(amount) AS revenue
            FROM staging.orders
            WHERE order_date = DATE '{{ ds }}'
            GROUP BY order_date
            """,
        ],
        inlets=[STG_ORDERS],
        outlets=[DAILY_REVENUE],
    )

    build_customer_stats = SQLExecuteQueryOperator(
        task_id="build_customer_stats",
        sql=[
            FAIL_ON_DEMAND,
            "DELETE FROM marts.customer_stats WHERE order_date = DATE '{{ ds }}'",
            """
            INSERT INTO marts.customer_stats (customer_id, order_date, order_count, total_amount)
            SELECT customer_id AS customer_id,
                   order_date AS order_date,
                   count(order_id) AS order_count,
                   sum(amount) AS total_amount
            FROM staging.orders
            WHERE order_date = DATE '{{ ds }}'
            GROUP BY customer_id, order_date
            """,
        ],
        inlets=[STG_ORDERS],
        outlets=[CUSTOMER_STATS],
    )

    [wait_for_stg_orders, create_marts] >> build_daily_revenue
    [wait_for_stg_orders, create_marts] >> build_customer_stats
