//! Forgetting, erasure receipts and their verification; legal hold.

use phase_memory_govern::{
    ErasureReceipt, GovernError, forget, forget_checked, legal_hold, verify_erasure,
};
use phase_memory_model::Node;
use phase_memory_profile::Profile;
use serde_json::json;

use crate::{node, t};

fn full_node() -> Node {
    let mut x = node("conv-26/D1:3", "episode", "dormant");
    x.title = "Dinner with Sam".into();
    x.body = "Sam said the surprise party is on Friday.".into();
    x.attrs.insert("place".into(), json!("Luigi's"));
    x.labels = vec!["personal".into()];
    x.tokens = 14;
    x
}

#[test]
fn forget_erases_content_and_verifies() {
    let p = Profile::builtin();
    let original = full_node();
    let (gone, receipt) = forget(&p, &original, t("2026-05-01"), "episodes-forgotten");
    assert_eq!((gone.title.as_str(), gone.body.as_str()), ("", ""));
    assert!(gone.attrs.is_empty());
    assert_eq!(gone.tokens, 0);
    assert_eq!(gone.phase, "forgotten");
    assert_eq!(gone.updated_at, t("2026-05-01"));
    assert_eq!(
        (gone.id.as_str(), gone.kind.as_str()),
        ("conv-26/D1:3", "episode")
    );
    assert_eq!(gone.labels, original.labels);
    let tomb = gone.tombstone.clone().expect("tombstone");
    assert_eq!(tomb.content_hash, original.content_hash());
    assert_eq!(tomb.forgotten_at, t("2026-05-01"));
    assert_eq!(tomb.reason, "episodes-forgotten");
    assert_eq!(
        receipt,
        ErasureReceipt {
            node: "conv-26/D1:3".into(),
            kind: "episode".into(),
            content_hash: original.content_hash(),
            erased_at: t("2026-05-01"),
            reason: "episodes-forgotten".into(),
            erased_fields: vec!["attrs".into(), "body".into(), "title".into()],
        }
    );
    assert!(receipt.matches_content(&original));
    assert!(!receipt.matches_content(&gone));
    assert_eq!(verify_erasure(&receipt, Some(&gone)), Ok(()));
    // The receipt never carries content.
    let wire = serde_json::to_string(&receipt).unwrap_or_default();
    assert!(!wire.contains("Sam") && !wire.contains("Luigi"), "{wire}");
}

#[test]
fn verify_erasure_fails_after_tampering() {
    let p = Profile::builtin();
    let original = full_node();
    let (gone, receipt) = forget(&p, &original, t("2026-05-01"), "review-7");
    let check = |node: Option<&Node>, receipt: &ErasureReceipt, want: &str| {
        let err = verify_erasure(receipt, node).expect_err(want);
        assert!(err.contains(want), "{err} should mention {want}");
        assert!(!err.contains("Sam said"), "{err}");
    };
    check(None, &receipt, "missing");
    let mut restored = gone.clone();
    restored.body = original.body.clone();
    check(Some(&restored), &receipt, "body");
    let mut restored = gone.clone();
    restored.attrs = original.attrs.clone();
    check(Some(&restored), &receipt, "attrs");
    let mut untombed = gone.clone();
    untombed.tombstone = None;
    check(Some(&untombed), &receipt, "no tombstone");
    let mut rehashed = gone.clone();
    if let Some(t) = &mut rehashed.tombstone {
        t.content_hash = "blake3:00".into();
    }
    check(Some(&rehashed), &receipt, "content hash");
    let mut forged = receipt.clone();
    forged.reason = "nobody".into();
    check(Some(&gone), &forged, "reason");
    let mut forged = receipt.clone();
    forged.erased_at = t("2026-05-02");
    check(Some(&gone), &forged, "forgotten at");
    let mut forged = receipt.clone();
    forged.kind = "fact".into();
    check(Some(&gone), &forged, "kind");
    let other = node("other", "episode", "forgotten");
    check(Some(&other), &receipt, "not");
}

#[test]
fn forgetting_twice_keeps_the_first_tombstone() {
    let p = Profile::builtin();
    let (gone, first) = forget(&p, &full_node(), t("2026-05-01"), "rule-a");
    let (again, second) = forget(&p, &gone, t("2026-06-01"), "rule-b");
    assert_eq!(again, gone);
    assert_eq!(first, second);
}

#[test]
fn legal_hold_refuses_forgetting() {
    let p = Profile::builtin();
    let mut x = full_node();
    assert!(!legal_hold(&p, &x));
    assert!(forget_checked(&p, &x, t("2026-05-01"), "r").is_ok());
    x.labels.push("legal-hold".into());
    assert!(legal_hold(&p, &x));
    assert_eq!(
        forget_checked(&p, &x, t("2026-05-01"), "r").map(|_| ()),
        Err(GovernError::LegalHold {
            node: "conv-26/D1:3".into(),
            label: "legal-hold".into()
        })
    );
}

#[test]
fn wire_shapes() {
    let p = Profile::builtin();
    let (_, receipt) = forget(&p, &full_node(), t("2026-05-01"), "review-7");
    insta::assert_json_snapshot!("erasure_receipt", receipt);
}
