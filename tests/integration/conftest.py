"""Fixtures for the integration tests that need more than one real service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.airflow_service import SERVICE as AIRFLOW
from tests.airflow_service import AirflowEnv


@pytest.fixture(scope="session")
def airflow_env() -> Iterator[AirflowEnv]:
    """A real Airflow 3.3 running the example DAGs, its OpenLineage provider posting to a real
    Ripple; started once per session (see tests/airflow_service.py), stopped at its end.
    Fails in CI, skips elsewhere, when it cannot be had."""
    try:
        yield AIRFLOW.env()
    finally:
        AIRFLOW.stop()
