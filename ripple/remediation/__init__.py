"""Remediation: backfill planning (pure, `planner`), the job → Airflow task mapping (`mapping`),
planning over a graph store (`service`), the executor (`executor`) and the `Orchestrator` protocol
it drives Airflow through (`orchestrator`), and plan state and audit persistence (`state`,
`sql_state`, `pg_state`)."""
