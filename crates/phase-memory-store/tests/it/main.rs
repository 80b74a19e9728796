//! The conformance suite against the in-memory reference adapter.

use phase_memory_model::Time;
use phase_memory_store::conformance::{self, Outcome, StoreFactory};
use phase_memory_store::{MemoryStore, Store};

struct Memory;

impl StoreFactory for Memory {
    fn create(&self) -> Box<dyn Store> {
        Box::new(MemoryStore::new(Time::from_millis(0)))
    }
    fn reopen(&self, store: Box<dyn Store>) -> Box<dyn Store> {
        store
    }
}

#[test]
fn memory_adapter_conforms() {
    conformance::assert_conforms(&Memory);
}

#[test]
fn skipped_checks_state_their_reason() {
    let results = conformance::run(&Memory);
    let durable = results
        .iter()
        .find(|(n, _)| *n == "durable_reopen")
        .map(|(_, o)| o.clone());
    assert_eq!(
        durable,
        Some(Outcome::Skipped(
            "adapter memory lacks capability durable".into()
        ))
    );
}
