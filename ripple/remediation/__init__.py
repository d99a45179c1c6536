"""Remediation: backfill planning (pure, `planner`), the Airflow mapping (`mapping`), planning
over a graph store (`service`), plan state and audit persistence (`state`) and renderings
(`render`)."""
