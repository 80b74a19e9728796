//! Human-readable rendering of envelopes: tables for lists, key facts for the rest.
//! Diagnostics go to stderr, coloured when stderr is a terminal.

use std::fmt::Write;
use std::io::IsTerminal;

use phase_memory_model::{Envelope, Severity, Status};
use serde_json::Value;

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() => format!("{f:.4}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.chars().count().min(60));
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c: String = c.chars().take(60).collect();
                format!("{c:<width$}", width = w[i])
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let _ = writeln!(
        out,
        "{}",
        line(headers.iter().map(|h| h.to_uppercase()).collect())
    );
    for r in rows {
        let _ = writeln!(out, "{}", line(r.clone()));
    }
    out.trim_end().to_string()
}

/// The score terms and the path of each explained item.
fn explain_table(items: &[&Value]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|it| {
            let e = &it["explain"];
            let sources = e["seed_sources"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| format!("{} {}", s(&x["kind"]), s(&x["value"])))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let path = e["path"]
                .as_array()
                .map(|a| a.iter().map(s).collect::<Vec<_>>().join(" -> "))
                .unwrap_or_default();
            vec![
                s(&it["node"]),
                s(&it["score"]),
                s(&e["seed"]),
                sources,
                s(&e["spread"]),
                s(&e["base_level"]),
                s(&e["phase_weight"]),
                s(&e["redundancy_penalty"]),
                path,
            ]
        })
        .collect();
    format!(
        "why (score terms per item):\n{}",
        table(
            &[
                "node",
                "score",
                "seed",
                "seed sources",
                "spread",
                "base level",
                "phase w",
                "redundancy",
                "path",
            ],
            &rows,
        )
    )
}

/// `store.status` as key facts.
fn status_text(d: &Value) -> String {
    let c = &d["counts"];
    let pending = d["pending_migrations"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0);
    let rows = vec![
        vec!["adapter".into(), s(&d["adapter"])],
        vec!["location".into(), s(&d["location"])],
        vec![
            "schema".into(),
            format!(
                "v{} (binary v{}){}",
                s(&d["schema_version"]),
                s(&d["current_schema_version"]),
                if pending > 0 {
                    format!(", {pending} migration(s) pending: run `phase-memory migrate`")
                } else {
                    String::new()
                }
            ),
        ],
        vec!["created".into(), s(&d["created_at"])],
        vec![
            "profile".into(),
            format!(
                "{} ({})",
                s(&d["profile"]["name"]),
                short(&d["profile"]["digest"])
            ),
        ],
        vec!["nodes".into(), s(&c["nodes"])],
        vec!["edges".into(), s(&c["edges"])],
        vec!["events".into(), s(&c["events"])],
        vec!["audit records".into(), s(&c["audit_records"])],
        vec!["reviews pending".into(), s(&c["reviews_pending"])],
        vec![
            "audit head".into(),
            if d["audit"]["head"].is_object() {
                format!(
                    "seq {} {}",
                    s(&d["audit"]["head"]["seq"]),
                    short(&d["audit"]["head"]["hash"])
                )
            } else {
                "none".into()
            },
        ],
        vec![
            "retention".into(),
            format!(
                "audit {} days, reviews expire after {} days",
                s(&d["retention"]["audit_days"]),
                s(&d["retention"]["review_expiry_days"])
            ),
        ],
    ];
    table(&["", ""], &rows)
        .lines()
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `health.check` as a checklist.
fn health_text(d: &Value) -> String {
    let mark = |ok: bool| if ok { "ok" } else { "FAIL" };
    let pending = d["pending_migrations"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0);
    let fresh = d["index"]["fresh"] == Value::Bool(true);
    let caps = d["adapter"]["capabilities"]
        .as_array()
        .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    let rows = vec![
        vec![
            "store".into(),
            "ok".into(),
            format!("{} adapter", s(&d["adapter"]["name"])),
        ],
        vec![
            "schema".into(),
            mark(pending == 0).into(),
            format!(
                "v{} of v{}{}",
                s(&d["schema_version"]),
                s(&d["current_schema_version"]),
                if pending > 0 {
                    format!(", {pending} pending")
                } else {
                    String::new()
                }
            ),
        ],
        vec![
            "index".into(),
            mark(fresh).into(),
            format!(
                "{} documents, generation {} of {}",
                s(&d["index"]["documents"]),
                s(&d["index"]["generation"]),
                s(&d["index"]["store_generation"])
            ),
        ],
        vec![
            "audit head".into(),
            "ok".into(),
            if d["audit_head"].is_object() {
                format!(
                    "seq {} {}",
                    s(&d["audit_head"]["seq"]),
                    short(&d["audit_head"]["hash"])
                )
            } else {
                "empty".into()
            },
        ],
        vec![
            "profile".into(),
            "ok".into(),
            format!(
                "{} ({})",
                s(&d["profile"]["name"]),
                short(&d["profile"]["digest"])
            ),
        ],
        vec!["capabilities".into(), String::new(), caps],
    ];
    format!(
        "{}\n\nhealth: {}",
        table(&["check", "", "detail"], &rows),
        if d["ok"] == Value::Bool(true) {
            "ok"
        } else {
            "NOT OK (see diagnostics)"
        }
    )
}

/// The first 12 characters of a digest or hash.
fn short(v: &Value) -> String {
    let t = s(v);
    let t = t.split_once(':').map(|(_, h)| h.to_string()).unwrap_or(t);
    t.chars().take(12).collect()
}

/// The `activation.run` rendering.
fn activation(d: &Value, operation: &str) -> String {
    let rows: Vec<Vec<String>> = d["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .enumerate()
                .map(|(i, it)| {
                    vec![
                        (i + 1).to_string(),
                        s(&it["score"]),
                        s(&it["tokens"]),
                        s(&it["kind"]),
                        s(&it["phase"]),
                        s(&it["node"]),
                        s(&it["title"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let mut o = table(
        &["#", "score", "tokens", "kind", "phase", "node", "title"],
        &rows,
    );
    let explained: Vec<&Value> = d["items"]
        .as_array()
        .map(|a| a.iter().filter(|it| it.get("explain").is_some()).collect())
        .unwrap_or_default();
    if !explained.is_empty() {
        o.push_str("\n\n");
        o.push_str(&explain_table(&explained));
    }
    let _ = write!(
        o,
        "\n\nbudget {}/{} tokens, {} considered, {} withheld by policy",
        s(&d["budget"]["used"]),
        s(&d["budget"]["limit"]),
        s(&d["considered"]),
        s(&d["withheld"]["count"])
    );
    if operation == "package.compile" {
        let _ = write!(o, "\npackage {} written to {}", s(&d["id"]), s(&d["out"]));
    }
    o
}

/// The `lifecycle.plan` rendering.
fn lifecycle_plan(d: &Value) -> String {
    let rows: Vec<Vec<String>> = d["transitions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| {
                    vec![
                        s(&t["node"]),
                        s(&t["from"]),
                        s(&t["to"]),
                        s(&t["rule_id"]),
                        if t["review"] == Value::Bool(true) {
                            "yes".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{}\n\n{} transition(s) at {}",
        table(&["node", "from", "to", "rule", "review"], &rows),
        rows.len(),
        s(&d["as_of"])
    )
}

/// The `review.list` rendering.
fn review_list(d: &Value) -> String {
    let rows: Vec<Vec<String>> = d["reviews"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    vec![
                        s(&r["id"]),
                        s(&r["status"]),
                        s(&r["operation"]),
                        s(&r["requested_by"]),
                        r["subjects"]
                            .as_array()
                            .map(|x| x.iter().map(s).collect::<Vec<_>>().join(","))
                            .unwrap_or_default(),
                        s(&r["reason"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    table(
        &[
            "id",
            "status",
            "operation",
            "requested by",
            "subjects",
            "reason",
        ],
        &rows,
    )
}

/// The `audit.query` rendering.
fn audit_query(d: &Value) -> String {
    let rows: Vec<Vec<String>> = d["records"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    vec![
                        s(&r["seq"]),
                        s(&r["at"]),
                        s(&r["actor"]),
                        s(&r["operation"]),
                        s(&r["status"]),
                        s(&r["decision"]),
                        s(&r["rule_id"]),
                        r["subjects"]
                            .as_array()
                            .map(|x| x.iter().map(s).collect::<Vec<_>>().join(","))
                            .unwrap_or_default(),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{}\n\nretention: {} days; checkpoint at seq {}",
        table(
            &[
                "seq",
                "at",
                "actor",
                "operation",
                "status",
                "decision",
                "rule",
                "subjects"
            ],
            &rows
        ),
        s(&d["retention"]["audit_days"]),
        s(&d["retention"]["checkpoint"]["last_pruned_seq"])
    )
}

/// The `audit.verify` rendering.
fn audit_verify(d: &Value) -> String {
    if d["ok"] == Value::Bool(true) {
        format!(
            "audit chain ok: {} record(s), {} erasure receipt(s) checked",
            s(&d["records"]),
            s(&d["receipts_checked"])
        )
    } else {
        "audit chain BROKEN (see diagnostics)".to_string()
    }
}

/// The `store.repair` rendering.
fn store_repair(d: &Value) -> String {
    let rows: Vec<Vec<String>> = d["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| vec![s(&f["code"]), s(&f["location"]), s(&f["message"])])
                .collect()
        })
        .unwrap_or_default();
    if rows.is_empty() {
        "store is clean: nothing to repair".into()
    } else {
        table(&["code", "location", "message"], &rows)
    }
}

/// The `eval.run` rendering.
fn eval_report(d: &Value) -> String {
    let rows: Vec<Vec<String>> = d["families"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    vec![
                        s(&f["family"]),
                        format!("{}/{}", s(&f["passed"]), s(&f["scenarios"])),
                        format!(
                            "{} / {} / {}",
                            s(&f["activation"]["recall_at_k"]),
                            s(&f["bm25"]["recall_at_k"]),
                            s(&f["recency"]["recall_at_k"])
                        ),
                        format!(
                            "{} / {} / {}",
                            s(&f["activation"]["ndcg_at_k"]),
                            s(&f["bm25"]["ndcg_at_k"]),
                            s(&f["recency"]["ndcg_at_k"])
                        ),
                        s(&f["activation"]["mrr"]),
                        s(&f["budget_adherence"]),
                        s(&f["policy_leaks"]),
                        s(&f["latency_p99_ms"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let mut failed = Vec::new();
    for sc in d["scenarios"].as_array().into_iter().flatten() {
        for g in sc["gates"].as_array().into_iter().flatten() {
            if g["passed"] == Value::Bool(false) {
                failed.push(format!(
                    "  FAILED {} {}: {} (threshold {})",
                    s(&sc["path"]),
                    s(&g["gate"]),
                    s(&g["value"]),
                    s(&g["threshold"])
                ));
            }
        }
    }
    let mut o = table(
        &[
            "family",
            "passed",
            "recall@k act/bm25/rec",
            "nDCG@k act/bm25/rec",
            "MRR",
            "budget",
            "leaks",
            "p99 ms",
        ],
        &rows,
    );
    if failed.is_empty() {
        o.push_str("\n\nevery gate passed");
    } else {
        o.push_str(&format!("\n\n{}", failed.join("\n")));
    }
    o
}

/// The `node.get` rendering.
fn node_text(d: &Value) -> String {
    let n = &d["node"];
    format!(
        "{} [{} / {} / {}] scope {} sensitivity {}\n{}\n\n{}",
        s(&n["id"]),
        s(&n["kind"]),
        s(&n["phase"]),
        s(&n["tokens"]),
        s(&n["scope"]),
        s(&n["sensitivity"]),
        s(&n["title"]),
        s(&n["body"])
    )
}

/// (stdout, stderr) renderings of an envelope.
pub fn human(env: &Envelope) -> (String, String) {
    let d = &env.data;
    let out = match (env.status, env.operation.as_str()) {
        (Status::Ok, "activation.run") | (Status::Ok, "package.compile") => {
            activation(d, &env.operation)
        }
        (Status::Ok, "lifecycle.plan") => lifecycle_plan(d),
        (_, "lifecycle.apply") if d.is_object() => format!(
            "applied {} transition(s); {} held for review",
            d["applied"].as_array().map(|a| a.len()).unwrap_or(0),
            d["reviews"].as_array().map(|a| a.len()).unwrap_or(0)
        ),
        (Status::Ok, "review.list") => review_list(d),
        (Status::Ok, "audit.query") => audit_query(d),
        (_, "audit.verify") if d.is_object() => audit_verify(d),
        (Status::Ok, "graph.export") if d.get("jsonl").is_some() => {
            s(&d["jsonl"]).trim_end().to_string()
        }
        (Status::Ok, "store.repair") => store_repair(d),
        (_, "eval.run") if d.get("families").is_some() => eval_report(d),
        (Status::Ok, "store.status") => status_text(d),
        (_, "health.check") if d.is_object() => health_text(d),
        (Status::Ok, "node.get") => node_text(d),
        (Status::Ok, _) => serde_json::to_string_pretty(d).unwrap_or_default(),
        _ => String::new(),
    };
    let color = std::io::stderr().is_terminal();
    let paint = |code: &str, t: &str| {
        if color {
            format!("\x1b[{code}m{t}\x1b[0m")
        } else {
            t.to_string()
        }
    };
    let mut err = String::new();
    if env.status != Status::Ok {
        let _ = writeln!(
            err,
            "{}: {}",
            paint("1;31", env.status.as_str()),
            env.operation
        );
    }
    for diag in &env.diagnostics {
        let (c, label) = match diag.severity {
            Severity::Error => ("31", "error"),
            Severity::Warning => ("33", "warning"),
            Severity::Info => ("36", "info"),
        };
        let at = diag
            .path
            .as_ref()
            .map(|p| format!(" at {p}"))
            .unwrap_or_default();
        let _ = writeln!(
            err,
            "{}[{}]{at}: {}",
            paint(c, label),
            diag.code,
            diag.message
        );
    }
    if env.status == Status::ReviewRequired
        && let Some(r) = env.data.get("review")
    {
        let _ = writeln!(
            err,
            "review {} created: a second actor approves it with `phase-memory review approve {}`",
            s(r),
            s(r)
        );
    }
    (out, err.trim_end().to_string())
}
