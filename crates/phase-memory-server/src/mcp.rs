//! The MCP server (Model Context Protocol, stdio transport, built on the `rmcp`
//! SDK): tools `remember` (node.upsert), `observe` (event.append), `activate`
//! (activation.run), `compile` (package.compile), `reviews` (review.list) and
//! `run_operation` (any registered operation). Every call runs through the one
//! runner as the configured actor; the tool result's text is the envelope JSON,
//! with `isError` set when the envelope status is not `ok`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use phase_memory_model::{Actor, Envelope, Status};
use phase_memory_runtime::{CallContext, Clock, Extension, registry};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::shared::SharedRuntime;

/// A named tool and the operation it runs (`None`: `run_operation`).
struct ToolSpec {
    name: &'static str,
    operation: Option<&'static str>,
    description: &'static str,
    read_only: bool,
}

const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "remember",
        operation: Some("node.upsert"),
        description: "Store or replace one memory node (operation node.upsert). Arguments: {\"node\": {\"id\", \"kind\", \"title\"?, \"body\"?, \"labels\"?, \"scope\"?, \"sensitivity\"?, \"attrs\"?}}.",
        read_only: false,
    },
    ToolSpec {
        name: "observe",
        operation: Some("event.append"),
        description: "Append an observation or access event (operation event.append). Arguments: {\"event\": {\"event\": \"observation\", \"at\", \"subjects\"?, \"payload\"?}}.",
        read_only: false,
    },
    ToolSpec {
        name: "activate",
        operation: Some("activation.run"),
        description: "Activate the memory relevant to a cue under a token budget (operation activation.run). Arguments: {\"cue\": {\"text\"?, \"nodes\"?, \"hints\"?, \"events_since\"?}, \"budget_tokens\"?, \"limit\"?, \"as_of\"?, \"explain\"?}.",
        read_only: true,
    },
    ToolSpec {
        name: "compile",
        operation: Some("package.compile"),
        description: "Activate and compile the working set into a Markitect package folder or .tar (operation package.compile): the activation arguments plus {\"out\": DIR, \"archive\"?}.",
        read_only: false,
    },
    ToolSpec {
        name: "reviews",
        operation: Some("review.list"),
        description: "List the review queue (operation review.list).",
        read_only: true,
    },
    ToolSpec {
        name: "run_operation",
        operation: None,
        description: "Run any phase-memory operation: {\"operation\": NAME, \"request\": {…}}. `phase-memory contracts` lists the operations and their request schemas.",
        read_only: false,
    },
];

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

fn tool_schema(spec: &ToolSpec) -> JsonObject {
    match spec.operation.and_then(registry::find) {
        Some(op) => {
            let mut schema = as_object((op.request_schema)());
            schema.remove("$schema");
            if let Some(Value::Object(props)) = schema.get_mut("properties") {
                props.insert(
                    "as_of".into(),
                    json!({"type": "string", "description": "RFC 3339 time that overrides the clock for this call"}),
                );
            }
            schema
        }
        None => {
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

/// The tools this server offers, in a fixed order.
pub fn tools() -> Vec<Tool> {
    TOOLS
        .iter()
        .map(|spec| {
            let mut t = Tool::new(spec.name, spec.description, Arc::new(tool_schema(spec)));
            let mut a = ToolAnnotations::new();
            a.read_only_hint = Some(spec.read_only);
            a.open_world_hint = Some(false);
            t.annotations = Some(a);
            t
        })
        .collect()
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
        let Some(spec) = TOOLS.iter().find(|t| t.name == params.name) else {
            return Err(McpError::invalid_params(
                format!("unknown tool {:?}", params.name),
                None,
            ));
        };
        match spec.operation {
            Some(op) => Ok((op.to_string(), args)),
            None => {
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
        // The actor comes only from the server's configuration.
        if let Value::Object(m) = &mut request {
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
                "phase-memory is a governed memory engine. Use `remember` to store facts, `observe` to record what happened, `activate` to recall what matters for a cue under a token budget, `compile` to write that as a Markdown package, `reviews` to see held decisions, and `run_operation` for anything else. Every result is a phase-memory/v1 envelope.",
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
        let content = vec![ContentBlock::text(env.to_json())];
        let result = if env.status == Status::Ok {
            CallToolResult::success(content)
        } else {
            CallToolResult::error(content)
        };
        Ok(result.into())
    }
}

/// Serves MCP over any byte stream pair until the peer closes it.
pub async fn serve_transport<R, W>(server: McpServer, read: R, write: W) -> anyhow::Result<()>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let running = server
        .serve((read, write))
        .await
        .map_err(|e| anyhow::anyhow!("MCP initialization failed: {e}"))?;
    running.waiting().await.context("running the MCP service")?;
    Ok(())
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
    let data_dir = match data_dir {
        Some(d) => Some(crate::http::check_data_dir(d, store, &store.join("tokens.json"))?),
        None => None,
    };
    let shared = SharedRuntime::open(store, clock, extensions)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let server = McpServer::new(shared.clone(), actor).with_data_dir(data_dir);
    let result = rt.block_on(async move {
        let (stdin, stdout) = rmcp::transport::stdio();
        serve_transport(server, stdin, stdout).await
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
