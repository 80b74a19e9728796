"""The client: one method per registered operation over `POST /v1/ops/{name}`.

The method list is checked against the server's registry (`phase-memory --json
contracts`) by the repository's tests, so it cannot silently drift.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

#: Method name → operation, for every operation of the registry.
OPERATIONS: dict[str, str] = {
    "activation_run": "activation.run",
    "audit_prune": "audit.prune",
    "audit_query": "audit.query",
    "audit_verify": "audit.verify",
    "edge_delete": "edge.delete",
    "edge_upsert": "edge.upsert",
    "eval_run": "eval.run",
    "event_append": "event.append",
    "event_query": "event.query",
    "graph_export": "graph.export",
    "graph_import": "graph.import",
    "health_check": "health.check",
    "lifecycle_apply": "lifecycle.apply",
    "lifecycle_plan": "lifecycle.plan",
    "node_delete": "node.delete",
    "node_get": "node.get",
    "node_upsert": "node.upsert",
    "package_compile": "package.compile",
    "package_verify": "package.verify",
    "profile_apply": "profile.apply",
    "profile_show": "profile.show",
    "profile_validate": "profile.validate",
    "review_decide": "review.decide",
    "review_list": "review.list",
    "store_export": "store.export",
    "store_import": "store.import",
    "store_init": "store.init",
    "store_migrate": "store.migrate",
    "store_repair": "store.repair",
    "store_status": "store.status",
}


@dataclass(frozen=True)
class Diagnostic:
    """One finding: a stable dotted `code`, a severity, a message, maybe a path."""

    code: str
    severity: str
    message: str
    path: Optional[str] = None

    @staticmethod
    def from_json(v: Mapping[str, Any]) -> "Diagnostic":
        return Diagnostic(
            code=str(v.get("code", "")),
            severity=str(v.get("severity", "")),
            message=str(v.get("message", "")),
            path=v.get("path"),
        )


@dataclass(frozen=True)
class AuditRef:
    """Where an operation landed in the audit chain."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Envelope:
    """The `phase-memory/v1` envelope every operation answers with."""

    envelope: str
    operation: str
    status: str
    request_id: str
    profile_digest: str
    data: Any
    diagnostics: list[Diagnostic] = field(default_factory=list)
    audit: Optional[AuditRef] = None
    http_status: int = 200

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @staticmethod
    def from_json(v: Mapping[str, Any], http_status: int = 200) -> "Envelope":
        audit = v.get("audit")
        return Envelope(
            envelope=str(v.get("envelope", "")),
            operation=str(v.get("operation", "")),
            status=str(v.get("status", "")),
            request_id=str(v.get("request_id", "")),
            profile_digest=str(v.get("profile_digest", "")),
            data=v.get("data"),
            diagnostics=[Diagnostic.from_json(d) for d in v.get("diagnostics") or []],
            audit=AuditRef(seq=int(audit["seq"]), hash=str(audit["hash"])) if audit else None,
            http_status=http_status,
        )


class PhaseMemoryError(Exception):
    """An envelope whose status is not `ok` (or a transport failure)."""

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope
        self.status = envelope.status
        self.diagnostics = envelope.diagnostics
        first = envelope.diagnostics[0] if envelope.diagnostics else None
        detail = f" [{first.code}] {first.message}" if first else ""
        super().__init__(f"{envelope.operation}: {envelope.status}{detail}")

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]


class InvalidRequest(PhaseMemoryError):
    """Status `invalid`: the request was malformed or broke a rule (HTTP 400/413)."""


class Unauthenticated(InvalidRequest):
    """No bearer token, or an unknown one (HTTP 401, `auth.unauthenticated`)."""


class Denied(PhaseMemoryError):
    """Status `denied`: the policy refused it (HTTP 403)."""


class ReviewRequired(PhaseMemoryError):
    """Status `review_required`: held for a second actor (HTTP 202); see `review_id`."""

    @property
    def review_id(self) -> Optional[str]:
        data = self.envelope.data
        return data.get("review") if isinstance(data, dict) else None


class NotFound(PhaseMemoryError):
    """Status `not_found` (HTTP 404)."""


class Conflict(PhaseMemoryError):
    """Status `conflict` (HTTP 409)."""


class ServerError(PhaseMemoryError):
    """Status `error`, a timeout, or a transport failure."""


_ERRORS: dict[str, type[PhaseMemoryError]] = {
    "invalid": InvalidRequest,
    "denied": Denied,
    "review_required": ReviewRequired,
    "not_found": NotFound,
    "conflict": Conflict,
    "error": ServerError,
}


def _error_for(env: Envelope) -> PhaseMemoryError:
    if env.http_status == 401:
        return Unauthenticated(env)
    return _ERRORS.get(env.status, ServerError)(env)


def _fields(**kw: Any) -> dict[str, Any]:
    """The request: keyword arguments that are not None."""
    return {k: v for k, v in kw.items() if v is not None}


class Client:
    """A client of one phase-memory service, acting as the token's actor."""

    def __init__(self, base_url: str, token: Optional[str] = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    # -- transport -------------------------------------------------------------

    def _send(self, method: str, path: str, body: Optional[bytes]) -> tuple[int, bytes]:
        req = urllib.request.Request(self.base_url + path, data=body, method=method)
        req.add_header("Accept", "application/json")
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (urllib.error.URLError, OSError) as e:
            env = Envelope(
                envelope="phase-memory/v1",
                operation=path,
                status="error",
                request_id="",
                profile_digest="",
                data={},
                diagnostics=[Diagnostic("service.unreachable", "error", f"{self.base_url}: {e}")],
                http_status=0,
            )
            raise ServerError(env) from e

    def _envelope(self, status: int, raw: bytes, what: str) -> Envelope:
        try:
            v = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            env = Envelope(
                envelope="phase-memory/v1",
                operation=what,
                status="error",
                request_id="",
                profile_digest="",
                data={},
                diagnostics=[Diagnostic("service.bad_response", "error", f"HTTP {status}: not an envelope ({e})")],
                http_status=status,
            )
            raise ServerError(env) from e
        return Envelope.from_json(v, http_status=status)

    def call(self, operation: str, request: Optional[Mapping[str, Any]] = None, *, check: bool = True) -> Envelope:
        """Runs `operation` with `request`; raises on a non-`ok` status unless `check=False`."""
        body = json.dumps(dict(request or {}), allow_nan=False).encode("utf-8")
        status, raw = self._send("POST", f"/v1/ops/{operation}", body)
        env = self._envelope(status, raw, operation)
        if check and not env.ok:
            raise _error_for(env)
        return env

    def health(self) -> Envelope:
        """`GET /v1/health` (no token needed)."""
        status, raw = self._send("GET", "/v1/health", None)
        return self._envelope(status, raw, "health.check")

    def contracts(self) -> dict[str, Any]:
        """The OpenAPI document of the service (`GET /v1/contracts`)."""
        status, raw = self._send("GET", "/v1/contracts", None)
        doc: dict[str, Any] = json.loads(raw.decode("utf-8"))
        return doc

    # -- agent-facing shortcuts -------------------------------------------------

    def activate(
        self,
        text: Optional[str] = None,
        *,
        nodes: Optional[Sequence[str]] = None,
        hints: Optional[Sequence[Mapping[str, Any]]] = None,
        events_since: Optional[str] = None,
        budget_tokens: Optional[int] = None,
        limit: Optional[int] = None,
        explain: Optional[bool] = None,
        as_of: Optional[str] = None,
        check: bool = True,
    ) -> Envelope:
        """Recalls what matters for a cue under a token budget (`activation.run`)."""
        cue = _fields(text=text, nodes=list(nodes) if nodes else None, hints=list(hints) if hints else None, events_since=events_since)
        return self.activation_run(cue=cue, budget_tokens=budget_tokens, limit=limit, explain=explain, as_of=as_of, check=check)

    def remember(self, node: Mapping[str, Any], *, as_of: Optional[str] = None, check: bool = True) -> Envelope:
        """Stores or replaces one node (`node.upsert`)."""
        return self.node_upsert(node=dict(node), as_of=as_of, check=check)

    def observe(
        self,
        subjects: Sequence[str] = (),
        payload: Optional[Mapping[str, Any]] = None,
        *,
        at: str,
        event: str = "observation",
        check: bool = True,
    ) -> Envelope:
        """Records an observation about `subjects` (`event.append`)."""
        ev = _fields(event=event, at=at, subjects=list(subjects) or None, payload=dict(payload) if payload else None)
        return self.event_append(event=ev, check=check)

    def compile(self, text: Optional[str] = None, *, out: Optional[str] = None, budget_tokens: Optional[int] = None, archive: Optional[bool] = None, as_of: Optional[str] = None, check: bool = True) -> Envelope:
        """Activates and compiles a Markitect package (`package.compile`). Without `out` the
        files come back in `data["contents"]`; `out` names a folder inside the server's
        `--data-dir` (refused when the service has none)."""
        return self.package_compile(cue=_fields(text=text), out=out, budget_tokens=budget_tokens, archive=archive, as_of=as_of, check=check)

    def reviews(self, status: Optional[str] = None, *, check: bool = True) -> Envelope:
        """The review queue (`review.list`)."""
        return self.review_list(status=status, check=check)

    def audit(self, *, check: bool = True, **filters: Any) -> Envelope:
        """Audit records by `since`, `until`, `actor`, `operation`, `status`, `subject`, `limit` (`audit.query`)."""
        return self.audit_query(check=check, **filters)

    # -- one method per operation -------------------------------------------------

    def activation_run(self, *, check: bool = True, **request: Any) -> Envelope:
        """`activation.run`: cue → ranked working set under a token budget."""
        return self.call("activation.run", _fields(**request), check=check)

    def audit_prune(self, *, check: bool = True, **request: Any) -> Envelope:
        """`audit.prune`: drop audit records past retention behind a checkpoint."""
        return self.call("audit.prune", _fields(**request), check=check)

    def audit_query(self, *, check: bool = True, **request: Any) -> Envelope:
        """`audit.query`: audit records by time, actor, operation, status, subject."""
        return self.call("audit.query", _fields(**request), check=check)

    def audit_verify(self, *, check: bool = True, **request: Any) -> Envelope:
        """`audit.verify`: verify the hash chain and erasure receipts."""
        return self.call("audit.verify", _fields(**request), check=check)

    def edge_delete(self, *, check: bool = True, **request: Any) -> Envelope:
        """`edge.delete`: delete one edge ({"edge": {"from", "to", "type"}})."""
        return self.call("edge.delete", _fields(**request), check=check)

    def edge_upsert(self, *, check: bool = True, **request: Any) -> Envelope:
        """`edge.upsert`: insert or replace one edge."""
        return self.call("edge.upsert", _fields(**request), check=check)

    def eval_run(self, *, check: bool = True, **request: Any) -> Envelope:
        """`eval.run`: run evaluation scenarios and gates."""
        return self.call("eval.run", _fields(**request), check=check)

    def event_append(self, *, check: bool = True, **request: Any) -> Envelope:
        """`event.append`: append an observation or access event."""
        return self.call("event.append", _fields(**request), check=check)

    def event_query(self, *, check: bool = True, **request: Any) -> Envelope:
        """`event.query`: query the event history (`type`, `subject`, `since`, …)."""
        return self.call("event.query", _fields(**request), check=check)

    def graph_export(self, *, check: bool = True, **request: Any) -> Envelope:
        """`graph.export`: nodes, edges and events as JSONL."""
        return self.call("graph.export", _fields(**request), check=check)

    def graph_import(self, *, check: bool = True, **request: Any) -> Envelope:
        """`graph.import`: bulk JSONL import (`records` inline or a server `path`), all-or-nothing."""
        return self.call("graph.import", _fields(**request), check=check)

    def health_check(self, *, check: bool = True, **request: Any) -> Envelope:
        """`health.check`: store reachable, schema current, audit head, index fresh."""
        return self.call("health.check", _fields(**request), check=check)

    def lifecycle_apply(self, *, check: bool = True, **request: Any) -> Envelope:
        """`lifecycle.apply`: apply the plan; review-gated transitions become reviews."""
        return self.call("lifecycle.apply", _fields(**request), check=check)

    def lifecycle_plan(self, *, check: bool = True, **request: Any) -> Envelope:
        """`lifecycle.plan`: the transitions the rules fire at `as_of`."""
        return self.call("lifecycle.plan", _fields(**request), check=check)

    def node_delete(self, *, check: bool = True, **request: Any) -> Envelope:
        """`node.delete`: forget a node (erase its content, keep a tombstone)."""
        return self.call("node.delete", _fields(**request), check=check)

    def node_get(self, *, check: bool = True, **request: Any) -> Envelope:
        """`node.get`: read one node ({"node": ID})."""
        return self.call("node.get", _fields(**request), check=check)

    def node_upsert(self, *, check: bool = True, **request: Any) -> Envelope:
        """`node.upsert`: insert or replace one node."""
        return self.call("node.upsert", _fields(**request), check=check)

    def package_compile(self, *, check: bool = True, **request: Any) -> Envelope:
        """`package.compile`: activate and compile a Markitect package."""
        return self.call("package.compile", _fields(**request), check=check)

    def package_verify(self, *, check: bool = True, **request: Any) -> Envelope:
        """`package.verify`: re-hash a package folder or .tar."""
        return self.call("package.verify", _fields(**request), check=check)

    def profile_apply(self, *, check: bool = True, **request: Any) -> Envelope:
        """`profile.apply`: validate and activate a profile (`source` or `path`)."""
        return self.call("profile.apply", _fields(**request), check=check)

    def profile_show(self, *, check: bool = True, **request: Any) -> Envelope:
        """`profile.show`: the active profile."""
        return self.call("profile.show", _fields(**request), check=check)

    def profile_validate(self, *, check: bool = True, **request: Any) -> Envelope:
        """`profile.validate`: validate a profile without applying it."""
        return self.call("profile.validate", _fields(**request), check=check)

    def review_decide(self, *, check: bool = True, **request: Any) -> Envelope:
        """`review.decide`: approve or reject a review."""
        return self.call("review.decide", _fields(**request), check=check)

    def review_list(self, *, check: bool = True, **request: Any) -> Envelope:
        """`review.list`: the review queue."""
        return self.call("review.list", _fields(**request), check=check)

    def store_export(self, *, check: bool = True, **request: Any) -> Envelope:
        """`store.export`: dump the whole store."""
        return self.call("store.export", _fields(**request), check=check)

    def store_import(self, *, check: bool = True, **request: Any) -> Envelope:
        """`store.import`: restore a dump into an empty store."""
        return self.call("store.import", _fields(**request), check=check)

    def store_init(self, *, check: bool = True, **request: Any) -> Envelope:
        """`store.init`: create a store (refused on a served store that exists)."""
        return self.call("store.init", _fields(**request), check=check)

    def store_migrate(self, *, check: bool = True, **request: Any) -> Envelope:
        """`store.migrate`: apply pending migrations."""
        return self.call("store.migrate", _fields(**request), check=check)

    def store_repair(self, *, check: bool = True, **request: Any) -> Envelope:
        """`store.repair`: diagnose (dry run) or fix (`apply=True`)."""
        return self.call("store.repair", _fields(**request), check=check)

    def store_status(self, *, check: bool = True, **request: Any) -> Envelope:
        """`store.status`: schema version, migrations, counts, audit head, retention."""
        return self.call("store.status", _fields(**request), check=check)
