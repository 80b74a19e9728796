//! Command-line grammar (SPEC section 10). Each subcommand maps to one operation.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use phase_memory_model::Diagnostic;
use serde_json::{Value, json};

const AFTER_HELP: &str = "\
Examples:
  phase-memory --store ./mem init
  phase-memory --store ./mem import graph.jsonl
  phase-memory --store ./mem activate --text \"release plan\" --budget 800 --explain
  phase-memory --store ./mem compile --text \"release plan\" --out ./pkg
  phase-memory --store ./mem --as-of 2027-01-01 lifecycle plan
  phase-memory --store ./mem --actor bob --role reviewer review approve rev-1234
  echo '{\"node\": \"n1\"}' | phase-memory --store ./mem --json op node.get --request -

Exit codes: 0 ok, 2 invalid input, 3 denied or review required, 4 not found or conflict, 1 internal error.
`--json` prints exactly the phase-memory/v1 envelope on stdout; diagnostics and progress go to stderr.";

/// phase-memory: a governed, local-first memory engine for agents and knowledge work.
#[derive(Parser, Debug)]
#[command(name = "phase-memory", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// The store folder.
    #[arg(
        long,
        global = true,
        env = "PHASE_MEMORY_STORE",
        default_value = ".phase-memory"
    )]
    pub store: PathBuf,
    /// Print exactly the JSON envelope on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Act as this actor (default: the local owner with every scope).
    #[arg(long, global = true)]
    pub actor: Option<String>,
    /// A role of the actor (repeatable; default member, or owner for the local owner).
    #[arg(long, global = true)]
    pub role: Vec<String>,
    /// A scope the actor may see (repeatable; default `default`, or every scope for the owner).
    #[arg(long, global = true)]
    pub scope: Vec<String>,
    /// Evaluate at this time instead of now (RFC 3339 or a date), everywhere.
    #[arg(long = "as-of", global = true)]
    pub as_of: Option<String>,
    /// Seconds a write waits for another writer (another command, `serve`, `mcp`)
    /// to finish before failing with `store.locked`. Reads never wait.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 10.0)]
    pub wait: f64,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a store (file adapter by default).
    Init {
        /// `file` (a human-readable folder), `sqlite` (one file, for big stores) or
        /// `postgres` (a database many instances share; needs --url).
        #[arg(long, default_value = "file")]
        adapter: String,
        /// Database URL for `--adapter postgres` (`postgres://user@host/db`, optional
        /// `?schema=NAME`). Given by flag it is kept in the folder's store.json; from
        /// the environment it is not, and every open reads the variable.
        #[arg(long, env = "PHASE_MEMORY_DATABASE_URL")]
        url: Option<String>,
        /// Profile TOML (default: the built-in profile).
        #[arg(long)]
        profile: Option<PathBuf>,
    },
    /// Validate, apply, show a profile, or print its JSON Schema.
    Profile {
        #[command(subcommand)]
        command: ProfileCmd,
    },
    /// Import a JSONL file of nodes, edges and events (all-or-nothing).
    Import {
        /// The JSONL file.
        file: String,
    },
    /// Export nodes, edges and events as JSONL (stdout unless --out).
    Export {
        /// Write to this file.
        #[arg(long)]
        out: Option<String>,
    },
    /// Read, write or forget one node.
    Node {
        #[command(subcommand)]
        command: NodeCmd,
    },
    /// Write or delete one edge.
    Edge {
        #[command(subcommand)]
        command: EdgeCmd,
    },
    /// Append or query events.
    Event {
        #[command(subcommand)]
        command: EventCmd,
    },
    /// Activate memory for a cue: ranked, policy-filtered, under a token budget.
    Activate(ActivationArgs),
    /// Activate and compile a Markitect package.
    Compile {
        #[command(flatten)]
        activation: ActivationArgs,
        /// Output folder (or .tar with --archive).
        #[arg(long)]
        out: String,
        /// Write a .tar archive.
        #[arg(long)]
        archive: bool,
    },
    /// Verify a package.
    Package {
        #[command(subcommand)]
        command: PackageCmd,
    },
    /// Plan or apply lifecycle transitions at --as-of.
    Lifecycle {
        #[command(subcommand)]
        command: LifecycleCmd,
    },
    /// The review queue.
    Review {
        #[command(subcommand)]
        command: ReviewCmd,
    },
    /// The hash-chained audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCmd,
    },
    /// Schema version, migrations, counts, audit head, retention.
    Status,
    /// Apply pending migrations.
    Migrate,
    /// Diagnose the store (dry run) or fix it (--apply).
    Repair {
        /// Fix what can be fixed; what cannot be read goes to quarantine.
        #[arg(long)]
        apply: bool,
    },
    /// Store reachable, schema current, audit head, index fresh, adapters.
    Health,
    /// Move a whole store between adapters.
    Store {
        #[command(subcommand)]
        command: StoreCmd,
    },
    /// Run any operation: JSON request in, envelope out.
    Op {
        /// Operation name (see `contracts`).
        operation: String,
        /// Request JSON file, or - for stdin.
        #[arg(long)]
        request: Option<String>,
    },
    /// Print the operation registry with request schemas.
    Contracts,
    /// Serve the HTTP API.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7411")]
        listen: String,
        /// Tokens file (hashes only; default STORE/tokens.json).
        #[arg(long)]
        tokens: Option<PathBuf>,
        /// Largest accepted request body.
        #[arg(long, default_value_t = 8 * 1024 * 1024)]
        max_body_bytes: usize,
        /// Per-request timeout in seconds.
        #[arg(long, default_value_t = 30)]
        timeout_secs: u64,
        /// The only folder requests may name files in (relative paths inside
        /// it); without it no request touches a server path.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        telemetry: TelemetryArgs,
    },
    /// Manage bearer tokens for the HTTP service.
    Token {
        #[command(subcommand)]
        command: TokenCmd,
    },
    /// Serve the Model Context Protocol over stdio.
    Mcp {
        /// The only folder tool calls may name files in (relative paths inside
        /// it); without it no tool call touches a server path.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        telemetry: TelemetryArgs,
    },
    /// Run evaluation scenarios and gates.
    Eval {
        #[command(subcommand)]
        command: EvalCmd,
    },
    /// Build a demo store from the shipped example and run the whole flow.
    Demo {
        /// Where to put the demo (default: a fresh folder under the system temp dir).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Profile subcommands.
#[derive(Subcommand, Debug)]
pub enum ProfileCmd {
    /// Validate and activate a profile.
    Apply { file: String },
    /// Show the active profile.
    Show,
    /// Validate a profile file (no store needed).
    Validate { file: String },
    /// Print the profile JSON Schema.
    Schema,
}

/// Node subcommands.
#[derive(Subcommand, Debug)]
pub enum NodeCmd {
    /// Read a node.
    Get { id: String },
    /// Insert or replace a node from a JSON file (or - for stdin).
    Upsert { file: String },
    /// Forget a node: erase its content, keep a tombstone.
    Delete { id: String },
}

/// Edge subcommands.
#[derive(Subcommand, Debug)]
pub enum EdgeCmd {
    /// Insert or replace an edge from a JSON file (or -).
    Upsert { file: String },
    /// Delete an edge.
    Delete {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long = "type")]
        edge_type: String,
    },
}

/// Event subcommands.
#[derive(Subcommand, Debug)]
pub enum EventCmd {
    /// Append an event from a JSON file (or -).
    Append { file: String },
    /// Query the history.
    Query {
        #[arg(long = "type")]
        event_type: Option<String>,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        after_seq: Option<u64>,
        #[arg(long)]
        limit: Option<usize>,
    },
}

/// Package subcommands.
#[derive(Subcommand, Debug)]
pub enum PackageCmd {
    /// Re-hash a package folder or .tar.
    Verify { path: String },
}

/// Lifecycle subcommands.
#[derive(Subcommand, Debug)]
pub enum LifecycleCmd {
    /// List the transitions the rules fire at --as-of.
    Plan {
        /// Only these nodes.
        #[arg(long)]
        node: Vec<String>,
    },
    /// Apply them (review-gated ones become reviews).
    Apply {
        #[arg(long)]
        node: Vec<String>,
    },
}

/// Review subcommands.
#[derive(Subcommand, Debug)]
pub enum ReviewCmd {
    /// List reviews.
    List {
        /// pending, approved, rejected or expired.
        #[arg(long)]
        status: Option<String>,
    },
    /// Approve (applies the held operation once).
    Approve {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject.
    Reject {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

/// Audit subcommands.
#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Query records.
    Query {
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        /// Records by this actor.
        #[arg(long)]
        by: Option<String>,
        #[arg(long)]
        operation: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Verify the hash chain and erasure receipts.
    Verify,
    /// Prune records past retention behind a checkpoint.
    Prune {
        #[arg(long)]
        before: Option<String>,
    },
}

/// Store subcommands.
#[derive(Subcommand, Debug)]
pub enum StoreCmd {
    /// Dump the whole store.
    Export {
        #[arg(long)]
        out: String,
    },
    /// Restore a dump into an empty store.
    Import { file: String },
}

/// Token subcommands.
#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Add a token for the actor given by --actor/--role/--scope; prints it once.
    Add {
        /// The tokens file to add it to (default: STORE/tokens.json, the file `serve` reads).
        #[arg(long)]
        tokens: Option<PathBuf>,
    },
}

/// Evaluation subcommands.
#[derive(Subcommand, Debug)]
pub enum EvalCmd {
    /// Run a scenario folder (or a folder of them).
    Run {
        dir: String,
        /// Write the JSON report here.
        #[arg(long)]
        report: Option<String>,
    },
}

/// The activation flags shared by `activate` and `compile`.
/// Logs and traces of a long-running front end.
#[derive(Args, Clone, Debug)]
pub struct TelemetryArgs {
    /// Logs on standard error: `off`, `text`, or `json` (one object per line:
    /// operation, code, status, milliseconds; never memory content).
    /// PHASE_MEMORY_LOG filters them (default `info`).
    #[arg(long, default_value = "off", value_name = "FORMAT")]
    pub log: phase_memory_server::telemetry::LogFormat,
    /// Export one trace span per request and operation over OTLP/HTTP to this
    /// collector (e.g. http://127.0.0.1:4318; spans go to URL/v1/traces).
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
}

impl TelemetryArgs {
    /// The server-side configuration.
    pub fn config(&self) -> phase_memory_server::telemetry::TelemetryConfig {
        phase_memory_server::telemetry::TelemetryConfig {
            log: self.log,
            otlp_endpoint: self.otlp_endpoint.clone(),
        }
    }
}

#[derive(Args, Debug)]
pub struct ActivationArgs {
    /// Cue text (BM25 seeds).
    #[arg(long)]
    pub text: Option<String>,
    /// Explicit seed node (repeatable).
    #[arg(long)]
    pub node: Vec<String>,
    /// Semantic hint NODE=SCORE (repeatable).
    #[arg(long)]
    pub hint: Vec<String>,
    /// Seed from observations/accesses after this time.
    #[arg(long)]
    pub events_since: Option<String>,
    /// Token budget (default from the profile).
    #[arg(long)]
    pub budget: Option<u64>,
    /// Item limit (default from the profile).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Explain every score term and path.
    #[arg(long)]
    pub explain: bool,
    /// Include nodes not valid at --as-of.
    #[arg(long)]
    pub include_invalid: bool,
}

impl ActivationArgs {
    /// The activation request these flags describe.
    pub fn request(&self) -> Result<Value, Diagnostic> {
        let mut hints = Vec::new();
        for h in &self.hint {
            let bad = |why: &str| {
                Diagnostic::error("request.invalid", format!("--hint {h:?}: {why}")).at("--hint")
            };
            let (node, score) = h.rsplit_once('=').ok_or_else(|| bad("want NODE=SCORE"))?;
            let score: f64 = score
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite())
                .ok_or_else(|| bad("score is not a finite number"))?;
            hints.push(json!({"node": node, "score": score}));
        }
        let cue = crate::strip_nulls(
            json!({"text": self.text, "nodes": self.node, "hints": hints, "events_since": self.events_since}),
        );
        Ok(crate::strip_nulls(json!({
            "cue": cue,
            "budget_tokens": self.budget,
            "limit": self.limit,
            "explain": self.explain,
            "include_invalid": self.include_invalid,
        })))
    }
}

impl Command {
    /// The operation this command runs (named in an envelope that refuses the
    /// command line before the operation starts, e.g. a bad `--as-of`).
    pub fn operation(&self) -> &str {
        match self {
            Command::Init { .. } => "store.init",
            Command::Profile { command } => match command {
                ProfileCmd::Apply { .. } => "profile.apply",
                ProfileCmd::Show => "profile.show",
                ProfileCmd::Validate { .. } => "profile.validate",
                ProfileCmd::Schema => "profile.schema",
            },
            Command::Import { .. } => "graph.import",
            Command::Export { .. } => "graph.export",
            Command::Node { command } => match command {
                NodeCmd::Get { .. } => "node.get",
                NodeCmd::Upsert { .. } => "node.upsert",
                NodeCmd::Delete { .. } => "node.delete",
            },
            Command::Edge { command } => match command {
                EdgeCmd::Upsert { .. } => "edge.upsert",
                EdgeCmd::Delete { .. } => "edge.delete",
            },
            Command::Event { command } => match command {
                EventCmd::Append { .. } => "event.append",
                EventCmd::Query { .. } => "event.query",
            },
            Command::Activate(_) => "activation.run",
            Command::Compile { .. } => "package.compile",
            Command::Package { .. } => "package.verify",
            Command::Lifecycle { command } => match command {
                LifecycleCmd::Plan { .. } => "lifecycle.plan",
                LifecycleCmd::Apply { .. } => "lifecycle.apply",
            },
            Command::Review { command } => match command {
                ReviewCmd::List { .. } => "review.list",
                ReviewCmd::Approve { .. } | ReviewCmd::Reject { .. } => "review.decide",
            },
            Command::Audit { command } => match command {
                AuditCmd::Query { .. } => "audit.query",
                AuditCmd::Verify => "audit.verify",
                AuditCmd::Prune { .. } => "audit.prune",
            },
            Command::Status => "store.status",
            Command::Migrate => "store.migrate",
            Command::Repair { .. } => "store.repair",
            Command::Health => "health.check",
            Command::Store { command } => match command {
                StoreCmd::Export { .. } => "store.export",
                StoreCmd::Import { .. } => "store.import",
            },
            Command::Op { operation, .. } => operation,
            Command::Contracts => "service.contracts",
            Command::Serve { .. } => "serve",
            Command::Token { .. } => "token.add",
            Command::Mcp { .. } => "mcp",
            Command::Eval { .. } => "eval.run",
            Command::Demo { .. } => "demo",
        }
    }
}
