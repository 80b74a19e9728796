//! Benchmarks for phase-memory (SPEC section 9): a reproducible generator of
//! synthetic stores in the interchange format ([`generate`]), the Zipf vocabulary
//! their text and the benchmark cues come from ([`vocabulary`]), a small seeded
//! random source ([`rng`]) and process measurements ([`measure`]).
//!
//! The binaries are `pm-gen` (writes a store file) and `pm-bench` (runs the
//! scenarios and prints a JSON report); `docs/benchmarks.md` shows how to run them.

pub mod generate;
pub mod measure;
pub mod rng;
pub mod vocabulary;

pub use generate::{GenerationSummary, GeneratorConfig, generate_file, node_id, write_interchange};
pub use measure::{Latencies, Machine};
pub use rng::Rng;
pub use vocabulary::Vocabulary;
