//! The tokens file: hashes only, constant-time lookup, a missing file means none.

use phase_memory_model::Actor;
use phase_memory_server::tokens::{TOKEN_PREFIX, TokenStore, add_token, hash_token};

use crate::actor;

#[test]
fn only_the_hash_of_a_token_is_stored() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("sub/tokens.json");
    let alice = actor("alice", &["member"], &["default"]);
    let token = add_token(&file, &alice).expect("add");
    assert!(token.starts_with(TOKEN_PREFIX));
    assert_eq!(token.len(), TOKEN_PREFIX.len() + 64);
    let text = std::fs::read_to_string(&file).expect("file");
    assert!(!text.contains(&token));
    assert!(!text.contains(token.trim_start_matches(TOKEN_PREFIX)));
    assert!(text.contains(&hash_token(&token)));
    let second = add_token(&file, &Actor::owner()).expect("add");
    assert_ne!(token, second);
    let store = TokenStore::load(&file).expect("load");
    assert_eq!(store.len(), 2);
    assert_eq!(store.authenticate(&token), Some(alice));
    assert_eq!(store.authenticate(&second), Some(Actor::owner()));
    assert_eq!(store.authenticate("pmt_nope"), None);
    assert_eq!(store.authenticate(""), None);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o077, 0, "tokens file readable by others: {mode:o}");
    }
}

#[test]
fn a_missing_file_means_no_tokens_and_a_malformed_one_is_an_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = TokenStore::load(&dir.path().join("none.json")).expect("load");
    assert!(store.is_empty());
    assert!(!store.file_exists());
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{not json").expect("write");
    assert!(TokenStore::load(&bad).is_err());
    std::fs::write(&bad, r#"{"format":"phase-memory-tokens/v1","tokens":[{"hash":"blake3:zz","actor":{"id":"a"},"created_at":"x"}]}"#).expect("write");
    assert!(TokenStore::load(&bad).is_err());
}
