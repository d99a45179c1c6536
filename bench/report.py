"""Figures, progress lines and the markdown report."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

_START = time.perf_counter()


def progress(message: str) -> None:
    """One progress line on stderr, stamped with the seconds since the run began."""
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


class GcWatch:
    """Time spent in the cyclic garbage collector, by generation, while installed."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self.seconds[generation] += time.perf_counter() - self._started
            self.count[generation] += 1

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)

    @property
    def total(self) -> float:
        return sum(self.seconds)

    def describe(self) -> str:
        if not any(self.count):
            return "no collections"
        return (
            f"{self.total:.2f} s in {sum(self.count):,} collections ("
            + ", ".join(
                f"gen {g}: {n:,} / {t:.2f} s"
                for g, (n, t) in enumerate(zip(self.count, self.seconds, strict=True))
                if n
            )
            + ")"
        )


@dataclass(slots=True)
class Figure:
    """One measured quantity: Ripple's value beside networkx doing the same job."""

    name: str
    ripple: str
    networkx: str = "—"
    target: str = ""
    met: bool | None = None  # None: no target

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("yes" if self.met else "**no**")


@dataclass(slots=True)
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None  # why the section could not run
    data: dict[str, Any] = field(default_factory=dict)  # raw numbers for latest.json


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation, as numpy's default does."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    value = seconds * 1000
    return (
        f"{value:.2f} ms"
        if value < 10
        else f"{value:,.1f} ms"
        if value < 100
        else f"{value:,.0f} ms"
    )


def rate(count: float, seconds: float, unit: str = "events/s") -> str:
    return f"{count / seconds:,.0f} {unit}" if seconds > 0 else "—"


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"


def machine() -> dict[str, str]:
    memory = psutil.virtual_memory().total
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": f"{os.cpu_count()} logical ({psutil.cpu_count(logical=False)} physical)",
        "cpu": cpu,
        "memory": gib(memory),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()}",
        "packages": ", ".join(
            f"{name} {_version(name)}" for name in ("ripple-lineage", "networkx", "httpx", "orjson")
        ),
        "ripple commit": _git_commit(),
    }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "ripple"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} (ripple/ has uncommitted changes)" if dirty else head


class CpuAccount:
    """CPU used on the whole machine during the run, minus this process and its children: how
    much other work competed with the benchmark (a quiet machine shows almost none)."""

    def __init__(self) -> None:
        self._machine = self._busy()
        self._own = self._mine()

    @staticmethod
    def _busy() -> float:
        times = psutil.cpu_times()
        return (
            times.user
            + times.nice
            + times.system
            + getattr(times, "irq", 0.0)
            + getattr(times, "softirq", 0.0)
        )

    @staticmethod
    def _mine() -> float:
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    def others(self) -> float:
        return max(0.0, (self._busy() - self._machine) - (self._mine() - self._own))


def render(
    command: str,
    mode: str,
    sections: Sequence[Section],
    elapsed: float,
    extra: dict[str, str] | None = None,
) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Ripple benchmark report",
        "",
        f"Run {now}, {mode}, {elapsed:,.0f} s in all. Reproduce from the repository root with:",
        "",
        "```",
        command,
        "```",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {key} | {value} |" for key, value in {**machine(), **(extra or {})}.items()),
        "",
        "## Summary",
        "",
        "| figure | Ripple | networkx, same job | target | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    for section in sections:
        if section.skipped:
            reason = section.skipped.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {section.title} | not run: {reason} | | | |")
        for fig in section.figures:
            lines.append(
                f"| {fig.name} | {fig.ripple} | {fig.networkx} | {fig.target} | {fig.verdict} |"
            )
    for section in sections:
        lines += ["", f"## {section.title}", ""]
        if section.skipped:
            lines.append(f"Not run: {section.skipped}")
        lines += [f"- {note}" for note in section.notes]
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
