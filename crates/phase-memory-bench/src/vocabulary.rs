//! The generator's vocabulary: a few thousand pronounceable made-up words, ranked,
//! sampled with a Zipf distribution (rank r has weight 1/r^s), like the words of
//! real text. Node text and benchmark cues both come from here, so cues hit the
//! index the way real queries would: common words often, rare words seldom.

use crate::rng::Rng;

const ONSETS: [&str; 20] = [
    "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "st",
    "tr",
];
const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ai"];
const CODAS: [&str; 6] = ["", "n", "r", "s", "l", "nd"];

/// A ranked vocabulary with its Zipf cumulative distribution.
#[derive(Clone, Debug)]
pub struct Vocabulary {
    words: Vec<String>,
    cdf: Vec<f64>,
}

impl Vocabulary {
    /// `size` distinct words (at least 1) with Zipf exponent `exponent` (1.0 is
    /// the classic law of natural text).
    pub fn new(size: usize, exponent: f64) -> Vocabulary {
        let size = size.max(1);
        let syllables: Vec<String> = ONSETS
            .iter()
            .flat_map(|o| {
                VOWELS
                    .iter()
                    .flat_map(move |v| CODAS.iter().map(move |c| format!("{o}{v}{c}")))
            })
            .collect();
        let mut words = Vec::with_capacity(size);
        let mut seen = std::collections::HashSet::with_capacity(size);
        // Short words first (they get the top ranks, as in real text), then longer.
        let mut rng = Rng::new(0x0b0c_ab01);
        let mut syllable_count = 1u64;
        let mut attempts = 0u64;
        while words.len() < size {
            let mut w = String::new();
            for _ in 0..syllable_count {
                w.push_str(&syllables[rng.below(syllables.len() as u64) as usize]);
            }
            if w.len() >= 2 && seen.insert(w.clone()) {
                words.push(w);
            }
            attempts += 1;
            if attempts > 40 * syllable_count * syllable_count * 60 {
                syllable_count += 1;
                attempts = 0;
            }
        }
        let mut cdf = Vec::with_capacity(size);
        let mut acc = 0.0;
        for r in 1..=size {
            acc += 1.0 / (r as f64).powf(exponent);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Vocabulary { words, cdf }
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the vocabulary is empty (never, by construction).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The word of rank `rank` (0-based), clamped to the vocabulary.
    pub fn word(&self, rank: usize) -> &str {
        &self.words[rank.min(self.words.len() - 1)]
    }

    /// A Zipf-distributed rank.
    pub fn sample_rank(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf
            .partition_point(|c| *c < u)
            .min(self.words.len() - 1)
    }

    /// A Zipf-distributed word.
    pub fn sample<'a>(&'a self, rng: &mut Rng) -> &'a str {
        self.word(self.sample_rank(rng))
    }

    /// `n` Zipf-distributed words separated by spaces (a benchmark cue).
    pub fn phrase(&self, rng: &mut Rng, n: usize) -> String {
        let mut s = String::new();
        for k in 0..n {
            if k > 0 {
                s.push(' ');
            }
            s.push_str(self.sample(rng));
        }
        s
    }
}
