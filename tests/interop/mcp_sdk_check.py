"""Drives `phase-memory mcp` with the official MCP Python SDK.

Usage: mcp_sdk_check.py BIN STORE WORKDIR

Initializes, lists the tools, calls every tool (the SDK validates each result's
structuredContent against the tool's outputSchema), sends bad arguments and an
unknown tool, then bad bytes on a raw pipe. Exits non-zero on the first failure.
Run by the Rust test `mcp_python_sdk_drives_the_real_binary`.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from mcp import ClientSession, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client

AS_OF = "2026-03-01T00:00:00Z"


def arguments(tool: str, work: Path) -> dict:
    """Arguments for one call of each tool (schema-valid; most succeed). Paths are
    relative to the server's data folder `work`."""
    node = {"id": "sdk/note", "kind": "fact", "title": "SDK note", "body": "Written through the MCP Python SDK."}
    event = {"event": "observation", "at": AS_OF, "subjects": ["paris"], "payload": {"text": "seen"}}
    cue = {"cue": {"text": "Paris museum"}, "budget_tokens": 500}
    table = {
        "remember": {"node": node},
        "observe": {"event": event},
        "activate": cue,
        "compile": {**cue, "out": "pkg-friendly"},
        "reviews": {},
        "audit": {"limit": 5},
        "activation_run": {**cue, "explain": True},
        "audit_prune": {},
        "audit_query": {"operation": "node.upsert"},
        "audit_verify": {},
        "edge_delete": {"edge": {"from": "louvre", "to": "paris", "type": "relates_to"}},
        "edge_upsert": {"edge": {"from": "sdk/note", "to": "paris", "type": "relates_to"}},
        "eval_run": {"dir": "no-such-eval"},
        "event_append": {"event": event},
        "event_query": {"subject": "paris", "limit": 10},
        "graph_export": {},
        "graph_import": {"records": [{"record": "node", "id": "sdk/imported", "kind": "fact", "title": "Imported"}]},
        "health_check": {},
        "lifecycle_apply": {},
        "lifecycle_plan": {},
        "node_delete": {"node": "sdk/imported"},
        "node_get": {"node": "paris"},
        "node_upsert": {"node": {**node, "id": "sdk/other"}},
        "package_compile": {**cue, "out": "pkg"},
        "package_verify": {"path": "pkg"},
        "profile_apply": {"source": "not = [valid"},
        "profile_show": {},
        "profile_validate": {"source": "not = [valid"},
        "review_decide": {"review": "rev-none", "decision": "approve"},
        "review_list": {"status": "pending"},
        "store_export": {"path": "dump.json"},
        "store_import": {"path": "no-such-dump.json"},
        "store_init": {},
        "store_migrate": {},
        "store_repair": {},
        "store_status": {},
        "run_operation": {"operation": "store.status", "request": {}},
    }
    return table[tool]


def check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


async def with_sdk(bin_path: str, store: str, work: Path) -> None:
    # Paths in requests are relative to the server's --data-dir (WORKDIR); without one,
    # the server touches no path at all.
    params = StdioServerParameters(command=bin_path, args=["--store", store, "mcp", "--data-dir", str(work)])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check(init.server_info.name == "phase-memory", f"server name {init.server_info}")
            check(init.capabilities.tools is not None, "tools capability")
            tools = (await session.list_tools()).tools
            names = [t.name for t in tools]
            print(f"{len(names)} tools: {' '.join(names)}")
            for t in tools:
                check(t.input_schema.get("type") == "object", f"{t.name}: inputSchema {t.input_schema}")
                check(isinstance(t.output_schema, dict) and t.output_schema.get("type") == "object", f"{t.name}: no outputSchema")
                check(t.annotations is not None and t.annotations.read_only_hint is not None, f"{t.name}: annotations")
            by_name = {t.name: t for t in tools}
            check(by_name["activate"].annotations.read_only_hint is False, "activate must not be read-only (it audits reads)")
            check(by_name["node_get"].input_schema["properties"]["node"]["type"] == "string", "node_get typed")
            check(by_name["remember"].input_schema["properties"]["node"]["type"] == "object", "remember: node typed")
            check("kind" in by_name["remember"].input_schema["properties"]["node"]["properties"], "remember: node fields")
            check("at" in by_name["observe"].input_schema["properties"]["event"]["properties"], "observe: event fields")

            statuses = {}
            for name in names:
                result = await session.call_tool(name, arguments(name, work))
                env = result.structured_content
                check(isinstance(env, dict) and env.get("envelope") == "phase-memory/v1", f"{name}: no envelope in {result}")
                check(result.is_error == (env["status"] != "ok"), f"{name}: isError vs status {env['status']}")
                check(bool(result.content) and result.content[0].type == "text", f"{name}: no human text")
                check(env["operation"] in result.content[0].text, f"{name}: text {result.content[0].text!r}")
                statuses[name] = env["status"]
            print(json.dumps(statuses, sort_keys=True))
            must_be_ok = [
                "remember", "observe", "activate", "compile", "reviews", "audit", "activation_run",
                "audit_query", "audit_verify", "edge_upsert", "edge_delete", "event_append", "event_query",
                "graph_export", "graph_import", "health_check", "lifecycle_plan", "node_get", "node_upsert",
                "package_compile", "package_verify", "profile_show", "review_list",
                "store_export", "store_status", "run_operation",
            ]
            for name in must_be_ok:
                check(statuses.get(name) == "ok", f"{name}: {statuses.get(name)}")
            # Forgetting is review-gated by the built-in profile.
            check(statuses.get("node_delete") in ("ok", "review_required"), f"node_delete: {statuses.get('node_delete')}")
            for name, status in [("profile_validate", "invalid"), ("review_decide", "not_found")]:
                check(statuses.get(name) == status, f"{name}: {statuses.get(name)}, want {status}")

            # Activation with an unknown seed: ok, with a hint.
            r = await session.call_tool("activate", {"cue": {"nodes": ["sdk/no-such-seed"]}})
            env = r.structured_content
            check(env["status"] == "ok", f"unknown seed: {env}")
            check(any(d["code"] == "node.not_found" and d["severity"] == "info" for d in env["diagnostics"]), f"unknown seed hint: {env}")

            # Bad arguments: a tool error carrying an `invalid` envelope.
            r = await session.call_tool("activate", {"cue": 42})
            check(r.is_error is True and r.structured_content["status"] == "invalid", f"bad arguments: {r}")
            r = await session.call_tool("review_decide", {"review": "x", "decision": "maybe"})
            check(r.is_error is True and r.structured_content["status"] == "invalid", f"bad decision: {r}")
            # An unknown tool: a protocol error.
            try:
                await session.call_tool("no_such_tool", {})
            except MCPError as e:
                print(f"unknown tool -> {e}")
            else:
                raise AssertionError("an unknown tool did not raise")


def raw_bytes(bin_path: str, store: str) -> None:
    """Bad bytes on the wire get JSON-RPC errors; the session goes on."""
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
    lines = [
        json.dumps(init).encode(),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode(),
        b"\xff\xfe not utf-8",
        b"this is not json",
        b'{"jsonrpc": "2.0", "id": 2, "method": "tools/list"',
        json.dumps({"jsonrpc": "2.0", "id": 3, "method": "ping"}).encode(),
    ]
    proc = subprocess.run(
        [bin_path, "--store", store, "mcp"],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        timeout=60,
    )
    replies = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines() if line.strip()]
    parse_errors = [r for r in replies if r.get("error", {}).get("code") == -32700]
    check(len(parse_errors) == 3, f"want 3 parse errors, got {replies}")
    check(all(r["id"] is None for r in parse_errors), f"parse errors carry id null: {parse_errors}")
    check(any(r.get("id") == 3 and "result" in r for r in replies), f"ping after bad bytes: {replies}")
    check(any(r.get("id") == 1 and "result" in r for r in replies), f"initialize: {replies}")
    print(f"raw: {len(replies)} replies, {len(parse_errors)} parse errors")


def main() -> int:
    bin_path, store, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    asyncio.run(with_sdk(bin_path, store, work))
    raw_bytes(bin_path, store)
    print("mcp sdk check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
