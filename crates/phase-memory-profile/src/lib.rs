//! Profiles: the declarative TOML document that configures a store — node kinds,
//! edge types, phases, lifecycle rules, activation parameters, policy and admission
//! rules, sensitivity levels, retention, tokenizer and package settings — parsed and
//! validated into a [`Profile`]. Pure: parsing takes text, never a path.

mod semantic;
mod types;
mod validate;

pub use types::*;
pub use validate::{BUILTIN_PATTERNS, OPERATION_FAMILIES, ProfileError, ProfileProblem};

use phase_memory_model::digest_value;

/// The built-in default profile's TOML source.
pub const DEFAULT_PROFILE_TOML: &str = include_str!("default.toml");

impl Profile {
    /// Parses and validates a profile. `origin` names the file in diagnostics.
    pub fn parse(source: &str, origin: &str) -> Result<Profile, ProfileError> {
        validate::parse_and_validate(source, origin)
    }

    /// The built-in default profile.
    pub fn builtin() -> Profile {
        match Profile::parse(DEFAULT_PROFILE_TOML, "<built-in default profile>") {
            Ok(p) => p,
            // The built-in profile is tested; reaching this is a build defect.
            Err(e) => panic!("built-in profile is invalid: {e}"),
        }
    }

    /// `blake3:<hex>` of the canonical JSON of the validated profile: two sources
    /// that mean the same thing (comments, key order) have the same digest.
    pub fn digest(&self) -> String {
        digest_value(&serde_json::to_value(self).unwrap_or_default())
    }

    /// The phase spec by name.
    pub fn phase(&self, name: &str) -> Option<&PhaseSpec> {
        self.phases.iter().find(|p| p.name == name)
    }

    /// Index of a phase in the declared order.
    pub fn phase_index(&self, name: &str) -> Option<usize> {
        self.phases.iter().position(|p| p.name == name)
    }

    /// Activation weight of a phase (0 for unknown phases).
    pub fn phase_weight(&self, name: &str) -> f64 {
        self.phase(name).map(|p| p.activation_weight).unwrap_or(0.0)
    }

    /// The name of the terminal forgetting phase, if declared.
    pub fn forgotten_phase(&self) -> Option<&str> {
        self.phases
            .iter()
            .find(|p| p.purge)
            .map(|p| p.name.as_str())
    }

    /// The JSON Schema of the profile document, generated from the Rust types.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Profile)).unwrap_or_default()
    }
}
