//! Migration `0002-segmented-layout`: v1 (one file per node, no checksums, no
//! manifest) to v2. Every v2 file is written beside the v1 files under names v1 does
//! not use; writing `manifest.json` switches the store over in one rename, so a crash
//! leaves either the v1 store or the v2 one. Settling then renames the staged logs
//! into place and removes the v1 remains.

use phase_memory_store::{SCHEMA_VERSION, StoreError, StoreResult};

use crate::FileStore;
use crate::commit::{ensure_dir, full_image, settle, write_segment};
use crate::layout::{
    self, LogEntry, Manifest, ProfileEntry, blake3_hex, pretty_json, write_atomic,
};
use crate::record::encode_lines;

/// [`phase_memory_store::Store::migrate`] for the file adapter.
pub(crate) fn migrate(s: &mut FileStore) -> StoreResult<Vec<String>> {
    if s.manifest.is_some() {
        return Ok(Vec::new());
    }
    s.may_write("migration")?;
    match write_v2(s) {
        Ok(m) => {
            let st = s.image_mut()?;
            st.meta = m.meta.clone();
            st.generation = m.generation;
            st.data_generation = m.generation;
            s.manifest = Some(m);
            Ok(vec![layout::MIGRATION_0002.to_string()])
        }
        Err(e) => {
            s.poisoned = true;
            Err(e)
        }
    }
}

fn write_v2(s: &FileStore) -> StoreResult<Manifest> {
    let fs = s.fs.as_ref();
    let dir = s.dir.as_path();
    let st = s.image()?;
    let mut meta = st.meta.clone();
    meta.schema_version = SCHEMA_VERSION;
    meta.planned_migrations
        .retain(|m| m != layout::MIGRATION_0002);
    if !meta
        .applied_migrations
        .iter()
        .any(|m| m == layout::MIGRATION_0002)
    {
        meta.applied_migrations.push(layout::MIGRATION_0002.into());
    }
    let mut m = Manifest::empty(meta);
    m.generation = st.generation + 1;
    m.data_generation = Some(m.generation);
    m.audit_checkpoint = st.checkpoint.clone();

    ensure_dir(fs, &dir.join(layout::SEGMENTS))?;
    let image = full_image(st.nodes.values(), st.edges.values(), st.reviews.values());
    if !image.is_empty() {
        m.segments = vec![write_segment(fs, dir, m.next_segment, &image)?];
        m.next_segment += 1;
    }
    let enc = |e: Result<Vec<u8>, String>| {
        e.map_err(|e| StoreError::Backend(format!("encoding records: {e}")))
    };
    let events = enc(encode_lines(&st.events))?;
    write_atomic(fs, &dir.join(layout::EVENTS_NEXT), &events)?;
    m.events = LogEntry {
        file: layout::EVENTS_NEXT.into(),
        bytes: events.len() as u64,
        lines: st.events.len() as u64,
    };
    let audit = enc(encode_lines(&st.audit))?;
    write_atomic(fs, &dir.join(layout::AUDIT_NEXT), &audit)?;
    m.audit = LogEntry {
        file: layout::AUDIT_NEXT.into(),
        bytes: audit.len() as u64,
        lines: st.audit.len() as u64,
    };
    if let Some(p) = &st.profile {
        let file = layout::profile_name(m.generation);
        write_atomic(fs, &dir.join(&file), p.as_bytes())?;
        m.profile = Some(ProfileEntry {
            file,
            blake3: blake3_hex(p.as_bytes()),
        });
    }
    // The switch: from here on the folder is a v2 store.
    write_atomic(fs, &dir.join(layout::MANIFEST), &pretty_json(&m)?)?;
    // Tidying; a crash here is finished by the next writer open.
    settle(fs, dir, &mut m, false)?;
    Ok(m)
}
