"""The Python client against a real `phase-memory serve`.

Started by the Rust integration test `python_client_against_a_real_server`, which
sets PHASE_MEMORY_URL, PHASE_MEMORY_TOKEN (an owner), PHASE_MEMORY_MEMBER_TOKEN
(a member) and PHASE_MEMORY_BIN; run alone, it fails loudly without them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import unittest
from pathlib import Path

from phase_memory import (
    OPERATIONS,
    Client,
    Denied,
    Envelope,
    InvalidRequest,
    NotFound,
    PhaseMemoryError,
    Unauthenticated,
)

AS_OF = "2026-03-01T12:00:00Z"


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run this through `cargo test` (python_client_against_a_real_server)")
    return value


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.url = env("PHASE_MEMORY_URL")
        cls.pm = Client(cls.url, env("PHASE_MEMORY_TOKEN"))
        cls.member = Client(cls.url, env("PHASE_MEMORY_MEMBER_TOKEN"))

    def test_methods_match_the_registry(self) -> None:
        out = subprocess.run([env("PHASE_MEMORY_BIN"), "--json", "contracts"], check=True, capture_output=True)
        registry = {op["name"] for op in json.loads(out.stdout)["data"]["operations"]}
        self.assertEqual(set(OPERATIONS.values()), registry)
        for method, op in OPERATIONS.items():
            self.assertEqual(method, op.replace(".", "_"))
            self.assertTrue(callable(getattr(Client, method, None)), method)
        for shortcut in ["activate", "remember", "observe", "compile", "reviews", "audit"]:
            self.assertTrue(callable(getattr(Client, shortcut, None)), shortcut)

    def test_remember_observe_activate(self) -> None:
        env_ = self.pm.remember({"id": "py/louvre", "kind": "fact", "title": "Louvre", "body": "The Louvre is a museum in Paris."})
        self.assertIsInstance(env_, Envelope)
        self.assertTrue(dataclasses.is_dataclass(env_))
        self.assertEqual(env_.status, "ok")
        self.assertIsNotNone(env_.audit)
        self.pm.observe(["py/louvre"], {"text": "visited"}, at=AS_OF)
        # Writes take the service's clock (as_of is refused on writes); reads may choose.
        act = self.pm.activate(text="Paris museum", budget_tokens=300)
        self.assertEqual(act.operation, "activation.run")
        self.assertIn("py/louvre", [i["node"] for i in act.data["items"]])
        self.assertLessEqual(act.data["budget"]["used"], 300)
        got = self.pm.node_get(node="py/louvre")
        self.assertEqual(got.data["node"]["title"], "Louvre")

    def test_compile_reviews_audit(self) -> None:
        self.pm.remember({"id": "py/pkg", "kind": "fact", "title": "Packaged", "body": "compile me please"})
        # Without --data-dir the service touches no server path: the package comes back
        # in the response.
        pkg = self.pm.compile(text="compile me")
        self.assertTrue(pkg.ok)
        self.assertEqual(len(pkg.data["contents"]), pkg.data["files"])
        self.assertTrue(any("compile me please" in body for body in pkg.data["contents"].values()))
        with self.assertRaises(Denied) as e:
            self.pm.compile(text="compile me", out="/tmp/py-pkg")
        self.assertIn("files.denied", e.exception.codes)
        self.assertIsInstance(self.pm.reviews().data["reviews"], list)
        records = self.pm.audit(operation="node.upsert").data["records"]
        self.assertTrue(records)
        self.assertTrue(all(r["operation"] == "node.upsert" for r in records))

    def test_errors_are_exceptions_with_diagnostics(self) -> None:
        with self.assertRaises(NotFound) as e:
            self.pm.node_get(node="py/nope")
        self.assertEqual(e.exception.status, "not_found")
        self.assertIn("node.not_found", e.exception.codes)
        with self.assertRaises(InvalidRequest) as e:
            self.pm.activate(budget_tokens=10)
        self.assertTrue(e.exception.diagnostics)
        self.assertEqual(e.exception.diagnostics[0].severity, "error")
        with self.assertRaises(Unauthenticated) as e:
            Client(self.url, "pm_not-a-token").store_status()
        self.assertIn("auth.unauthenticated", e.exception.codes)
        with self.assertRaises(Denied) as e:
            self.member.audit_query()
        self.assertIn("auth.forbidden", e.exception.codes)
        # check=False returns the envelope instead.
        env_ = self.pm.node_get(node="py/nope", check=False)
        self.assertEqual(env_.status, "not_found")
        self.assertTrue(issubclass(NotFound, PhaseMemoryError))

    def test_health_and_contracts(self) -> None:
        self.assertTrue(Client(self.url).health().ok)
        doc = self.pm.contracts()
        self.assertTrue(doc["openapi"].startswith("3.1"))

    def test_agent_memory_example(self) -> None:
        path = Path(__file__).resolve().parent.parent / "examples" / "agent_memory.py"
        spec = importlib.util.spec_from_file_location("agent_memory", path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        memory = mod.PhaseMemoryMemory(self.pm, budget_tokens=300)
        self.assertEqual(memory.memory_variables, ["history"])
        memory.save_context({"input": "Ana owns the release checklist."}, {"output": "Noted."})
        memory.save_context({"input": "The office plant needs water on Mondays."}, {"output": "Noted."})
        recalled = memory.load_memory_variables({"input": "who owns the release checklist"})["history"]
        self.assertIn("Ana owns the release checklist.", recalled.splitlines()[0])
        saved = list(memory.saved)
        self.assertEqual(len(saved), 2)
        # Forgetting is review-gated by the built-in profile: each becomes a review.
        outcomes = memory.clear()
        self.assertEqual(len(outcomes), 2)
        for env_ in outcomes:
            self.assertIn(env_.status, ("ok", "review_required"))
        pending = self.pm.reviews(status="pending").data["reviews"]
        held = {s for r in pending for s in r.get("subjects", [])}
        for node_id, env_ in zip(saved, outcomes):
            if env_.status == "review_required":
                self.assertIn(node_id, held)

if __name__ == "__main__":
    sys.exit(unittest.main())
