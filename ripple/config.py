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

    # Serving safely (ripple/api/security.py, cli/main.py serve)
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost", "::1"],
        description="Host header names this server answers to (others get 421); '*' for any",
    )
    ssl_certfile: Path | None = Field(None, description="TLS certificate (PEM) for `ripple serve`")
    ssl_keyfile: Path | None = Field(None, description="TLS private key (PEM) for `ripple serve`")
    log_format: str = Field("text", pattern="^(text|json)$", description="text or json log lines")
    access_log: bool = Field(True, description="One log line per request, with its request id")
    max_connections: int = Field(1000, ge=1, description="Concurrent connections before 503")
    body_timeout: float = Field(30, gt=0, description="Seconds to receive a request body (408)")

    # Input limits: hostile or broken producers cost a clear error, never data or the server
    max_name_length: int = Field(
        1024, ge=16, description="Longest namespace or name of a job, dataset or field"
    )
    max_facets: int = Field(1000, ge=1, description="Most facets in one event (all positions)")
    max_datasets: int = Field(10_000, ge=1, description="Most inputs plus outputs in one event")
    max_batch_items: int = Field(10_000, ge=1, description="Most events in one batch request")
    max_rejections_reported: int = Field(
        100, ge=1, description="Rejections a batch answer details (the rest are counted)"
    )
    max_clock_skew: float = Field(
        86_400, gt=0, description="Seconds an eventTime may lie in the future (else 422)"
    )
    query_budget: float = Field(
        10, gt=0, description="Seconds a lineage query may run before it answers partial"
    )
    default_max_tasks: int = Field(
        1000, ge=1, description="Most units in a backfill plan unless the request sets maxTasks"
    )

    # How dataset names are normalised at ingest (ingest/aliases.py); the producer's spelling
    # is kept as an alias. Changing them applies to new events; `ripple replay` applies them to
    # the whole log.
    normalize_names: bool = Field(
        True, description="Rewrite dataset namespaces to the OpenLineage naming spec's spelling"
    )
    scheme_aliases: dict[str, str] | None = Field(
        None, description='Namespace schemes to rename, JSON ({"postgresql": "postgres"}: default)'
    )
    default_ports: dict[str, int] | None = Field(
        None, description='Ports added to namespaces without one, JSON ({"postgres": 5432, …})'
    )
    case_insensitive_namespaces: list[str] = Field(
        default_factory=list,
        description='Namespace globs whose dataset names are lower-cased, JSON (["snowflake://*"])',
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
