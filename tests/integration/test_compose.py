"""docker-compose.yml: a valid Compose file that agrees with Ripple's settings, its Dockerfile
and itself (ports, URLs, credentials, healthchecks, pinned images, loopback-only ports), and
example DAGs that compile.

No Docker engine is needed. The Compose Specification's JSON schema comes from a package registry:
the `docker-compose` 1.x wheel on PyPI ships it as `compose/config/compose_spec.json`; it is
downloaded once with pip, checked against its hash and cached under `.services/`.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from functools import cache
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from ripple.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILES = [ROOT / "Dockerfile", ROOT / "deploy" / "airflow" / "Dockerfile"]
POSTGRES_INIT = ROOT / "deploy" / "postgres" / "init.sql"
DAGS_DIR = ROOT / "examples" / "airflow" / "dags"

SCHEMA_REQUIREMENT = "docker-compose==1.29.2"
SCHEMA_WHEEL = "docker_compose-1.29.2-py2.py3-none-any.whl"
SCHEMA_WHEEL_SHA256 = "8d5589373b35c8d3b1c8c1182c6e4a4ff14bffa3dd0b605fcd08f73c94cef809"
SCHEMA_MEMBER = "compose/config/compose_spec.json"
SCHEMA_CACHE = ROOT / ".services" / "compose-spec"

LOOPBACK = "127.0.0.1"
RIPPLE_ENV_PREFIX = "RIPPLE_"


# --- the schema, from PyPI ---------------------------------------------------------------------


def _wheel_is_verified(path: Path) -> bool:
    return path.is_file() and sha256(path.read_bytes()).hexdigest() == SCHEMA_WHEEL_SHA256


def _download_schema_wheel() -> Path:
    """The cached wheel, downloaded with pip when missing (3 tries) and verified by its hash."""
    wheel = SCHEMA_CACHE / SCHEMA_WHEEL
    if _wheel_is_verified(wheel):
        return wheel
    SCHEMA_CACHE.mkdir(parents=True, exist_ok=True)
    failure = ""
    for attempt in range(3):
        if attempt:
            time.sleep(2**attempt)
        with tempfile.TemporaryDirectory(dir=SCHEMA_CACHE) as tmp:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
            command += ["--disable-pip-version-check", "--dest", tmp, SCHEMA_REQUIREMENT]
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=180)
            except subprocess.TimeoutExpired:
                failure = "pip download timed out"
                continue
            fetched = Path(tmp) / SCHEMA_WHEEL
            if done.returncode == 0 and _wheel_is_verified(fetched):
                os.replace(fetched, wheel)  # atomic: a reader never sees half a wheel
                return wheel
            failure = f"pip exited {done.returncode}: {done.stderr.strip()[-500:]}"
            if done.returncode == 0:
                failure = f"{SCHEMA_WHEEL} missing or its sha256 differs from the pinned one"
    message = f"could not obtain the Compose schema ({SCHEMA_REQUIREMENT}): {failure}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    with zipfile.ZipFile(_download_schema_wheel()) as wheel:
        schema: dict[str, Any] = json.loads(wheel.read(SCHEMA_MEMBER))
    return schema


# --- reading the compose file ------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())  # resolves `<<` merges
    return document


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(value: Any) -> str:
    """A value as Compose sees it with no variable set: `${X:-default}` → default, `$$` → `$`."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return match.group(2) or ""

    return _VARIABLE.sub(one, str(value))


def environment(service: str) -> dict[str, str]:
    env = services()[service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: interpolate(value) for key, value in env.items()}


def ports(service: str) -> list[tuple[str | None, int | None, int]]:
    """(host ip, published port, container port) for each published port of a service."""
    result: list[tuple[str | None, int | None, int]] = []
    for entry in services()[service].get("ports", []):
        if isinstance(entry, dict):
            published = entry.get("published")
            host_ip = entry.get("host_ip")
            result.append((host_ip, int(published) if published else None, int(entry["target"])))
            continue
        parts = interpolate(entry).split("/")[0].rsplit(":", 2)
        if len(parts) == 3:
            result.append((parts[0], int(parts[1]), int(parts[2])))
        elif len(parts) == 2:
            result.append((None, int(parts[0]), int(parts[1])))
        else:
            result.append((None, None, int(parts[0])))
    return result


def container_ports(service: str) -> set[int]:
    return {target for _, _, target in ports(service)}


def healthcheck_command(service: str) -> str:
    test = services()[service]["healthcheck"]["test"]
    return interpolate(test if isinstance(test, str) else " ".join(test[1:]))


def dockerfile_instruction(path: Path, name: str) -> list[str]:
    """Every argument string of one instruction (line continuations joined)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    return [
        line.split(None, 1)[1].strip()
        for line in text.splitlines()
        if line.split(None, 1)[:1] == [name] and len(line.split(None, 1)) == 2
    ]


def ripple_cmd() -> list[str]:
    (cmd,) = dockerfile_instruction(ROOT / "Dockerfile", "CMD")
    words: list[str] = json.loads(cmd)
    return words


def cmd_option(words: list[str], option: str) -> str:
    return words[words.index(option) + 1]


def ripple_port() -> int:
    return int(cmd_option(ripple_cmd(), "--port"))


def airflow_services() -> list[str]:
    return [name for name in services() if name.startswith("airflow-")]


def one_shot_services() -> set[str]:
    """Services that others wait for to exit successfully: a healthcheck means nothing there."""
    return {
        dependency
        for service in services().values()
        if isinstance(service.get("depends_on"), dict)
        for dependency, condition in service["depends_on"].items()
        if condition.get("condition") == "service_completed_successfully"
    }


def init_sql() -> tuple[dict[str, str], dict[str, str]]:
    """Roles (name → password) and databases (name → owner) created by deploy/postgres/init.sql."""
    text = POSTGRES_INIT.read_text()
    roles = dict(re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD '([^']*)'", text))
    databases = dict(re.findall(r"CREATE DATABASE (\w+) OWNER (\w+)", text))
    return roles, databases


def assert_postgres_url(url: str, *, database: str) -> None:
    """A URL that reaches the postgres service with a role and database init.sql creates."""
    parts = urlsplit(url)
    assert parts.scheme.split("+")[0] in {"postgresql", "postgres"}, url
    assert parts.hostname == "postgres" and "postgres" in services(), url
    assert parts.port == 5432, url  # the postgres image's port; nothing remaps it
    assert parts.path.lstrip("/") == database, url
    roles, databases = init_sql()
    assert databases.get(database) == parts.username, f"{database} not created for {parts.username}"
    assert roles.get(parts.username or "") == parts.password, f"{url}: password differs"


# --- the tests ---------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification(compose_schema: dict[str, Any]) -> None:
    # The schema names its draft by a non-canonical URI ("http://json-schema.org/draft/2019-09/
    # schema#"), which jsonschema does not map; pick the draft it names explicitly.
    assert "draft/2019-09" in compose_schema["$schema"]
    validator_class = jsonschema.Draft201909Validator
    validator_class.check_schema(compose_schema)
    errors = sorted(
        validator_class(compose_schema).iter_errors(compose()), key=lambda e: list(e.path)
    )
    assert not errors, "\n".join(
        f"{'/'.join(map(str, error.path)) or '<root>'}: {error.message}" for error in errors
    )


def test_ripple_port_agrees_with_settings_cmd_and_healthchecks() -> None:
    from ripple.api.app import create_app

    port = ripple_port()
    assert port == Settings.model_fields["port"].default
    cmd = ripple_cmd()
    assert cmd[:2] == ["ripple", "serve"]
    assert cmd_option(cmd, "--host") == "0.0.0.0"
    env = environment("ripple")
    if "RIPPLE_PORT" in env:
        assert int(env["RIPPLE_PORT"]) == port
    assert dockerfile_instruction(ROOT / "Dockerfile", "EXPOSE") == [str(port)]
    assert [(LOOPBACK, port, port)] == ports("ripple")
    data_dir = cmd_option(cmd, "--data-dir")
    assert any(str(volume).endswith(f":{data_dir}") for volume in services()["ripple"]["volumes"])

    health = f"http://127.0.0.1:{port}/api/v1/health"
    assert health in healthcheck_command("ripple")
    (docker_health,) = dockerfile_instruction(ROOT / "Dockerfile", "HEALTHCHECK")
    assert health in docker_health
    assert "/api/v1/health" in create_app(in_memory=True).openapi()["paths"]


def test_neo4j_uri_reaches_the_neo4j_service_bolt_port_with_its_credentials() -> None:
    env = environment("ripple")
    uri = urlsplit(env["RIPPLE_NEO4J_URI"])
    assert uri.scheme in {"bolt", "neo4j"}
    assert uri.hostname in services()
    assert uri.port in container_ports(uri.hostname or "")
    assert uri.port == 7687  # Bolt; 7474 is Neo4j Browser
    assert {7474, 7687} <= container_ports("neo4j")
    user, _, password = environment("neo4j")["NEO4J_AUTH"].partition("/")
    assert env["RIPPLE_NEO4J_USER"] == user
    assert env["RIPPLE_NEO4J_PASSWORD"] == password
    assert len(password) >= 8, "Neo4j 5 refuses passwords shorter than 8 characters"
    assert Settings(neo4j_uri=env["RIPPLE_NEO4J_URI"]).neo4j_uri == env["RIPPLE_NEO4J_URI"]
    depends_on = services()["ripple"]["depends_on"]
    assert depends_on[uri.hostname]["condition"] == "service_healthy"


def test_database_urls_reach_the_postgres_service() -> None:
    database_url = environment("ripple")["RIPPLE_DATABASE_URL"]
    assert_postgres_url(database_url, database="ripple")
    if "database_url" in Settings.model_fields:  # the setting's own validation accepts it
        assert Settings.model_validate({"database_url": database_url}).model_dump()["database_url"]
    assert services()["ripple"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in airflow_services():
        env = environment(name)
        assert_postgres_url(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], database="airflow")
        assert_postgres_url(env["AIRFLOW_CONN_WAREHOUSE"], database="warehouse")
    marquez = environment("marquez")
    url = (
        f"postgresql://{marquez['POSTGRES_USER']}:{marquez['POSTGRES_PASSWORD']}"
        f"@{marquez['POSTGRES_HOST']}:{marquez['POSTGRES_PORT']}/{marquez['POSTGRES_DB']}"
    )
    assert_postgres_url(url, database="marquez")
    init = "./deploy/postgres/init.sql:/docker-entrypoint-initdb.d/init.sql:ro"
    assert init in services()["postgres"]["volumes"]


def test_every_ripple_variable_is_a_setting() -> None:
    fields = {f"{RIPPLE_ENV_PREFIX}{name}".upper() for name in Settings.model_fields}
    seen = {
        key for name in services() for key in environment(name) if key.startswith(RIPPLE_ENV_PREFIX)
    }
    for path in DOCKERFILES:
        for env in dockerfile_instruction(path, "ENV"):
            seen |= {w.split("=")[0] for w in shlex.split(env) if w.startswith(RIPPLE_ENV_PREFIX)}
    assert "RIPPLE_NEO4J_URI" in seen
    unknown = seen - fields
    if unknown == {"RIPPLE_DATABASE_URL"}:
        pytest.xfail("RIPPLE_DATABASE_URL (the PostgreSQL event log) is not a setting yet")
    assert not unknown, f"not fields of ripple.config.Settings: {sorted(unknown)}"


def test_airflow_sends_openlineage_to_ripple() -> None:
    from ripple.api.app import create_app

    lineage_routes = {
        path
        for path, operations in create_app(in_memory=True).openapi()["paths"].items()
        if "post" in operations
    }
    assert airflow_services()
    for name in airflow_services():
        env = environment(name)
        transport = json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])
        assert transport["type"] == "http"
        url = urlsplit(transport["url"])
        assert (url.scheme, url.hostname, url.port) == ("http", "ripple", ripple_port())
        assert "/" + transport["endpoint"].strip("/") in lineage_routes
        assert transport["endpoint"].strip("/") == "api/v1/lineage"
        assert env["AIRFLOW__OPENLINEAGE__NAMESPACE"]
        # Ripple listens beyond loopback, so it needs tokens: Airflow sends the one that
        # the ripple-token service registers, and Ripple answers to the name Airflow uses.
        assert transport["auth"]["type"] == "api_key"
        token = environment("ripple-token")["LINEAGE_TOKEN"]
        assert transport["auth"]["apiKey"] == token
        assert url.hostname in json.loads(environment("ripple")["RIPPLE_ALLOWED_HOSTS"])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        execution_api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert execution_api.hostname == "airflow-apiserver"
        assert execution_api.port in container_ports("airflow-apiserver")
        assert "./examples/airflow/dags:/opt/airflow/dags:ro" in services()[name]["volumes"]
        if name not in one_shot_services():
            assert services()[name]["depends_on"]["ripple"]["condition"] == "service_healthy"
    installs = " ".join(dockerfile_instruction(ROOT / "deploy" / "airflow" / "Dockerfile", "RUN"))
    for provider in ("apache-airflow-providers-openlineage", "apache-airflow-providers-postgres"):
        assert re.search(rf'"{provider}==[0-9][^"]*"', installs), f"{provider} not pinned"


def test_every_long_running_service_has_a_healthcheck() -> None:
    assert one_shot_services() == {"airflow-init", "ripple-token"}
    for name, service in services().items():
        if name in one_shot_services():
            assert service.get("restart") == "no", f"{name} runs once"
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable") and check.get("test"), f"{name}: no healthcheck"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name


def _image_is_pinned(image: str) -> bool:
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag != "latest" and any(c.isdigit() for c in tag)


def test_every_image_is_pinned() -> None:
    for name, service in services().items():
        image = service.get("image")
        assert image or service.get("build"), f"{name}: neither image nor build"
        if image:
            assert "$" not in image and _image_is_pinned(image), f"{name}: {image!r} is not pinned"
    for path in DOCKERFILES:
        bases = dockerfile_instruction(path, "FROM")
        assert bases, path
        for base in bases:
            image = base.split()[0]
            assert _image_is_pinned(image), f"{path.relative_to(ROOT)}: FROM {image} is not pinned"


def test_every_published_port_is_bound_to_loopback() -> None:
    published = [(name, entry) for name in services() for entry in ports(name)]
    assert published
    for name, (host_ip, host_port, _) in published:
        assert host_ip == LOOPBACK and host_port, f"{name}: {host_ip}:{host_port} is not loopback"
    host_ports = [host_port for _, (_, host_port, _) in published]
    assert len(host_ports) == len(set(host_ports)), f"host port published twice: {host_ports}"
    assert ("ripple", (LOOPBACK, 5000, 5000)) in published
    assert ("neo4j", (LOOPBACK, 7474, 7474)) in published
    assert ("airflow-apiserver", (LOOPBACK, 8080, 8080)) in published


def test_marquez_is_optional() -> None:
    for name in ("marquez", "marquez-web"):
        assert services()[name]["profiles"] == ["marquez"]
    for name, service in services().items():
        if "profiles" not in service:
            assert not set(service.get("depends_on", {})) & {"marquez", "marquez-web"}, name


# --- the example DAGs --------------------------------------------------------------------------


def dag_files() -> Iterator[Path]:
    yield from sorted(DAGS_DIR.glob("*.py"))


@pytest.mark.parametrize("path", list(dag_files()), ids=lambda path: path.name)
def test_example_dag_compiles(path: Path) -> None:
    compile(path.read_text(), str(path), "exec", dont_inherit=True)


def _assets(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = Asset(name=..., uri=...)` → NAME: uri."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            call = node.value
            if isinstance(call.func, ast.Name) and call.func.id == "Asset":
                keywords = {k.arg: k.value for k in call.keywords}
                uri = keywords.get("uri")
                assert isinstance(uri, ast.Constant), "Asset needs a literal uri"
                for target in node.targets:
                    assert isinstance(target, ast.Name)
                    found[target.id] = str(uri.value)
    return found


def test_example_dags_are_linked_by_an_asset_on_the_warehouse_connection() -> None:
    trees = {path.stem: ast.parse(path.read_text()) for path in dag_files()}
    assert set(trees) == {"shop_raw_orders", "shop_stg_orders", "shop_marts"}
    raw, stg = _assets(trees["shop_raw_orders"]), _assets(trees["shop_stg_orders"])
    marts = _assets(trees["shop_marts"])
    assert raw["RAW_ORDERS"] == stg["RAW_ORDERS"]
    assert stg["STG_ORDERS"] == marts["STG_ORDERS"]
    assert urlsplit(raw["RAW_ORDERS"]).hostname == "postgres"
    for tree in trees.values():
        source = ast.unparse(tree)
        assert "SQLExecuteQueryOperator" in source
        assert "'conn_id': 'warehouse'" in source  # AIRFLOW_CONN_WAREHOUSE in the compose file
        assert "import airflow\n" not in source
