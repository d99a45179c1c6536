"""A stand-in Marquez for the sync tests: the part of its HTTP API that `ripple sync marquez` reads
(and the calls a test makes to fill it), shaped by Marquez's `openapi.yml` (shared fixtures).

Why not a real Marquez, as the Neo4j and PostgreSQL tests have: the server is not on Maven Central.
`io.github.marquezproject:marquez-api` has no artifact there at all — with an empty local cache,

    mvn -B -U dependency:get -Dartifact=io.github.marquezproject:marquez-api:0.51.1:pom
      → Could not find artifact io.github.marquezproject:marquez-api:pom:0.51.1 in central
    (the same for 0.50.0 and 0.49.0), and a version range [0.30,) over maven-metadata.xml
      → No versions available for io.github.marquezproject:marquez-api:jar:[0.30,)

while `io.github.marquezproject:marquez-java` resolves (only 0.4.0 and 0.4.3-rc.1), so the registry
answers and the server artifact is simply not published there. Marquez ships its server as a
container image on Docker Hub, which is not among the registries this machine and CI reach, and
building it from source would mean fetching its repository (Gradle, ~200 dependencies) first.

What the stand-in reproduces of Marquez 0.51 (its resource and DAO code, read for the purpose):

- `POST /api/v1/lineage` stores the raw event and updates datasets: fields from the `schema`
  facet, the description from `documentation`, `createdAt`/`updatedAt` from the event's time
  (Marquez upserts with `now = eventTime`).
- `GET /api/v1/events/lineage` lists stored *run* events with `after <= eventTime < before`
  (defaults 1970 and 2030), ordered by eventTime only — ties come back in a new random order on
  every request, as PostgreSQL may return them — with `limit`/`offset` and a `totalCount` of the
  window (every event type, like Marquez's count query).
- `GET /api/v1/namespaces` and `GET /api/v1/namespaces/{ns}/datasets` (paged by limit/offset),
  `PUT /api/v1/tags/{tag}`, `POST …/datasets/{ds}/tags/{tag}` and
  `POST …/datasets/{ds}/fields/{field}/tags/{tag}` (tagging moves `updatedAt` to now).

Faults for the resumability tests: answer 503 to event listings after N of them (`fail_after`), or
hold the next listing until released (`stall_after`), so a test can kill the syncing process
mid-way.
"""

from __future__ import annotations

import json
import random
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ripple.ingest.fields import parse_timestamp

DEFAULT_AFTER = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_BEFORE = datetime(2030, 1, 1, tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


class FakeMarquez:
    def __init__(self, seed: int = 7) -> None:
        self.events: list[tuple[datetime, dict[str, Any]]] = []
        self.datasets: dict[tuple[str, str], dict[str, Any]] = {}
        self.namespaces: dict[str, str] = {}  # name -> createdAt
        self.tags: set[str] = set()
        self.listings = 0  # event listing requests answered
        self.fail_after: int | None = None
        self.stall_after: int | None = None
        self.stalled = threading.Event()  # set when a listing is being held
        self.release = threading.Event()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._answer(self, "GET")

            def do_POST(self) -> None:
                fake._answer(self, "POST")

            def do_PUT(self) -> None:
                fake._answer(self, "PUT")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- the model ------------------------------------------------------------------------------

    def store(self, event: dict[str, Any]) -> None:
        when = parse_timestamp(event["eventTime"])
        assert when is not None
        with self._lock:
            self.events.append((when, event))
            job = event.get("job") or {}
            if job.get("namespace"):
                self.namespaces.setdefault(job["namespace"], _iso(when))
            for ref in [*(event.get("inputs") or []), *(event.get("outputs") or [])]:
                self._upsert_dataset(ref, when)

    def _upsert_dataset(self, ref: dict[str, Any], when: datetime) -> None:
        ns, name = ref["namespace"], ref["name"]
        self.namespaces.setdefault(ns, _iso(when))
        facets = ref.get("facets") or {}
        found = self.datasets.get((ns, name))
        if found is None:
            found = self.datasets[(ns, name)] = {
                "id": {"namespace": ns, "name": name},
                "type": "DB_TABLE",
                "name": name,
                "physicalName": name,
                "createdAt": _iso(when),
                "updatedAt": _iso(when),
                "namespace": ns,
                "sourceName": (facets.get("dataSource") or {}).get("name", "default"),
                "fields": [],
                "tags": [],
                "lastModifiedAt": None,
                "description": None,
                "facets": {},
                "currentVersion": None,
                "deleted": False,
            }
        if _iso(when) > found["updatedAt"]:
            found["updatedAt"] = _iso(when)
        schema = facets.get("schema")
        if schema:
            old_tags = {f["name"]: f["tags"] for f in found["fields"]}
            found["fields"] = [
                {
                    "name": f["name"],
                    "type": f.get("type"),
                    "tags": old_tags.get(f["name"], []),
                    "description": f.get("description"),
                }
                for f in schema.get("fields") or []
            ]
        documentation = facets.get("documentation")
        if documentation and documentation.get("description"):
            found["description"] = documentation["description"]

    # -- HTTP -----------------------------------------------------------------------------------

    def _answer(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        segments = [unquote(s) for s in parts.path.split("/")[3:]]  # after /api/v1/
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body = None
        length = int(request.headers.get("Content-Length") or 0)
        if length:
            body = json.loads(request.rfile.read(length))
        status, answer = self._route(method, segments, query, body)
        payload = b"" if answer is None else json.dumps(answer).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def _route(
        self, method: str, seg: list[str], query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if method == "POST" and seg == ["lineage"]:
            self.store(body)
            return 201, None
        if method == "GET" and seg == ["events", "lineage"]:
            return self._list_events(query)
        if method == "GET" and seg == ["namespaces"]:
            with self._lock:
                items = [
                    {"name": n, "createdAt": t, "updatedAt": t, "ownerName": "anonymous"}
                    for n, t in sorted(self.namespaces.items())
                ]
            return 200, {"namespaces": _page(items, query)}
        if method == "GET" and len(seg) == 3 and seg[0] == "namespaces" and seg[2] == "datasets":
            with self._lock:
                items = [d for (ns, _), d in sorted(self.datasets.items()) if ns == seg[1]]
                return 200, {"datasets": _page(items, query), "totalCount": len(items)}
        if method == "PUT" and len(seg) == 2 and seg[0] == "tags":
            self.tags.add(seg[1])
            return 200, {"tags": [{"name": t} for t in sorted(self.tags)]}
        if method == "POST" and len(seg) in (6, 8) and seg[0] == "namespaces" and seg[-2] == "tags":
            return self._tag(seg[1], seg[3], seg[5] if len(seg) == 8 else None, seg[-1])
        return 404, {"code": 404, "message": f"HTTP 404 Not Found: {'/'.join(seg)}"}

    def _list_events(self, query: dict[str, str]) -> tuple[int, Any]:
        with self._lock:
            self.listings += 1
            listing = self.listings
        if self.fail_after is not None and listing > self.fail_after:
            return 503, {"code": 503, "message": "Service Unavailable"}
        if self.stall_after is not None and listing > self.stall_after:
            self.stalled.set()
            self.release.wait(60)
        after = parse_timestamp(query["after"]) if "after" in query else DEFAULT_AFTER
        before = parse_timestamp(query["before"]) if "before" in query else DEFAULT_BEFORE
        assert after is not None and before is not None
        with self._lock:
            window = [(t, e) for t, e in self.events if after <= t < before]
            self._random.shuffle(window)  # ties in no particular order
        window.sort(key=lambda item: item[0], reverse=query.get("sortDirection") != "asc")
        run_events = [e for _, e in window if "run" in e]
        return 200, {"events": _page(run_events, query), "totalCount": len(window)}

    def _tag(self, ns: str, name: str, field: str | None, tag: str) -> tuple[int, Any]:
        with self._lock:
            dataset = self.datasets.get((ns, name))
            if dataset is None or tag not in self.tags:
                return 404, {"code": 404, "message": f"{ns}:{name} or tag {tag} not found"}
            if field is None:
                targets = [dataset]
            else:
                targets = [f for f in dataset["fields"] if f["name"] == field]
                if not targets:
                    return 404, {"code": 404, "message": f"field {field} not found"}
            for target in targets:
                target["tags"] = sorted({*target["tags"], tag})
            dataset["updatedAt"] = _iso(datetime.now(UTC))
            return 200, dataset


def _page(items: list[Any], query: dict[str, str]) -> list[Any]:
    offset = int(query.get("offset", 0))
    limit = int(query.get("limit", 100))
    return items[offset : offset + limit]
