//! `activation.run`, `package.compile`, `package.verify`.

use std::collections::BTreeMap;
use std::fmt::Write;

use phase_memory_activate::activate::{ActivatedItem, WorkingSet};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Human;
use super::text::{num, opt, table, wire};

/// Token budget of an activation.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Budget {
    /// The budget asked for.
    pub limit: u64,
    /// Tokens used by the returned items (never above `limit`).
    pub used: u64,
}

/// What policy withheld: counts per rule, never ids.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Withheld {
    /// How many nodes were withheld.
    pub count: u64,
    /// Per rule id.
    pub rules: BTreeMap<String, u64>,
}

/// `activation.run`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Activation {
    /// Items in descending score, ties by node id.
    pub items: Vec<ActivatedItem>,
    /// Budget.
    pub budget: Budget,
    /// Withheld by policy.
    pub withheld: Withheld,
    /// Candidates considered.
    pub considered: u64,
    /// Candidates that did not fit the budget.
    pub not_fitted: u64,
}

impl Activation {
    /// The answer for a working set; score terms and paths only with `explain`.
    pub fn of(set: &WorkingSet, explain: bool) -> Self {
        let items = set
            .items
            .iter()
            .map(|i| ActivatedItem {
                explain: if explain { i.explain.clone() } else { None },
                ..i.clone()
            })
            .collect();
        Activation {
            items,
            budget: Budget {
                limit: set.budget_limit,
                used: set.budget_used,
            },
            withheld: Withheld {
                count: set.withheld_count,
                rules: set.withheld.clone(),
            },
            considered: set.considered,
            not_fitted: set.not_fitted,
        }
    }
}

/// `package.compile`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Compile {
    /// Items packaged.
    pub items: Vec<ActivatedItem>,
    /// Budget.
    pub budget: Budget,
    /// Withheld by policy.
    pub withheld: Withheld,
    /// Candidates considered.
    pub considered: u64,
    /// Candidates that did not fit.
    pub not_fitted: u64,
    /// Where the package was written (absent when it is returned inline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<String>,
    /// The package's files by relative path, when no `out` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contents: Option<BTreeMap<String, String>>,
    /// Package id (BLAKE3 of the contents).
    pub id: String,
    /// Written as a .tar.
    pub archive: bool,
    /// Number of files.
    pub files: u64,
}

/// A package problem.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct PackageProblem {
    /// `package.hash_mismatch` or `package.invalid`.
    pub code: String,
    /// File inside the package.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// `package.verify`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct PackageVerify {
    /// Package id.
    pub id: String,
    /// Items.
    pub items: u64,
    /// Problems found.
    pub problems: Vec<PackageProblem>,
    /// No problems.
    pub ok: bool,
}

/// The ranked items, the score terms of explained ones, and the budget line.
fn working_set_text(
    items: &[ActivatedItem],
    budget: &Budget,
    considered: u64,
    withheld: u64,
) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            vec![
                (i + 1).to_string(),
                num(it.score),
                it.tokens.to_string(),
                it.kind.clone(),
                it.phase.clone(),
                it.node.clone(),
                it.title.clone(),
            ]
        })
        .collect();
    let mut o = table(
        &["#", "score", "tokens", "kind", "phase", "node", "title"],
        &rows,
    );
    if items.iter().any(|it| it.explain.is_some()) {
        o.push_str("\n\n");
        o.push_str(&explain_table(items));
    }
    let _ = write!(
        o,
        "\n\nbudget {}/{} tokens, {considered} considered, {withheld} withheld by policy",
        budget.used, budget.limit
    );
    o
}

/// The score terms and the path of each explained item.
fn explain_table(items: &[ActivatedItem]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .filter_map(|it| Some((it, it.explain.as_ref()?)))
        .map(|(it, e)| {
            let sources = e
                .seed_sources
                .iter()
                .map(|x| format!("{} {}", wire(&x.kind), num(x.value)))
                .collect::<Vec<_>>()
                .join(", ");
            vec![
                it.node.clone(),
                num(it.score),
                num(e.seed),
                sources,
                num(e.spread),
                opt(e.base_level.map(num)),
                num(e.phase_weight),
                num(e.redundancy_penalty),
                e.path.join(" -> "),
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

impl Human for Activation {
    fn human(&self) -> Option<String> {
        Some(working_set_text(
            &self.items,
            &self.budget,
            self.considered,
            self.withheld.count,
        ))
    }
}

impl Human for Compile {
    fn human(&self) -> Option<String> {
        let mut o = working_set_text(
            &self.items,
            &self.budget,
            self.considered,
            self.withheld.count,
        );
        let _ = write!(
            o,
            "\npackage {} written to {}",
            self.id,
            self.out.as_deref().unwrap_or_default()
        );
        Some(o)
    }
}

impl Human for PackageVerify {}
