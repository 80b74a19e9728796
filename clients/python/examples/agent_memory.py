"""An agent memory in the LangChain style, backed by phase-memory.

`PhaseMemoryMemory` has the interface LangChain's memory classes have
(`memory_variables`, `load_memory_variables(inputs)`, `save_context(inputs,
outputs)`, `clear()`), so an agent loop can use it as it would any memory: each
turn is observed and remembered, and the next prompt gets what phase-memory
activates for the new input, under a token budget and the token's policy.

Run against a served store:

    phase-memory --store ./mem init
    phase-memory --store ./mem --actor agent-1 --role member token add > token.txt
    phase-memory --store ./mem serve &
    PHASE_MEMORY_URL=http://127.0.0.1:7411 PHASE_MEMORY_TOKEN=$(cat token.txt) \\
        python examples/agent_memory.py
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone
from typing import Any, Optional

from phase_memory import Client, Envelope


class PhaseMemoryMemory:
    """A duck-typed LangChain `BaseMemory`: recall by activation, save as nodes."""

    memory_key = "history"
    input_key = "input"
    output_key = "output"

    def __init__(self, client: Client, *, budget_tokens: int = 400, kind: str = "fact", scope: Optional[str] = None) -> None:
        self.client = client
        self.budget_tokens = budget_tokens
        self.kind = kind
        self.scope = scope
        self.saved: list[str] = []

    @property
    def memory_variables(self) -> list[str]:
        return [self.memory_key]

    def load_memory_variables(self, inputs: dict[str, Any]) -> dict[str, str]:
        """What phase-memory activates for this input, as prompt text."""
        text = str(inputs.get(self.input_key, "")).strip()
        if not text:
            return {self.memory_key: ""}
        env = self.client.activate(text=text, budget_tokens=self.budget_tokens)
        lines = [f"- {item['title']}" for item in env.data["items"]]
        return {self.memory_key: "\n".join(lines)}

    def save_context(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        """Remembers the turn as a node and observes it."""
        said = str(inputs.get(self.input_key, ""))
        answered = str(outputs.get(self.output_key, ""))
        body = f"User: {said}\nAgent: {answered}"
        node_id = "turn/" + hashlib.blake2b(body.encode(), digest_size=8).hexdigest()
        node: dict[str, Any] = {"id": node_id, "kind": self.kind, "title": said[:120] or node_id, "body": body}
        if self.scope:
            node["scope"] = self.scope
        self.client.remember(node)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.client.observe([node_id], {"text": said[:200]}, at=now)
        self.saved.append(node_id)

    def clear(self) -> list[Envelope]:
        """Forgets what this memory saved: erased, with a tombstone and a receipt,
        or held for a second actor's review when the profile gates forgetting."""
        outcomes = [self.client.node_delete(node=node_id, check=False) for node_id in self.saved]
        self.saved.clear()
        return outcomes


def main() -> None:
    client = Client(os.environ.get("PHASE_MEMORY_URL", "http://127.0.0.1:7411"), os.environ.get("PHASE_MEMORY_TOKEN"))
    memory = PhaseMemoryMemory(client)
    turns = [
        ("We ship the release on Friday after the freeze.", "Noted: release on Friday."),
        ("Ana owns the release checklist.", "Noted: Ana owns the checklist."),
    ]
    for said, answered in turns:
        memory.save_context({"input": said}, {"output": answered})
    recalled = memory.load_memory_variables({"input": "who owns the release checklist"})
    print(recalled["history"])


if __name__ == "__main__":
    main()
