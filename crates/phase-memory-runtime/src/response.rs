//! The shapes of `data` in each operation's envelope, as Rust types, and how the
//! command line shows each of them to a person. The registry generates the
//! response JSON Schemas (`contracts`, OpenAPI, MCP) and the one-line `data`
//! shapes from these types; a test runs every operation and checks that the data
//! it returns fits its declared shape and reads back into its type. Handlers
//! build their answers from these types (`Outcome::ok_with`), reusing domain
//! types where the wire shape is theirs (`Node`, `Edge`, `Event`, audit records,
//! govern's `Transition`, the activation crate's `ActivatedItem`).
//!
//! One module per operation family; each type's [`Human`] impl sits next to it.

mod activation;
mod audit;
mod govern;
mod graph;
mod store;
mod text;

pub use activation::*;
pub use audit::*;
pub use govern::*;
pub use graph::*;
pub use store::*;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// How the command line shows an answer to a person (`--json` prints the
/// envelope instead).
pub trait Human {
    /// The text; `None` (the default) shows `data` as pretty JSON.
    fn human(&self) -> Option<String> {
        None
    }
}

/// The human text of an envelope's `data`, read back into its response type
/// `T` (`Ok(None)`: the type has no text of its own). An error means `data` is
/// not a `T`, as for a refusal's empty data.
pub fn render<T: DeserializeOwned + Human>(data: &Value) -> Result<Option<String>, String> {
    T::deserialize(data)
        .map(|t| t.human())
        .map_err(|e| e.to_string())
}
