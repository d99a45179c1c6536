"""The package reads top to bottom: each layer imports only the layers below it, and no two files
import each other, directly or round a loop. Function-local imports count too.

    ripple/cli/ → ripple/api/ → ripple/runtime.py → remediation/ → ingest/ → graph/
        → clients/, model, identity → errors, config
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ripple.graph.order import strongly_connected

PACKAGE = Path(__file__).resolve().parents[2] / "ripple"

# Lowest first; a module belongs to the layer of the longest prefix that names it.
LAYERS: list[tuple[str, ...]] = [
    ("ripple", "ripple.errors", "ripple.config", "ripple.heap"),
    ("ripple.model", "ripple.identity", "ripple.clients"),
    ("ripple.graph",),
    ("ripple.ingest",),
    ("ripple.remediation",),
    ("ripple.runtime",),
    ("ripple.api",),
    ("ripple.cli",),
]


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def layer_of(module: str) -> int:
    best, best_length = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    return best


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """The ripple modules `name` imports anywhere in its file, with the line."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # `from ripple.cli import render` imports the module ripple.cli.render
            targets = [
                f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module
                for alias in node.names
            ]
        for target in targets:
            while target not in known and "." in target:
                target = target.rpartition(".")[0]
            if target in known and target != name and target.startswith("ripple"):
                yield target, node.lineno


def graph() -> dict[str, dict[str, int]]:
    known = modules()
    return {name: dict(imported(name, path, known)) for name, path in known.items()}


def test_every_module_has_a_layer() -> None:
    assert [name for name in modules() if layer_of(name) < 0] == []


def test_no_upward_import() -> None:
    upward = [
        f"{name}:{line} imports {target} (layer {layer_of(target)} above {layer_of(name)})"
        for name, targets in graph().items()
        for target, line in targets.items()
        if layer_of(target) > layer_of(name)
    ]
    assert upward == []


def test_no_import_cycle() -> None:
    edges = {name: set(targets) for name, targets in graph().items()}
    # A strongly connected component of two or more files is an import cycle.
    cycles = [sorted(c) for c in strongly_connected(edges) if len(c) > 1]
    assert cycles == []


@pytest.mark.parametrize(
    ("library", "allowed"),
    [
        ("click", "ripple.cli"),
        ("rich", "ripple.cli"),
        ("airflow_client", "ripple.clients.airflow"),
        ("uvicorn", "ripple.cli"),
    ],
)
def test_libraries_stay_behind_their_adapter(library: str, allowed: str) -> None:
    users = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            if any(n == library or n.startswith(library + ".") for n in names):
                users.append(name)
    assert {u for u in users if not (u == allowed or u.startswith(allowed + "."))} == set()


def test_the_checker_sees_an_upward_and_a_local_import(tmp_path: Path) -> None:
    """The walk finds imports inside functions, and relative ones (so the tests above can fail)."""
    source = tmp_path / "ripple" / "graph"
    source.mkdir(parents=True)
    (source / "x.py").write_text("def f():\n    from ..runtime import open_runtime\n")
    known = {"ripple.graph.x": source / "x.py", "ripple.runtime": tmp_path / "runtime.py"}
    found = dict(imported("ripple.graph.x", source / "x.py", known))
    assert found == {"ripple.runtime": 2}
    assert layer_of("ripple.runtime") > layer_of("ripple.graph.x")


def test_only_config_reads_the_environment() -> None:
    """Settings (ripple/config.py) is the only reader of RIPPLE_*: nothing else reads os.environ."""
    readers = [
        name
        for name, path in modules().items()
        if name != "ripple.config"
        and ("os.environ" in path.read_text() or "getenv" in path.read_text())
    ]
    assert readers == []


def test_a_command_imports_no_client_it_does_not_use() -> None:
    """Every `ripple` command starts by importing ripple.cli: the slow imports (the Airflow
    client alone takes about two seconds) wait for the commands that need them."""
    slow = ("airflow_client", "purgatory", "psycopg", "psycopg_pool", "httpx", "neo4j", "fastapi")
    probe = f"import sys, ripple.cli; print(sorted(m for m in {slow!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
