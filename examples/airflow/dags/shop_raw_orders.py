"""Raw layer of the example shop pipeline: land one day of orders in `raw.orders`.

The pipeline is three DAGs on the `warehouse` connection (PostgreSQL; AIRFLOW_CONN_WAREHOUSE),
each run for one logical date and working on exactly that day (`{{ ds }}`):

    shop_raw_orders   raw.orders                      generated orders of the day
    shop_stg_orders   staging.orders                  cleaned and cast from raw.orders
    shop_marts        marts.daily_revenue,            aggregated from staging.orders
                      marts.customer_stats

Scheduling and linkage (the same in all three DAGs):

- Every DAG is on a daily timetable (`@daily`, UTC midnight) and every run has a logical date —
  scheduled runs, runs triggered through the REST API with `logical_date`, clears and backfills
  alike. Tasks use only that date, so "redo day D of table T" is always "rerun the task instances
  of the runs whose logical date is D", which is what a backfill (Ripple's or Airflow's) does.
- The DAGs are linked through Airflow Assets by declaration, not by asset scheduling: a producing
  task has the asset in its `outlets`, the consuming task has it in its `inlets`. Asset-triggered
  runs are deliberately not used: in Airflow 3 they carry no logical date, and a clear of the
  producer would start a second, concurrent consumer run for the same day.
- Because all three fire at the same time on their schedule, the consumers start with a sensor
  that waits until their upstream day has landed (`SqlSensor`, reschedule mode, so it holds no
  worker slot while waiting). When runs are triggered in lineage order the sensor passes at once.

Idempotency: each write task deletes its day and inserts it again in one transaction (the SQL
operator runs its statement list in one transaction), so a retry, a clear or a backfill never
duplicates rows. `retries` is 0 in these examples: failures show at once, and a rerun is always
an explicit clear (try numbers then count reruns exactly).

The OpenLineage provider reports every task to Ripple with the SQL parsed into input and output
datasets, their schemas and column lineage; target columns are aliased in every SELECT so the
column lineage names them.
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
    max_active_runs=4,
    default_args={"conn_id": "warehouse", "retries": 0},
    tags=["ripple-example", "shop"],
    doc_md=__doc__,
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

    # Deterministic per day: 20 orders, ids <yyyymmdd>000 + n, every tenth one cancelled.
    load_raw_orders = SQLExecuteQueryOperator(
        task_id="load_raw_orders",
        sql=[
            "DELETE FROM raw.orders WHERE order_date = DATE '{{ ds }}'",
            """
            INSERT INTO raw.orders (order_id, customer_id, amount_cents, status, order_date)
            SELECT {{ ds_nodash }}000 + n AS order_id,
                   1 + (n * 7) % 25 AS customer_id,
                   500 + (n * 379) % 20000 AS amount_cents,
                   CASE WHEN n % 10 = 0 THEN 'cancelled' ELSE 'placed' END AS status,
                   DATE '{{ ds }}' AS order_date
            FROM generate_series(1, 20) AS n
            """,
        ],
        outlets=[RAW_ORDERS],
    )

    create_raw_orders >> load_raw_orders
