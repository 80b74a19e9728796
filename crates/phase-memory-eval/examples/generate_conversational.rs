//! Writes the `conversational` evaluation family (fixtures/eval/conversational/)
//! from the seeded generator: `cargo run -p phase-memory-eval --example generate_conversational`.

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args().nth(1).map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/eval/conversational"
            ))
        },
        PathBuf::from,
    );
    let written = phase_memory_eval::conversation::write_fixtures(
        &dir,
        phase_memory_eval::conversation::SEED,
    )?;
    for s in written {
        println!("{}/{}", dir.display(), s.dir);
    }
    Ok(())
}
