//! The one response shape of every operation (SPEC section 2).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical::{canonical_json_of_entries, canonical_json_pretty_of_entries, content_hash};
use crate::diagnostic::{Diagnostic, Severity, Status};

/// The envelope format version.
pub const ENVELOPE_VERSION: &str = "phase-memory/v1";

/// Where the operation landed in the audit chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditRef {
    /// Seq of the audit record.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

/// The envelope. Serialize it with [`Envelope::to_json`] (canonical: sorted keys,
/// rounded floats) so the same state, request and clock give the same bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Envelope {
    /// Always [`ENVELOPE_VERSION`].
    pub envelope: String,
    /// Operation name, e.g. `activation.run`.
    pub operation: String,
    /// Outcome.
    pub status: Status,
    /// Given by the caller, or derived from the request digest.
    pub request_id: String,
    /// Digest of the active profile.
    pub profile_digest: String,
    /// Operation-specific data.
    pub data: Value,
    /// Findings, in the order they were made.
    pub diagnostics: Vec<Diagnostic>,
    /// The audit record of this operation, when one was written.
    pub audit: Option<AuditRef>,
}

impl Envelope {
    /// A new envelope.
    pub fn new(operation: &str, status: Status, request_id: &str, profile_digest: &str) -> Self {
        Envelope {
            envelope: ENVELOPE_VERSION.to_string(),
            operation: operation.to_string(),
            status,
            request_id: request_id.to_string(),
            profile_digest: profile_digest.to_string(),
            data: Value::Object(Default::default()),
            diagnostics: Vec::new(),
            audit: None,
        }
    }

    /// The envelope as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Canonical pretty JSON (what `--json` prints).
    pub fn to_json(&self) -> String {
        self.with_entries(true, canonical_json_pretty_of_entries)
    }

    /// Canonical compact JSON.
    pub fn to_json_compact(&self) -> String {
        self.with_entries(true, canonical_json_of_entries)
    }

    /// Digest of the envelope without its audit field (what the audit record stores).
    pub fn digest_without_audit(&self) -> String {
        content_hash(
            self.with_entries(false, canonical_json_of_entries)
                .as_bytes(),
        )
    }

    /// Calls `f` with the fields of [`Envelope::to_value`]'s object (without
    /// `audit` unless `audit`), the data by reference: an activation's data is
    /// most of an envelope, and is written without being copied.
    fn with_entries<R>(&self, audit: bool, f: impl FnOnce(&mut [(&str, &Value)]) -> R) -> R {
        let text = |s: &str| Value::String(s.to_string());
        let status = serde_json::to_value(self.status).unwrap_or(Value::Null);
        let diagnostics = serde_json::to_value(&self.diagnostics).unwrap_or(Value::Null);
        let audit_ref = serde_json::to_value(&self.audit).unwrap_or(Value::Null);
        let (envelope, operation) = (text(&self.envelope), text(&self.operation));
        let (request_id, profile_digest) = (text(&self.request_id), text(&self.profile_digest));
        let mut entries = vec![
            ("envelope", &envelope),
            ("operation", &operation),
            ("status", &status),
            ("request_id", &request_id),
            ("profile_digest", &profile_digest),
            ("data", &self.data),
            ("diagnostics", &diagnostics),
        ];
        if audit {
            entries.push(("audit", &audit_ref));
        }
        f(&mut entries)
    }

    /// CLI exit code of this envelope.
    pub fn exit_code(&self) -> i32 {
        self.status.exit_code()
    }

    /// Whether any diagnostic has this code.
    pub fn has_code(&self, code: &str) -> bool {
        self.diagnostics.iter().any(|d| d.code == code)
    }

    /// The first error diagnostic, if any.
    pub fn first_error(&self) -> Option<&Diagnostic> {
        self.diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
    }
}
