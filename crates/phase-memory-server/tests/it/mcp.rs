//! The MCP server driven over an in-memory duplex stream with raw JSON-RPC 2.0
//! lines, as an MCP client would send them.

use phase_memory_model::Actor;
use phase_memory_runtime::Clock;
use phase_memory_server::SharedRuntime;
use phase_memory_server::mcp::{McpServer, serve_transport};
use serde_json::{Value, json};
use tokio::io::{
    AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf,
};

use crate::{AS_OF, actor, new_store, records};

struct Client {
    lines: Lines<BufReader<ReadHalf<DuplexStream>>>,
    write: WriteHalf<DuplexStream>,
    next_id: u64,
}

impl Client {
    async fn send(&mut self, v: Value) {
        let mut line = v.to_string();
        line.push('\n');
        self.write.write_all(line.as_bytes()).await.expect("write");
        self.write.flush().await.expect("flush");
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let line = self
                .lines
                .next_line()
                .await
                .expect("read")
                .expect("server closed the stream");
            let v: Value = serde_json::from_str(&line).expect("json-rpc line");
            if v["id"] == json!(id) {
                return v;
            }
        }
    }

    async fn call(&mut self, tool: &str, arguments: Value) -> (bool, Value) {
        let r = self
            .request("tools/call", json!({"name": tool, "arguments": arguments}))
            .await;
        let result = &r["result"];
        assert!(
            result["content"][0]["text"].is_string(),
            "no human text in {r}"
        );
        let env = result["structuredContent"].clone();
        assert!(env.is_object(), "no structuredContent in {r}");
        (result["isError"].as_bool().unwrap_or(false), env)
    }
}

async fn start(dir: &std::path::Path, who: Actor) -> Client {
    let shared = SharedRuntime::open(dir, Clock::Fixed(crate::t(AS_OF)), Vec::new()).expect("open");
    // Tool calls may name relative paths beside the store (its parent folder).
    let data_dir = dir.parent().and_then(|p| p.canonicalize().ok());
    let (client_end, server_end) = tokio::io::duplex(1 << 20);
    let (sr, sw) = tokio::io::split(server_end);
    tokio::spawn(async move {
        let server = McpServer::new(shared, who).with_data_dir(data_dir);
        let _ = serve_transport(server, sr, sw).await;
    });
    let (cr, cw) = tokio::io::split(client_end);
    let mut c = Client {
        lines: BufReader::new(cr).lines(),
        write: cw,
        next_id: 0,
    };
    let init = c
        .request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "it", "version": "0"}}),
        )
        .await;
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    assert_eq!(
        init["result"]["serverInfo"]["name"], "phase-memory",
        "{init}"
    );
    assert!(
        init["result"]["capabilities"]["tools"].is_object(),
        "{init}"
    );
    c.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_lists_tools_and_runs_them_through_the_runner() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = dir.path().join("store");
    new_store(&store);
    let mut c = start(&store, Actor::owner()).await;

    let pong = c.request("ping", json!({})).await;
    assert!(pong["result"].is_object(), "{pong}");

    let list = c.request("tools/list", json!({})).await;
    let tools = list["result"]["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(
        names[..6],
        [
            "remember", "observe", "activate", "compile", "reviews", "audit"
        ]
    );
    assert_eq!(names.last(), Some(&"run_operation"));
    // One tool per registered operation.
    for op in phase_memory_runtime::registry::OPERATIONS {
        let name = op.name.replace('.', "_");
        assert!(names.contains(&name.as_str()), "no tool {name}");
    }
    for t in tools {
        assert_eq!(t["outputSchema"]["type"], "object", "{t}");
        assert!(t["annotations"]["readOnlyHint"].is_boolean(), "{t}");
    }
    let read_only = |n: &str| {
        tools.iter().find(|t| t["name"] == n).expect("tool")["annotations"]["readOnlyHint"]
            .as_bool()
    };
    assert_eq!(read_only("activate"), Some(false), "activate audits reads");
    assert_eq!(read_only("node_get"), Some(false), "node.get audits reads");
    assert_eq!(read_only("store_status"), Some(true));
    assert_eq!(read_only("remember"), Some(false));
    let activate = tools
        .iter()
        .find(|t| t["name"] == "activate")
        .expect("activate");
    assert!(
        activate["inputSchema"]["properties"]["cue"].is_object(),
        "{activate}"
    );

    let (is_error, env) = c
        .call(
            "run_operation",
            json!({"operation": "graph.import", "request": {"records": records()}}),
        )
        .await;
    assert!(!is_error, "{env}");
    let (is_error, env) = c
        .call(
            "remember",
            json!({"node": {"id": "louvre", "kind": "fact", "title": "Louvre", "body": "The Louvre is a museum in Paris."}}),
        )
        .await;
    assert!(!is_error, "{env}");
    assert_eq!(env["operation"], "node.upsert");
    let (is_error, env) = c
        .call(
            "observe",
            json!({"event": {"event": "observation", "at": AS_OF, "subjects": ["louvre"], "payload": {"text": "visited"}}}),
        )
        .await;
    assert!(!is_error, "{env}");

    let (is_error, env) = c
        .call(
            "activate",
            json!({"cue": {"text": "Paris museum"}, "budget_tokens": 500, "as_of": AS_OF}),
        )
        .await;
    assert!(!is_error, "{env}");
    assert_eq!(env["status"], "ok");
    let items = env["data"]["items"].as_array().expect("items");
    assert!(items.iter().any(|i| i["node"] == "louvre"), "{env}");

    let out = dir.path().join("pkg");
    let (is_error, env) = c
        .call(
            "compile",
            json!({"cue": {"text": "Paris"}, "as_of": AS_OF, "out": "pkg"}),
        )
        .await;
    assert!(!is_error, "{env}");
    assert!(out.is_dir());

    let (is_error, env) = c.call("reviews", json!({})).await;
    assert!(!is_error, "{env}");

    // A bad request is a tool error carrying an `invalid` envelope.
    let (is_error, env) = c.call("activate", json!({"cue": 42})).await;
    assert!(is_error, "{env}");
    assert_eq!(env["status"], "invalid");

    // An unknown tool is a protocol error.
    let r = c
        .request("tools/call", json!({"name": "nope", "arguments": {}}))
        .await;
    assert!(r["error"].is_object(), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_runs_as_the_configured_actor_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = dir.path().join("store");
    new_store(&store);
    let mut c = start(&store, actor("mallory", &["member"], &["default"])).await;
    let (is_error, env) = c
        .call(
            "run_operation",
            json!({"operation": "audit.query", "request": {"actor": {"id": "owner", "roles": ["owner"], "scopes": ["*"]}}}),
        )
        .await;
    assert!(is_error, "{env}");
    assert_eq!(env["status"], "denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_answers_every_malformed_line_with_a_json_rpc_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = dir.path().join("store");
    new_store(&store);
    let mut c = start(&store, Actor::owner()).await;
    for bad in [
        &b"\xff\xfe\x00 not utf-8"[..],
        b"not json at all",
        b"{\"jsonrpc\": \"2.0\", \"id\": 9, \"method\": \"ping\"",
        b"[1, 2",
    ] {
        c.write.write_all(bad).await.expect("write");
        c.write.write_all(b"\n").await.expect("write");
        c.write.flush().await.expect("flush");
        let line = c.lines.next_line().await.expect("read").expect("an answer");
        let v: Value = serde_json::from_str(&line).expect("json-rpc");
        assert_eq!(v["error"]["code"], -32700, "{v}");
        assert_eq!(v["id"], Value::Null, "{v}");
        assert_eq!(v["jsonrpc"], "2.0");
    }
    // Blank lines are skipped, and the session goes on.
    c.write.write_all(b"\n\r\n").await.expect("write");
    let pong = c.request("ping", json!({})).await;
    assert!(pong["result"].is_object(), "{pong}");
    // An unknown seed gets a hint.
    let (is_error, env) = c
        .call("activate", json!({"cue": {"nodes": ["no-such-node"]}}))
        .await;
    assert!(!is_error, "{env}");
    let hinted = env["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .any(|d| d["code"] == "node.not_found" && d["path"] == "cue.nodes[0]");
    assert!(hinted, "{env}");
}
