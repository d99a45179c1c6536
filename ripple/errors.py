"""Ripple's error tree. Adapters translate foreign exceptions into these, once, at the boundary.

RippleError
├── InvalidEvent            an OpenLineage event failed validation (JSON path, value, reason)
├── MalformedInput          a body or file that is not JSON at all
├── PayloadTooLarge         a body over the configured limit
├── InvalidNodeId           a node id that does not parse
├── NotFound                a node id that parses but is not in the graph
├── Unauthenticated         no token, or one Ripple does not know (or revoked)
├── Forbidden               a token used beyond its role
├── Conflict                a write that contradicts what is already recorded
│   ├── RunBoundElsewhere   an event claiming a runId another job already owns (also InvalidEvent)
│   └── AmbiguousNodeId     a textual node id that names several nodes (lists them)
├── ConfigError             a setting with a bad value
├── NotConfigured           a feature asked for whose setting is not given
├── StoreUnavailable        the graph store or event log cannot be reached
└── SourceUnavailable       Airflow or Marquez failed (SourceRefused: it said no)
"""

from __future__ import annotations

from typing import Any


class RippleError(Exception):
    """Root of every error Ripple raises on purpose."""


class InvalidEvent(RippleError):
    """An event that would make the graph wrong; `path` is a JSON path such as `$.run.runId`."""

    def __init__(self, path: str, value: Any, reason: str) -> None:
        self.path = path
        self.value = value
        self.reason = reason
        super().__init__(f"{path}: {reason} (got {_preview(value)})")

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "value": _jsonable(self.value), "reason": self.reason}


class MalformedInput(RippleError):
    """Input that is not JSON (or not the JSON container we expected)."""


class PayloadTooLarge(RippleError):
    """A request body (after decompression) over the configured limit."""


class RequestTimeout(RippleError):
    """The client did not send its request body within the body timeout (408)."""


class InvalidNodeId(RippleError):
    """A node id not of the form `dataset:<ns>:<name>`, `job:…`, `datasetField:…`, `run:<uuid>`."""


class NotFound(RippleError):
    """A well-formed node id that the graph does not hold."""


class Unauthenticated(RippleError):
    """A request without a valid `Authorization: Bearer <token>` where one is required."""


class Forbidden(RippleError):
    """A valid token whose role does not allow the request; the message names the role needed."""


class Conflict(RippleError):
    """A write that contradicts what Ripple already recorded (e.g. a runId bound to another job)."""


class RunBoundElsewhere(Conflict, InvalidEvent):
    """An event whose runId is already bound to another job: a 409, and in a batch that item's
    rejection (with the path, value and reason of an InvalidEvent). `job` is the run's job,
    `claimed` the one the event names."""

    def __init__(self, path: str, run_id: str, job: str, claimed: str) -> None:
        self.run_id = run_id
        self.job = job
        self.claimed = claimed
        super().__init__(
            path,
            run_id,
            f"run {run_id} belongs to {job}, but this event claims it for {claimed} — a runId "
            "names one run of one job: give this run its own runId",
        )

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "runId": self.run_id, "job": self.job, "claimed": self.claimed}


class AmbiguousNodeId(Conflict):
    """A textual node id that names more than one node; `candidates` are their structured forms
    (`{"id", "namespace", "name"}`, plus `"field"` for a column)."""

    def __init__(self, message: str, candidates: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.candidates = candidates


class NotConfigured(RippleError):
    """A feature that needs a setting which is not given; the message names the setting."""


class ConfigError(RippleError):
    """A setting whose value cannot be used; the message names the setting."""


class StoreUnavailable(RippleError):
    """The graph store or the event log cannot be reached or is unusable."""


class SourceUnavailable(RippleError):
    """An outside system Ripple reads or drives (Airflow, Marquez) failed after bounded retries,
    or refused the request; the message names the system, the call and what to check."""


class SourceRefused(SourceUnavailable):
    """The outside system answered, and said no (a 4xx): retrying the same call will not help.
    `status` is its HTTP status, so a caller can tell "already exists" (409) from the rest."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


_MISSING = object()


def _preview(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _jsonable(value: Any) -> Any:
    if value is _MISSING:
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value if not isinstance(value, str) or len(value) <= 200 else value[:200] + "..."
    return _preview(value)


MISSING: Any = _MISSING
"""Sentinel for 'the field was absent' in an InvalidEvent's value."""
