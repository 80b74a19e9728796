//! The MCP server (Model Context Protocol, stdio transport, built on the `rmcp`
//! SDK).
//!
//! Tools: the agent-facing `remember` (node.upsert), `observe` (event.append),
//! `activate` (activation.run), `compile` (package.compile), `reviews`
//! (review.list) and `audit` (audit.query); one tool per registered operation,
//! named after it with `_` for `.` (`node_get`, `lifecycle_plan`, …); and
//! `run_operation` (any operation by name). Every tool has the operation's typed
//! `inputSchema` and an `outputSchema` (the envelope, with `data` typed for
//! status `ok`) from the registry ([`crate::schemas`]), and answers with the
//! envelope as `structuredContent` plus a short human text; `isError` is set
//! when the envelope status is not `ok`. Every call runs through the one runner
//! as the configured actor.
//!
//! In front of rmcp's line transport sits a small validating layer: a line that
//! is not UTF-8 or not JSON is answered with a JSON-RPC parse error (−32700), a
//! line longer than [`MAX_LINE_BYTES`] with an invalid-request error (−32600),
//! instead of being dropped (a client waiting on it would hang).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use phase_memory_model::{Actor, Envelope, Status};
use phase_memory_runtime::registry::{self, AuditBehaviour};
use phase_memory_runtime::{CallContext, Clock, Extension};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::schemas;
use crate::shared::SharedRuntime;

/// The longest request line accepted (16 MiB); longer lines get −32600.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// What a tool runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// One operation.
    Op(&'static str),
    /// `run_operation`: the operation named in the arguments.
    Any,
}

/// A named tool.
#[derive(Clone, Debug)]
struct ToolSpec {
    name: String,
    target: Target,
    description: String,
}

/// The agent-facing tools, in order.
const FRIENDLY: &[(&str, &str, &str)] = &[
    (
        "remember",
        "node.upsert",
        "Store or replace one memory node: {\"node\": {\"id\", \"kind\", \"title\"?, \"body\"?, \"labels\"?, \"scope\"?, \"sensitivity\"?, \"attrs\"?}} (operation node.upsert).",
    ),
    (
        "observe",
        "event.append",
        "Record what happened: {\"event\": {\"event\": \"observation\", \"at\", \"subjects\"?, \"payload\"?}} (operation event.append).",
    ),
    (
        "activate",
        "activation.run",
        "Recall the memory relevant to a cue under a token budget: {\"cue\": {\"text\"?, \"nodes\"?, \"hints\"?, \"events_since\"?}, \"budget_tokens\"?, \"limit\"?, \"explain\"?} (operation activation.run; writes an audit record when the profile audits reads).",
    ),
    (
        "compile",
        "package.compile",
        "Activate and write the working set as a Markitect package: the activation arguments plus {\"out\": DIR, \"archive\"?} (operation package.compile).",
    ),
    (
        "reviews",
        "review.list",
        "List the review queue, optionally by status (operation review.list).",
    ),
    (
        "audit",
        "audit.query",
        "Query the hash-chained audit log: who did what, denials included (operation audit.query).",
    ),
];

/// Every tool this server offers, in a fixed order: the agent-facing tools, one
/// per registered operation, then `run_operation`.
fn specs() -> Vec<ToolSpec> {
    let mut v: Vec<ToolSpec> = FRIENDLY
        .iter()
        .map(|(name, op, d)| ToolSpec {
            name: (*name).to_string(),
            target: Target::Op(op),
            description: (*d).to_string(),
        })
        .collect();
    for op in registry::OPERATIONS {
        v.push(ToolSpec {
            name: tool_name(op.name),
            target: Target::Op(op.name),
            description: format!(
                "{} (operation {}). Returns the phase-memory/v1 envelope; data: {}.",
                op.summary,
                op.name,
                op.response_shape()
            ),
        });
    }
    v.push(ToolSpec {
        name: "run_operation".into(),
        target: Target::Any,
        description: "Run any phase-memory operation by name: {\"operation\": NAME, \"request\": {…}}. `phase-memory contracts` lists the operations and their request schemas.".into(),
    });
    v
}

/// The tool name of an operation (`node.get` → `node_get`).
pub fn tool_name(operation: &str) -> String {
    operation.replace('.', "_")
}

fn as_object(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        _ => {
            let mut m = JsonObject::new();
            m.insert("type".into(), json!("object"));
            m
        }
    }
}

fn input_schema(target: Target) -> JsonObject {
    match target {
        Target::Op(op) => as_object(schemas::request_schema(op).unwrap_or_else(|| json!({}))),
        Target::Any => {
            let names: Vec<&str> = registry::OPERATIONS.iter().map(|o| o.name).collect();
            as_object(json!({
                "type": "object",
                "properties": {
                    "operation": {"type": "string", "enum": names, "description": "the operation to run"},
                    "request": {"type": "object", "description": "the operation's request (see its schema in `phase-memory contracts`)"},
                },
                "required": ["operation"],
                "additionalProperties": false,
            }))
        }
    }
}

fn output_schema(target: Target) -> JsonObject {
    match target {
        Target::Op(op) => as_object(schemas::envelope_schema(Some(op))),
        Target::Any => as_object(schemas::envelope_schema(None)),
    }
}

/// Operations that write outside the store's records (a package, an export or
/// a report file) although the registry counts them as reads.
const WRITES_FILES: &[&str] = &[
    "package.compile",
    "graph.export",
    "store.export",
    "eval.run",
];

/// Operations that erase or replace what was there.
const DESTRUCTIVE: &[&str] = &[
    "node.delete",
    "edge.delete",
    "audit.prune",
    "store.import",
    "store.repair",
    "profile.apply",
    "node.upsert",
    "edge.upsert",
];

fn annotations(target: Target) -> ToolAnnotations {
    let mut a = ToolAnnotations::new();
    match target.op().and_then(registry::find) {
        Some(op) => {
            // A read that may write an audit record (activation.run when the
            // profile audits reads) is not read-only.
            let read_only =
                !op.writes && op.audit == AuditBehaviour::Never && !WRITES_FILES.contains(&op.name);
            a.read_only_hint = Some(read_only);
            if !read_only {
                a.destructive_hint = Some(DESTRUCTIVE.contains(&op.name));
            }
            a.idempotent_hint = Some(read_only);
        }
        None => {
            a.read_only_hint = Some(false);
            a.destructive_hint = Some(true);
        }
    }
    a.open_world_hint = Some(false);
    a
}

impl Target {
    fn op(self) -> Option<&'static str> {
        match self {
            Target::Op(op) => Some(op),
            Target::Any => None,
        }
    }
}

/// The tools this server offers, in a fixed order.
pub fn tools() -> Vec<Tool> {
    specs()
        .into_iter()
        .map(|spec| {
            let mut t = Tool::new(
                spec.name.clone(),
                spec.description.clone(),
                Arc::new(input_schema(spec.target)),
            );
            t.output_schema = Some(Arc::new(output_schema(spec.target)));
            t.annotations = Some(annotations(spec.target));
            t
        })
        .collect()
}

/// A short human text for an envelope (the structured content holds it all).
pub fn summary(env: &Envelope) -> String {
    let mut s = format!("{}: {}", env.operation, env.status.as_str());
    let d = &env.data;
    if env.status == Status::Ok {
        if let Some(items) = d.get("items").and_then(Value::as_array) {
            s.push_str(&format!(" — {} item(s)", items.len()));
            for it in items.iter().take(5) {
                let title = it
                    .get("title")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .or_else(|| it.get("node").and_then(Value::as_str))
                    .unwrap_or("");
                s.push_str(&format!("\n- {title}"));
            }
        } else if let Some(n) = ["reviews", "records", "events", "transitions"]
            .iter()
            .find_map(|k| d.get(*k).and_then(Value::as_array).map(|a| (k, a.len())))
        {
            s.push_str(&format!(" — {} {}", n.1, n.0));
        }
    }
    for diag in env.diagnostics.iter().take(3) {
        s.push_str(&format!("\n[{}] {}", diag.code, diag.message));
    }
    s
}

/// The MCP server handler: one actor, one shared runtime.
#[derive(Clone, Debug)]
pub struct McpServer {
    runtime: SharedRuntime,
    actor: Actor,
    data_dir: Option<std::path::PathBuf>,
}

impl McpServer {
    /// A server that runs every tool call as `actor`.
    pub fn new(runtime: SharedRuntime, actor: Actor) -> Self {
        McpServer {
            runtime,
            actor,
            data_dir: None,
        }
    }

    /// Lets tool calls name relative paths inside `dir` (canonical); without it
    /// no tool call touches a server path.
    pub fn with_data_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.data_dir = dir;
        self
    }

    /// Which operation and request a tool call stands for.
    fn resolve(&self, params: &CallToolRequestParams) -> Result<(String, Value), McpError> {
        let args = Value::Object(params.arguments.clone().unwrap_or_default());
        let Some(spec) = specs().into_iter().find(|t| t.name == params.name) else {
            return Err(McpError::invalid_params(
                format!("unknown tool {:?} (tools/list names them)", params.name),
                None,
            ));
        };
        match spec.target {
            Target::Op(op) => Ok((op.to_string(), args)),
            Target::Any => {
                let operation = args
                    .get("operation")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        McpError::invalid_params("run_operation needs {\"operation\": NAME}", None)
                    })?
                    .to_string();
                let request = args.get("request").cloned().unwrap_or_else(|| json!({}));
                Ok((operation, request))
            }
        }
    }

    /// Runs a tool call and returns the envelope.
    pub async fn call(&self, params: &CallToolRequestParams) -> Result<Envelope, McpError> {
        let (operation, mut request) = self.resolve(params)?;
        // The actor comes only from the server's configuration: an actor object is
        // dropped (a string `actor` is audit.query's filter and stays).
        if let Value::Object(m) = &mut request
            && matches!(m.get("actor"), Some(Value::Object(_)))
        {
            m.remove("actor");
        }
        // A tool client is a network client: no server path outside the data
        // folder, the server's clock for writes.
        let ctx = CallContext::remote(self.actor.clone(), self.data_dir.clone());
        Ok(self.runtime.run(&operation, request, ctx).await)
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("phase-memory", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "phase-memory is a governed memory engine. Use `remember` to store facts, `observe` to record what happened, `activate` to recall what matters for a cue under a token budget, `compile` to write that as a Markdown package, `reviews` to see held decisions and `audit` to see who did what; every other operation has a tool of its own (e.g. `node_get`, `lifecycle_plan`). Every result is a phase-memory/v1 envelope (structuredContent).",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let env = self.call(&request).await?;
        // The canonical JSON (rounded floats, sorted keys), as every front end sends it.
        let value: Value = serde_json::from_str(&env.to_json()).unwrap_or(Value::Null);
        let mut result = if env.status == Status::Ok {
            CallToolResult::structured(value)
        } else {
            CallToolResult::structured_error(value)
        };
        result.content = vec![ContentBlock::text(summary(&env))];
        Ok(result.into())
    }
}

/// A JSON-RPC error line with a null id (the request could not be read).
fn error_line(code: i64, message: &str) -> Vec<u8> {
    let mut v = serde_json::to_vec(&json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": message},
    }))
    .unwrap_or_default();
    v.push(b'\n');
    v
}

/// Reads one line of at most `max` bytes (without its newline). `Ok(None)` at
/// the end of input; `Err(true)` for a line longer than `max` (consumed).
async fn read_line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<bool>> {
    buf.clear();
    let n = (&mut *r)
        .take(max as u64 + 1)
        .read_until(b'\n', buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Some(false));
    }
    if buf.len() <= max {
        // The last line, without a newline.
        return Ok(Some(false));
    }
    // Too long: skip to the end of the line.
    let mut sink = Vec::new();
    loop {
        sink.clear();
        let n = (&mut *r).take(1 << 16).read_until(b'\n', &mut sink).await?;
        if n == 0 || sink.last() == Some(&b'\n') {
            break;
        }
    }
    buf.clear();
    Ok(Some(true))
}

/// Forwards well-formed lines from `read` to `to_server`; answers the others on
/// `errors`.
async fn validate_lines<R, S>(
    read: R,
    mut to_server: S,
    errors: mpsc::Sender<Vec<u8>>,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    S: AsyncWrite + Unpin,
{
    let mut r = BufReader::new(read);
    let mut buf = Vec::new();
    while let Some(oversized) = read_line(&mut r, &mut buf, MAX_LINE_BYTES).await? {
        if oversized {
            let msg = format!("Invalid request: the line exceeds {MAX_LINE_BYTES} bytes");
            if errors.send(error_line(-32600, &msg)).await.is_err() {
                break;
            }
            continue;
        }
        let line = buf.strip_suffix(b"\r").unwrap_or(&buf);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let problem = match std::str::from_utf8(line) {
            Err(e) => Some(format!("Parse error: the line is not UTF-8 ({e})")),
            Ok(text) => serde_json::from_str::<serde::de::IgnoredAny>(text)
                .err()
                .map(|e| format!("Parse error: {e}")),
        };
        match problem {
            Some(msg) => {
                if errors.send(error_line(-32700, &msg)).await.is_err() {
                    break;
                }
            }
            None => {
                to_server.write_all(line).await?;
                to_server.write_all(b"\n").await?;
                to_server.flush().await?;
            }
        }
    }
    to_server.shutdown().await
}

/// Writes the server's lines and the validator's error lines to `write`, one
/// whole line at a time.
async fn merge_output<F, W>(
    from_server: F,
    mut errors: mpsc::Receiver<Vec<u8>>,
    mut write: W,
) -> std::io::Result<()>
where
    F: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut lines = BufReader::new(from_server);
    let mut buf = Vec::new();
    let mut errors_open = true;
    loop {
        tokio::select! {
            n = lines.read_until(b'\n', &mut buf) => {
                if n? == 0 {
                    break;
                }
                write.write_all(&buf).await?;
                write.flush().await?;
                buf.clear();
            }
            e = errors.recv(), if errors_open => match e {
                Some(line) => {
                    write.write_all(&line).await?;
                    write.flush().await?;
                }
                None => errors_open = false,
            },
        }
    }
    // The server is done; answer what is left.
    while let Ok(line) = errors.try_recv() {
        write.write_all(&line).await?;
    }
    write.flush().await
}

/// Serves MCP over any byte stream pair until the peer closes it, with the
/// line-validating layer in front of rmcp's transport.
pub async fn serve_transport<R, W>(server: McpServer, read: R, write: W) -> anyhow::Result<()>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let (server_in, validated) = tokio::io::duplex(1 << 20);
    let (server_out, produced) = tokio::io::duplex(1 << 20);
    let (err_tx, err_rx) = mpsc::channel(64);
    let validator = tokio::spawn(validate_lines(read, validated, err_tx));
    let merger = tokio::spawn(merge_output(produced, err_rx, write));
    let (sr, _unused_w) = tokio::io::split(server_in);
    let (_unused_r, sw) = tokio::io::split(server_out);
    let result = async {
        let running = server
            .serve((sr, sw))
            .await
            .map_err(|e| anyhow::anyhow!("MCP initialization failed: {e}"))?;
        running.waiting().await.context("running the MCP service")?;
        anyhow::Ok(())
    }
    .await;
    validator.abort();
    // The service's writer is gone once it stops; let the merger drain.
    drop(_unused_w);
    drop(_unused_r);
    let _ = merger.await;
    result
}

/// Serves MCP over stdio until stdin closes, with front-end `extensions`
/// (e.g. `eval.run`) registered with the runtime. Every tool call runs through
/// the runner as `actor`. Blocking: builds its own tokio runtime.
pub fn serve_stdio_with(
    store: &Path,
    actor: Actor,
    clock: Clock,
    extensions: Vec<(String, Extension)>,
) -> anyhow::Result<()> {
    serve_stdio_in(store, actor, clock, extensions, None)
}

/// [`serve_stdio_with`], letting tool calls name relative paths inside
/// `data_dir` (checked with [`crate::http::check_data_dir`]).
pub fn serve_stdio_in(
    store: &Path,
    actor: Actor,
    clock: Clock,
    extensions: Vec<(String, Extension)>,
    data_dir: Option<&Path>,
) -> anyhow::Result<()> {
    serve_stdio_waiting(
        store,
        actor,
        clock,
        extensions,
        data_dir,
        phase_memory_runtime::DEFAULT_WRITE_WAIT,
    )
}

/// [`serve_stdio_in`] with the time a write waits for the store's writer lock
/// (held by another process) before `store.locked` (`--wait`, as for `serve`).
pub fn serve_stdio_waiting(
    store: &Path,
    actor: Actor,
    clock: Clock,
    extensions: Vec<(String, Extension)>,
    data_dir: Option<&Path>,
    write_wait: std::time::Duration,
) -> anyhow::Result<()> {
    let data_dir = match data_dir {
        Some(d) => Some(crate::http::check_data_dir(
            d,
            store,
            &store.join("tokens.json"),
        )?),
        None => None,
    };
    let shared = SharedRuntime::open_with(
        store,
        clock,
        extensions,
        crate::default_pool_size(),
        write_wait,
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let server = McpServer::new(shared.clone(), actor).with_data_dir(data_dir);
    let result = rt.block_on(async move {
        serve_transport(server, tokio::io::stdin(), tokio::io::stdout()).await
    });
    // Let a run in flight finish and keep any other from starting.
    let _held = rt.block_on(shared.drain());
    // A blocking read of stdin may still be pending; do not wait for it.
    rt.shutdown_background();
    result
}

/// Serves MCP over stdio until stdin closes. Every tool call runs through the
/// runner as `actor`.
pub fn serve_stdio(store: &Path, actor: Actor, clock: Clock) -> anyhow::Result<()> {
    serve_stdio_with(store, actor, clock, Vec::new())
}
