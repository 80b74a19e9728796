//! Word-set signatures (SimHash) kept per node instead of bodies.

/// 64-bit SimHash of the distinct lowercased words of title and body (0 when there
/// are none). Deterministic across platforms and Rust versions (FNV-1a + splitmix).
pub fn simhash(title: &str, body: &str) -> u64 {
    let mut hashes: Vec<u64> = Vec::new();
    for text in [title, body] {
        for word in text.split(|c: char| !c.is_alphanumeric()) {
            if word.is_empty() {
                continue;
            }
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for c in word.chars().flat_map(char::to_lowercase) {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
            hashes.push(splitmix(h));
        }
    }
    if hashes.is_empty() {
        return 0;
    }
    hashes.sort_unstable();
    hashes.dedup();
    let mut counts = [0i32; 64];
    for h in &hashes {
        for (bit, c) in counts.iter_mut().enumerate() {
            *c += if (h >> bit) & 1 == 1 { 1 } else { -1 };
        }
    }
    let mut sig = 0u64;
    for (bit, c) in counts.iter().enumerate() {
        if *c > 0 {
            sig |= 1 << bit;
        }
    }
    sig.max(1)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Estimated similarity of two SimHash signatures: `cos(π · hamming / 64)`, an
/// estimate of the cosine similarity of the two word sets. 0 when either is 0.
pub fn signature_similarity(a: u64, b: u64) -> f64 {
    if a == 0 || b == 0 {
        return 0.0;
    }
    let h = f64::from((a ^ b).count_ones());
    (std::f64::consts::PI * h / 64.0).cos()
}
