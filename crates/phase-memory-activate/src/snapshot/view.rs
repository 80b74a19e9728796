//! [`NodeView`]: one node of a snapshot, read by the policy filter.

use phase_memory_model::Time;

use super::Snapshot;

/// A read-only view of one node of a [`Snapshot`], given to the policy filter.
#[derive(Clone, Copy)]
pub struct NodeView<'a> {
    pub(super) snap: &'a Snapshot,
    pub(super) index: u32,
}

impl std::fmt::Debug for NodeView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeView")
            .field("id", &self.id())
            .field("kind", &self.kind())
            .field("phase", &self.phase())
            .finish_non_exhaustive()
    }
}

/// The policy-relevant attributes of a node of one snapshot
/// ([`NodeView::policy_key`]), cheap to hash and compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PolicyKey<'a> {
    kind: u32,
    phase: u32,
    sensitivity: u32,
    scope: u32,
    labels: &'a [u32],
}

impl<'a> NodeView<'a> {
    /// Index in the snapshot.
    pub fn index(&self) -> u32 {
        self.index
    }
    /// Node id.
    pub fn id(&self) -> &'a str {
        self.snap.id(self.index)
    }
    /// Kind.
    pub fn kind(&self) -> &'a str {
        self.snap.kind_name(self.index)
    }
    /// Phase.
    pub fn phase(&self) -> &'a str {
        self.snap.phase_name(self.index)
    }
    /// Sensitivity level.
    pub fn sensitivity(&self) -> &'a str {
        &self.snap.dict.sensitivities.names[self.snap.sensitivity[self.index as usize] as usize]
    }
    /// Scope.
    pub fn scope(&self) -> &'a str {
        &self.snap.dict.scopes.names[self.snap.scope[self.index as usize] as usize]
    }
    /// Labels (sorted by first appearance in the snapshot, deduplicated).
    pub fn labels(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        let snap = self.snap;
        snap.labels
            .get(self.index as usize)
            .iter()
            .map(move |&l| snap.dict.labels.names[l as usize].as_str())
    }
    /// What a policy decision about the node reads (kind, phase, sensitivity,
    /// scope and labels), as this snapshot's interned numbers: two views of one
    /// snapshot with equal keys are alike for policy, so a caller may decide once
    /// per key. Keys of different snapshots must not be compared.
    pub fn policy_key(&self) -> PolicyKey<'a> {
        let snap = self.snap;
        let i = self.index as usize;
        PolicyKey {
            kind: snap.kind[i],
            phase: snap.phase[i],
            sensitivity: snap.sensitivity[i],
            scope: snap.scope[i],
            labels: snap.labels.get(i),
        }
    }
    /// The node's policy class: two views of one snapshot with the same class
    /// have equal [`NodeView::policy_key`]s, so a caller may decide policy
    /// once per class (a number below [`Snapshot::policy_class_count`]) and
    /// look the decision up by it. Classes of different snapshots must not be
    /// compared.
    pub fn policy_class(&self) -> u32 {
        self.snap.policy_class[self.index as usize] & super::classes::bits::CLASS
    }
    /// Whether the node carries a label.
    pub fn has_label(&self, label: &str) -> bool {
        self.labels().any(|l| l == label)
    }
    /// Title.
    pub fn title(&self) -> &'a str {
        self.snap.title(self.index)
    }
    /// Token count.
    pub fn tokens(&self) -> u32 {
        self.snap.tokens_of(self.index)
    }
    /// When it was created.
    pub fn created_at(&self) -> Time {
        Time(self.snap.created_at[self.index as usize])
    }
    /// Start of validity, if any.
    pub fn valid_from(&self) -> Option<Time> {
        let t = self.snap.valid_from[self.index as usize];
        (t != i64::MIN).then_some(Time(t))
    }
    /// End of validity (exclusive), if any.
    pub fn valid_to(&self) -> Option<Time> {
        let t = self.snap.valid_to[self.index as usize];
        (t != i64::MAX).then_some(Time(t))
    }
}
