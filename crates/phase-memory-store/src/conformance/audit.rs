//! The audit chain: appends, prunes behind a checkpoint, restores after one.

use phase_memory_model::AuditCheckpoint;

use super::StoreFactory;
use super::fixtures::*;
use crate::ChangeSet;

pub(super) fn audit_chain(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    let recs = chain_after(s.as_ref(), 3)?;
    commit(
        s.as_mut(),
        ChangeSet {
            audit: recs.clone(),
            ..Default::default()
        },
    )?;
    let back = s.audit_records(0).map_err(|e| e.to_string())?;
    ensure!(back == recs, "audit records differ after round trip");
    let head = s
        .audit_head()
        .map_err(|e| e.to_string())?
        .ok_or("no head")?;
    ensure!(head.seq == 3 && head.hash == recs[2].hash, "audit head");
    ensure!(
        s.audit_records(2).map_err(|e| e.to_string())?.len() == 1,
        "audit_records(after)"
    );
    Ok(())
}

pub(super) fn audit_prune(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    let recs = chain_after(s.as_ref(), 4)?;
    commit(
        s.as_mut(),
        ChangeSet {
            audit: recs.clone(),
            ..Default::default()
        },
    )?;
    let cp = AuditCheckpoint {
        last_pruned_seq: 2,
        last_pruned_hash: recs[1].hash.clone(),
        pruned_at: Some(t(99)),
        pruned_count: 2,
    };
    commit(
        s.as_mut(),
        ChangeSet {
            prune_audit: Some(cp.clone()),
            ..Default::default()
        },
    )?;
    let s = f.reopen(s);
    ensure!(
        s.audit_checkpoint().map_err(|e| e.to_string())? == cp,
        "checkpoint"
    );
    let left = s.audit_records(0).map_err(|e| e.to_string())?;
    ensure!(
        left.len() == 2 && left[0].seq == 3,
        "records after prune {left:?}"
    );
    ensure!(
        phase_memory_model::audit::verify_chain(&cp, &left).is_empty(),
        "chain after prune does not verify"
    );
    Ok(())
}

/// A dump restored into an empty store: a checkpoint and the records after it land
/// in one commit (what `store.import` does when moving a pruned store).
pub(super) fn restore_after_checkpoint(f: &dyn StoreFactory) -> Result<(), String> {
    let mut src = f.create();
    let recs = chain_after(src.as_ref(), 5)?;
    let cp = AuditCheckpoint {
        last_pruned_seq: 3,
        last_pruned_hash: recs[2].hash.clone(),
        pruned_at: Some(t(50)),
        pruned_count: 3,
    };
    let mut dst = f.create();
    commit(
        dst.as_mut(),
        ChangeSet {
            prune_audit: Some(cp.clone()),
            audit: recs[3..].to_vec(),
            ..Default::default()
        },
    )?;
    let dst = f.reopen(dst);
    ensure!(
        dst.audit_checkpoint().map_err(|e| e.to_string())? == cp,
        "checkpoint after restore"
    );
    ensure!(
        dst.audit_records(0).map_err(|e| e.to_string())? == recs[3..].to_vec(),
        "records after restore"
    );
    let head = dst
        .audit_head()
        .map_err(|e| e.to_string())?
        .ok_or("no head")?;
    ensure!(head.seq == 5, "head after restore");
    src.commit(ChangeSet::default())
        .map_err(|e| e.to_string())?;
    Ok(())
}
