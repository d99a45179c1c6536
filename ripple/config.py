"""Settings, read once at the process edge (environment `RIPPLE_*` or CLI flags) and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RIPPLE_", extra="ignore")

    data_dir: Path = Field(Path(".ripple"), description="Where the event log and graph live")
    host: str = Field("127.0.0.1", description="Address `ripple serve` listens on")
    port: int = Field(5000, ge=1, le=65535, description="Marquez's port, so producers work as-is")
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Largest accepted body")
    snapshot_every: int = Field(200_000, ge=1, description="Events between graph snapshots")
    neo4j_uri: str | None = Field(
        None, description="Keep the graph in Neo4j (bolt://, neo4j://, +s for TLS) instead"
    )
    neo4j_user: str | None = Field(None, description="Neo4j user (none: no authentication)")
    neo4j_password: str = Field("", description="Neo4j password")
    neo4j_database: str = Field("neo4j", description="Neo4j database name")
    database_url: str | None = Field(
        None, description="Keep the event log in PostgreSQL (postgresql://…) instead of SQLite"
    )

    marquez_url: str | None = Field(
        None, description="A Marquez to take over with `ripple sync marquez` (its base URL)"
    )

    airflow_url: str | None = Field(
        None, description="Airflow's REST API base URL (http://host:8080) for sync and backfills"
    )
    airflow_username: str | None = Field(None, description="Airflow user (gets a JWT)")
    airflow_password: str = Field("", description="Airflow password")
    airflow_token: str | None = Field(None, description="An Airflow JWT, instead of user/password")
    airflow_namespace: str = Field(
        "default", description="The OpenLineage namespace Airflow's provider uses for its jobs"
    )
    airflow_sync_interval: float = Field(
        0, ge=0, description="Seconds between Airflow syncs inside `ripple serve` (0: off)"
    )
    airflow_lookback_hours: float = Field(
        72, gt=0, description="How far back the first Airflow sync reads runs"
    )

    @field_validator("airflow_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"RIPPLE_AIRFLOW_URL {value!r} must start with http:// or https://")
        return None if value is None else value.rstrip("/")

    @field_validator("neo4j_uri")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        schemes = ("bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://", "neo4j+ssc://")
        if value is not None and not value.startswith(schemes):
            raise ValueError(
                f"RIPPLE_NEO4J_URI {value!r} must start with one of {', '.join(schemes)}"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, value: str | None) -> str | None:
        schemes = ("postgresql://", "postgres://")
        if value is not None and not value.startswith(schemes):
            scheme = value.partition(":")[0]  # not the whole URL: it may hold a password
            raise ValueError(
                f"RIPPLE_DATABASE_URL must start with one of {', '.join(schemes)} "
                f"(got scheme {scheme!r})"
            )
        return value

    @property
    def event_log_path(self) -> Path:
        return self.data_dir / "events.db"

    @property
    def snapshot_path(self) -> Path:
        return self.data_dir / "graph.snapshot"


def native_loops_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether to load the C ingest loops (`RIPPLE_NATIVE=0`: run their Python twins).

    The one setting read outside `Settings`: the C module is set up once per process, when
    ripple/graph/native.py is first imported, before any Settings exists."""
    return environ.get("RIPPLE_NATIVE", "1") != "0"
