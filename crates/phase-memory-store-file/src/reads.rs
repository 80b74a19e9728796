//! The read traits of the file adapter. A handle with its whole image answers
//! from it; a lazy handle answers `node`, `edges_of`, `node_count`, `event_head`,
//! the events of the last commits (`tail.rs`),
//! `audit_head`, `audit_checkpoint` and the last audit record without it, and
//! loads the image on the first read that needs more.

use phase_memory_model::{AuditCheckpoint, AuditRecord, AuditRef, Edge, Event, Node, Review};
use phase_memory_store::{
    AuditStore, EventQuery, EventStore, GraphStore, ReviewStore, StoreResult,
};

use crate::FileStore;

impl GraphStore for FileStore {
    fn node(&self, id: &str) -> StoreResult<Option<Node>> {
        if let Some(answer) = self.lazy().and_then(|l| l.node(id)) {
            return Ok(answer);
        }
        GraphStore::node(self.image()?, id)
    }
    fn for_each_node(&self, f: &mut dyn FnMut(&Node)) -> StoreResult<()> {
        GraphStore::for_each_node(self.image()?, f)
    }
    fn node_count(&self) -> StoreResult<usize> {
        match self.lazy() {
            Some(l) => Ok(l.node_count()),
            None => GraphStore::node_count(self.image()?),
        }
    }
    fn for_each_edge(&self, f: &mut dyn FnMut(&Edge)) -> StoreResult<()> {
        GraphStore::for_each_edge(self.image()?, f)
    }
    fn edge_count(&self) -> StoreResult<usize> {
        GraphStore::edge_count(self.image()?)
    }
    fn edges_of(&self, id: &str) -> StoreResult<Vec<Edge>> {
        if let Some(answer) = self.lazy().and_then(|l| l.edges_of(id)) {
            return Ok(answer);
        }
        GraphStore::edges_of(self.image()?, id)
    }
}

impl EventStore for FileStore {
    fn events(&self, q: &EventQuery) -> StoreResult<Vec<Event>> {
        if let Some(l) = self.lazy() {
            if q.after_seq >= l.event_head {
                return Ok(Vec::new());
            }
            // The events of the last few commits: read back from the log's end.
            if let (Some(f), Some(m)) = (&l.pins.events, &self.manifest)
                && let Some(events) = crate::tail::events_after(f, m.events.bytes, l.event_head, q)
            {
                return Ok(events);
            }
        }
        EventStore::events(self.image()?, q)
    }
    fn for_each_event(&self, f: &mut dyn FnMut(&Event)) -> StoreResult<()> {
        EventStore::for_each_event(self.image()?, f)
    }
    fn event_head(&self) -> StoreResult<u64> {
        match self.lazy() {
            Some(l) => Ok(l.event_head),
            None => EventStore::event_head(self.image()?),
        }
    }
}

impl AuditStore for FileStore {
    fn audit_records(&self, after_seq: u64) -> StoreResult<Vec<AuditRecord>> {
        if let Some(l) = self.lazy() {
            // The chain's last record (what a new record's time follows) or
            // nothing at all are answered without the image.
            match &l.audit_tail {
                Some(r) if after_seq >= r.seq => return Ok(Vec::new()),
                Some(r) if after_seq + 1 == r.seq => return Ok(vec![r.clone()]),
                None if self.manifest.is_some() => return Ok(Vec::new()),
                _ => {}
            }
        }
        AuditStore::audit_records(self.image()?, after_seq)
    }
    fn audit_head(&self) -> StoreResult<Option<AuditRef>> {
        match (self.lazy(), &self.manifest) {
            (Some(l), Some(m)) => Ok(match &l.audit_tail {
                Some(r) => Some(AuditRef {
                    seq: r.seq,
                    hash: r.hash.clone(),
                }),
                None if m.audit_checkpoint.last_pruned_seq > 0 => Some(AuditRef {
                    seq: m.audit_checkpoint.last_pruned_seq,
                    hash: m.audit_checkpoint.last_pruned_hash.clone(),
                }),
                None => None,
            }),
            _ => AuditStore::audit_head(self.image()?),
        }
    }
    fn audit_checkpoint(&self) -> StoreResult<AuditCheckpoint> {
        match (self.lazy(), &self.manifest) {
            (Some(_), Some(m)) => Ok(m.audit_checkpoint.clone()),
            _ => AuditStore::audit_checkpoint(self.image()?),
        }
    }
}

impl ReviewStore for FileStore {
    fn review(&self, id: &str) -> StoreResult<Option<Review>> {
        ReviewStore::review(self.image()?, id)
    }
    fn reviews(&self) -> StoreResult<Vec<Review>> {
        ReviewStore::reviews(self.image()?)
    }
}
