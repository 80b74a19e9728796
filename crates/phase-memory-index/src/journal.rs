//! The ids of the documents kept in memory, noted in the index folder
//! (`pending.ids`, not synced): a process that ends without writing them (killed,
//! say) leaves the folder at its last written generation, and the next user
//! catches it up with the nodes named here instead of rebuilding it, even when
//! its store cannot tell what changed before it was opened.
//!
//! The first line names the generation the folder recorded when it was
//! started; each further line one commit kept in memory: its generation and
//! the ids it wrote. A commit to the folder starts it again.

use std::io::Write;
use std::path::Path;

use crate::FullTextIndex;

/// The journal's file in the index folder.
pub(crate) const JOURNAL: &str = "pending.ids";

#[derive(serde::Serialize, serde::Deserialize)]
struct Start {
    from: Option<u64>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    generation: u64,
    ids: Vec<String>,
}

/// Starts the journal again after a commit of the folder at `from`.
pub(crate) fn restart(dir: &Path, from: Option<u64>) -> std::io::Result<()> {
    let line = serde_json::to_string(&Start { from }).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(JOURNAL), format!("{line}\n"))
}

/// Notes a commit kept in memory.
pub(crate) fn note(dir: &Path, generation: u64, ids: Vec<String>) -> std::io::Result<()> {
    let line = serde_json::to_string(&Entry { generation, ids }).map_err(std::io::Error::other)?;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(JOURNAL))?;
    f.write_all(format!("{line}\n").as_bytes())
}

impl FullTextIndex {
    /// The node ids written by the commits kept in memory after the folder's
    /// generation `since` (sorted, unique) and the generation they reach, as a
    /// process that ended without writing them noted them; `None` when there is
    /// no such note for `since` (then the user rebuilds).
    pub fn noted_since(&self, since: u64) -> Option<(Vec<String>, u64)> {
        let dir = self.dir.as_ref()?;
        let text = std::fs::read_to_string(dir.join(JOURNAL)).ok()?;
        let mut lines = text.lines();
        let start: Start = serde_json::from_str(lines.next()?).ok()?;
        if start.from != Some(since) {
            return None;
        }
        let mut ids = std::collections::BTreeSet::new();
        let mut reached = since;
        for line in lines {
            // A torn last line (a process killed mid-write) ends the note.
            let Ok(e) = serde_json::from_str::<Entry>(line) else {
                break;
            };
            if e.generation > reached {
                reached = e.generation;
            }
            ids.extend(e.ids);
        }
        Some((ids.into_iter().collect(), reached))
    }
}
