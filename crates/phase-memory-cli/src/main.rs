//! `phase-memory`: the command-line front end. Every command builds a request,
//! hands it to the one runner and prints the envelope (`--json`) or a readable
//! rendering; the exit code comes from the envelope's status.

/// Writes a line to stdout. A write that fails (a closed pipe, a full disk) is
/// remembered, not a panic: the process then ends with a message and exit 1.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

/// Writes a line to stderr, ignoring a failure (there is nowhere left to say it).
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// mimalloc instead of the system allocator: a request allocates and frees
/// many small objects (JSON values, hit lists, per-request maps) on several
/// threads at once, where glibc's malloc showed up in profiles of the server
/// (docs/architecture.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod demo;
mod output;
mod render;

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use phase_memory_model::{Actor, Diagnostic, Envelope, Status, Time};
use phase_memory_runtime::{Adapter, CallContext, Clock, Runtime};
use serde_json::{Value, json};

use cli::{
    AuditCmd, Cli, Command, EdgeCmd, EventCmd, LifecycleCmd, NodeCmd, PackageCmd, ProfileCmd,
    ReviewCmd, StoreCmd,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            errln!("error: {e:#}");
            1
        }
    };
    if std::env::var_os("PHASE_MEMORY_DEBUG_TOKENIZER").is_some() {
        let loaded = phase_memory_activate::tokens::loaded_encodings();
        errln!("tokenizer vocabularies loaded: [{}]", loaded.join(", "));
    }
    let code = match output::finish() {
        Ok(()) => code,
        Err(e) => {
            errln!("phase-memory: cannot write the output: {e}");
            1
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// What the global flags say about the caller.
pub(crate) struct Caller {
    pub store: PathBuf,
    pub json: bool,
    pub clock: Clock,
    pub ctx: CallContext,
    pub actor_given: bool,
    /// How long a write waits for the writer lock.
    pub wait: std::time::Duration,
}

fn caller(cli: &Cli) -> Result<Caller, Diagnostic> {
    let as_of = match &cli.as_of {
        Some(s) => Some(s.parse::<Time>().map_err(|e| {
            Diagnostic::error(
                "request.invalid",
                format!("--as-of {s:?} is not a time (want RFC 3339 or a date): {e}"),
            )
            .at("--as-of")
        })?),
        None => None,
    };
    let actor = CallContext::local_actor(cli.actor.as_deref(), &cli.role, &cli.scope);
    let mut ctx = CallContext::new(actor);
    ctx.as_of = as_of;
    ctx.trust_request_actor = true;
    Ok(Caller {
        store: cli.store.clone(),
        json: cli.json,
        clock: as_of.map(Clock::Fixed).unwrap_or(Clock::System),
        ctx,
        actor_given: cli.actor.is_some(),
        wait: std::time::Duration::try_from_secs_f64(cli.wait).map_err(|_| {
            Diagnostic::error(
                "request.invalid",
                format!("--wait {} is not a number of seconds", cli.wait),
            )
            .at("--wait")
        })?,
    })
}

/// An `invalid` envelope for `op` with one diagnostic (exit 2).
fn invalid_envelope(op: &str, d: Diagnostic) -> Envelope {
    let mut env = Envelope::new(op, Status::Invalid, "req-cli", "");
    env.diagnostics.push(d);
    env
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let c = match caller(&cli) {
        Ok(c) => c,
        Err(d) => {
            let c = Caller {
                store: cli.store.clone(),
                json: cli.json,
                clock: Clock::System,
                ctx: CallContext::new(Actor::owner()),
                actor_given: false,
                wait: phase_memory_runtime::DEFAULT_WRITE_WAIT,
            };
            return Ok(emit(&c, &invalid_envelope(cli.command.operation(), d)));
        }
    };
    match operation_request(&cli.command) {
        Ok(Some((op, request))) => Ok(run_operation(&c, &op, request)),
        Ok(None) => front_end(&c, &cli.command),
        Err((op, d)) => Ok(emit(&c, &invalid_envelope(&op, d))),
    }
}

/// The commands that are the front end's own (no operation of the registry):
/// store creation, the contracts, the demo, the servers, tokens, the profile
/// schema.
fn front_end(c: &Caller, command: &Command) -> anyhow::Result<i32> {
    match command {
        Command::Init {
            adapter,
            profile,
            url,
        } => Ok(init(c, adapter, url.as_deref(), profile.as_deref())),
        Command::Contracts => {
            let mut env = Envelope::new(
                "service.contracts",
                Status::Ok,
                "req-contracts",
                &phase_memory_profile::Profile::builtin().digest(),
            );
            env.data = phase_memory_runtime::service_contracts();
            Ok(emit(c, &env))
        }
        Command::Demo { dir } => demo::run(c, dir.as_deref()),
        Command::Serve {
            listen,
            tokens,
            max_body_bytes,
            timeout_secs,
            data_dir,
            telemetry,
        } => {
            let _telemetry = phase_memory_server::telemetry::init(&telemetry.config())?;
            let cfg = phase_memory_server::http::ServeConfig {
                store: c.store.clone(),
                listen: listen.clone(),
                tokens: tokens
                    .clone()
                    .unwrap_or_else(|| c.store.join("tokens.json")),
                max_body_bytes: *max_body_bytes,
                timeout: std::time::Duration::from_secs(*timeout_secs),
                clock: c.clock,
                extensions: vec![("eval.run".to_string(), phase_memory_eval::extension())],
                data_dir: data_dir.clone(),
                write_wait: c.wait,
            };
            phase_memory_server::http::serve(cfg)?;
            Ok(0)
        }
        Command::Mcp {
            data_dir,
            telemetry,
        } => {
            let _telemetry = phase_memory_server::telemetry::init(&telemetry.config())?;
            phase_memory_server::mcp::serve_stdio_waiting(
                &c.store,
                c.ctx.actor.clone(),
                c.clock,
                vec![("eval.run".to_string(), phase_memory_eval::extension())],
                data_dir.as_deref(),
                c.wait,
            )?;
            Ok(0)
        }
        Command::Token {
            command: cli::TokenCmd::Add { tokens },
        } => {
            if !c.actor_given {
                anyhow::bail!(
                    "token add needs --actor ID (and --role/--scope) for the actor the token stands for"
                );
            }
            let file = tokens
                .clone()
                .unwrap_or_else(|| c.store.join("tokens.json"));
            let token = phase_memory_server::tokens::add_token(&file, &c.ctx.actor)?;
            errln!(
                "added a token for actor {} to {} (only its hash is stored; this is the only time it is shown)",
                c.ctx.actor.id,
                file.display()
            );
            outln!("{token}");
            Ok(0)
        }
        Command::Profile {
            command: ProfileCmd::Schema,
        } => {
            outln!(
                "{}",
                serde_json::to_string_pretty(&phase_memory_profile::Profile::json_schema())?
            );
            Ok(0)
        }
        _ => anyhow::bail!(
            "{} is an operation, not a front-end command",
            command.operation()
        ),
    }
}

/// The operation a command runs and its request (`None` for the front end's
/// own commands); `Err` names the operation and why its request is unusable.
fn operation_request(command: &Command) -> Result<Option<(String, Value)>, OpError> {
    let (op, request): (&str, Value) = match command {
        Command::Profile {
            command: ProfileCmd::Validate { file },
        } => ("profile.validate", json!({"path": file})),
        Command::Package {
            command: PackageCmd::Verify { path },
        } => ("package.verify", json!({"path": path})),
        Command::Eval {
            command: cli::EvalCmd::Run { dir, report },
        } => {
            let mut req = json!({"dir": dir});
            if let Some(r) = report {
                req["report"] = json!(r);
            }
            ("eval.run", req)
        }
        Command::Profile {
            command: ProfileCmd::Apply { file },
        } => ("profile.apply", json!({"path": file})),
        Command::Profile {
            command: ProfileCmd::Show,
        } => ("profile.show", json!({})),
        Command::Import { file } => ("graph.import", json!({"path": file})),
        Command::Export { out } => ("graph.export", json!({"path": out})),
        Command::Node { command } => node_request(command)?,
        Command::Edge { command } => edge_request(command)?,
        Command::Event { command } => event_request(command)?,
        Command::Activate(a) => (
            "activation.run",
            a.request().map_err(|d| ("activation.run".to_string(), d))?,
        ),
        Command::Compile {
            activation,
            out,
            archive,
        } => {
            let mut r = activation
                .request()
                .map_err(|d| ("package.compile".to_string(), d))?;
            r["out"] = json!(out);
            r["archive"] = json!(archive);
            ("package.compile", r)
        }
        Command::Lifecycle { command } => match command {
            LifecycleCmd::Plan { node } => ("lifecycle.plan", nodes_req(node)),
            LifecycleCmd::Apply { node } => ("lifecycle.apply", nodes_req(node)),
        },
        Command::Review { command } => review_request(command),
        Command::Audit { command } => audit_request(command),
        Command::Status => ("store.status", json!({})),
        Command::Migrate => ("store.migrate", json!({})),
        Command::Repair { apply } => ("store.repair", json!({"apply": apply})),
        Command::Health => ("health.check", json!({})),
        Command::Store { command } => match command {
            StoreCmd::Export { out } => ("store.export", json!({"path": out})),
            StoreCmd::Import { file } => ("store.import", json!({"path": file})),
        },
        Command::Op { operation, request } => {
            let req = match request {
                Some(r) => read_for(operation, r)?,
                None => json!({}),
            };
            return Ok(Some((operation.clone(), req)));
        }
        _ => return Ok(None),
    };
    Ok(Some((op.to_string(), request)))
}

type OpError = (String, Diagnostic);

fn read_for(op: &str, file: &str) -> Result<Value, OpError> {
    read_json(file).map_err(|d| (op.to_string(), d))
}

fn node_request(command: &NodeCmd) -> Result<(&'static str, Value), OpError> {
    Ok(match command {
        NodeCmd::Get { id } => ("node.get", json!({"node": id})),
        NodeCmd::Upsert { file } => (
            "node.upsert",
            json!({"node": read_for("node.upsert", file)?}),
        ),
        NodeCmd::Delete { id } => ("node.delete", json!({"node": id})),
    })
}

fn edge_request(command: &EdgeCmd) -> Result<(&'static str, Value), OpError> {
    Ok(match command {
        EdgeCmd::Upsert { file } => (
            "edge.upsert",
            json!({"edge": read_for("edge.upsert", file)?}),
        ),
        EdgeCmd::Delete {
            from,
            to,
            edge_type,
        } => (
            "edge.delete",
            json!({"edge": {"from": from, "to": to, "type": edge_type}}),
        ),
    })
}

fn event_request(command: &EventCmd) -> Result<(&'static str, Value), OpError> {
    Ok(match command {
        EventCmd::Append { file } => (
            "event.append",
            json!({"event": read_for("event.append", file)?}),
        ),
        EventCmd::Query {
            event_type,
            subject,
            since,
            until,
            after_seq,
            limit,
        } => (
            "event.query",
            strip_nulls(
                json!({"type": event_type, "subject": subject, "since": since, "until": until, "after_seq": after_seq, "limit": limit}),
            ),
        ),
    })
}

fn review_request(command: &ReviewCmd) -> (&'static str, Value) {
    match command {
        ReviewCmd::List { status } => ("review.list", strip_nulls(json!({"status": status}))),
        ReviewCmd::Approve { id, reason } => (
            "review.decide",
            strip_nulls(json!({"review": id, "decision": "approve", "reason": reason})),
        ),
        ReviewCmd::Reject { id, reason } => (
            "review.decide",
            strip_nulls(json!({"review": id, "decision": "reject", "reason": reason})),
        ),
    }
}

fn audit_request(command: &AuditCmd) -> (&'static str, Value) {
    match command {
        AuditCmd::Query {
            since,
            until,
            by,
            operation,
            status,
            subject,
            limit,
        } => (
            "audit.query",
            strip_nulls(
                json!({"since": since, "until": until, "actor": by, "operation": operation, "status": status, "subject": subject, "limit": limit}),
            ),
        ),
        AuditCmd::Verify => ("audit.verify", json!({})),
        AuditCmd::Prune { before } => ("audit.prune", strip_nulls(json!({"before": before}))),
    }
}

fn nodes_req(nodes: &[String]) -> Value {
    if nodes.is_empty() {
        json!({})
    } else {
        json!({"nodes": nodes})
    }
}

/// Removes null members so optional flags stay absent from the request.
pub(crate) fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

/// Reads a JSON request (a file, or `-` for stdin). Bytes that are not JSON
/// (invalid UTF-8, `NaN`, a lone surrogate, nesting past serde_json's limit of
/// 128 levels) are a `request.invalid` diagnostic, never a crash.
fn read_json(path: &str) -> Result<Value, Diagnostic> {
    let bytes = if path == "-" {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).map_err(|e| {
            Diagnostic::error("request.invalid", format!("cannot read stdin: {e}")).at("-")
        })?;
        b
    } else {
        std::fs::read(path).map_err(|e| {
            Diagnostic::error("request.invalid", format!("cannot read {path}: {e}")).at(path)
        })?
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        Diagnostic::error("request.invalid", format!("{path} is not valid JSON: {e}")).at(format!(
            "{path}:{}:{}",
            e.line(),
            e.column()
        ))
    })
}

fn init(c: &Caller, adapter: &str, url: Option<&str>, profile: Option<&Path>) -> i32 {
    let Some(adapter) = Adapter::parse(adapter).filter(|a| *a != Adapter::Memory) else {
        let mut env = Envelope::new("store.init", Status::Invalid, "req-init", "");
        env.diagnostics.push(Diagnostic::error(
            "request.invalid",
            format!("unknown adapter {adapter:?} (want file, sqlite or postgres)"),
        ));
        return emit(c, &env);
    };
    let source = match profile {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(s) => Some((p.display().to_string(), s)),
            Err(e) => {
                let mut env = Envelope::new("store.init", Status::Invalid, "req-init", "");
                env.diagnostics.push(Diagnostic::error(
                    "request.invalid",
                    format!("cannot read profile {}: {e}", p.display()),
                ));
                return emit(c, &env);
            }
        },
        None => None,
    };
    let now = c.clock.now();
    // postgres: the URL goes into store.json when given with --url; one that came
    // from PHASE_MEMORY_DATABASE_URL stays out of the folder (every open reads it).
    let config = if adapter.name() == "postgres" {
        let from_env = std::env::var("PHASE_MEMORY_DATABASE_URL").ok().as_deref() == url;
        if url.is_none() {
            let mut env = Envelope::new("store.init", Status::Invalid, "req-init", "");
            env.diagnostics.push(Diagnostic::error(
                "request.invalid",
                "the postgres adapter needs a database URL (--url or PHASE_MEMORY_DATABASE_URL)",
            ));
            return emit(c, &env);
        }
        Some(phase_memory_runtime::StoreConfig {
            adapter: "postgres".into(),
            url: if from_env {
                None
            } else {
                url.map(str::to_string)
            },
        })
    } else {
        None
    };
    let env = phase_memory_runtime::init_store_with(
        &c.store,
        adapter,
        config,
        source.as_ref().map(|(o, s)| (o.as_str(), s.as_str())),
        now,
    );
    emit(c, &env)
}

/// Opens what the operation needs (the registry says: the store, the store in
/// repair mode, or nothing), registers the front-end extensions, and runs it.
pub(crate) fn run_operation(c: &Caller, op: &str, request: Value) -> i32 {
    let mut rt = match phase_memory_runtime::open_for_operation(op, &c.store, c.clock, c.wait) {
        Ok(rt) => rt,
        Err((status, d)) => {
            let mut env = Envelope::new(op, status, "req-open", "");
            env.diagnostics.push(d);
            return emit(c, &env);
        }
    };
    rt.register_extension("eval.run", phase_memory_eval::extension());
    let env = run_op(c, &mut rt, op, request);
    emit(c, &env)
}

/// Opens the store with shared access (the demo).
pub(crate) fn open(c: &Caller) -> Result<Runtime, (Status, Diagnostic)> {
    let mut rt = phase_memory_runtime::open_runtime_waiting(&c.store, c.clock, c.wait)?;
    rt.register_extension("eval.run", phase_memory_eval::extension());
    Ok(rt)
}

pub(crate) fn run_op(c: &Caller, rt: &mut Runtime, op: &str, request: Value) -> Envelope {
    let mut ctx = c.ctx.clone();
    let bar = if op == "graph.import" && std::io::stderr().is_terminal() && !c.json {
        let pb = indicatif::ProgressBar::new(0);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} parsing {pos}/{len} lines [{bar:30}] {per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let p = pb.clone();
        ctx.progress = Some(Arc::new(move |done, total| {
            p.set_length(total);
            p.set_position(done);
        }));
        Some(pb)
    } else {
        None
    };
    let env = rt.run(op, request, &ctx);
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    env
}

/// Prints the envelope (or its rendering) and returns the exit code.
pub(crate) fn emit(c: &Caller, env: &Envelope) -> i32 {
    if output::failed() {
        return 1;
    }
    if c.json {
        outln!("{}", env.to_json());
    } else {
        let (out, err) = render::human(env);
        if !out.is_empty() {
            outln!("{out}");
        }
        if !err.is_empty() {
            errln!("{err}");
        }
    }
    env.exit_code()
}
