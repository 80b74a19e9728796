//! The Rust embeddings against sentence-transformers' own (reference vectors in
//! `tests/reference.json`, computed once with the Python package on the same model
//! files), and determinism across thread counts. The model is installed with the
//! repository's script; these tests never skip.

use phase_memory_embed::{DIMENSIONS, EmbedError, Embedder, dot, testing::ensure_model};
use serde_json::Value;

fn reference() -> (Vec<String>, Vec<Vec<f32>>) {
    let raw = include_str!("reference.json");
    let v: Value = serde_json::from_str(raw).expect("reference.json");
    let sentences = v["sentences"]
        .as_array()
        .expect("sentences")
        .iter()
        .map(|s| s.as_str().expect("sentence").to_string())
        .collect();
    let vectors = v["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .map(|r| {
            r.as_array()
                .expect("vector")
                .iter()
                .map(|x| x.as_f64().expect("number") as f32)
                .collect()
        })
        .collect();
    (sentences, vectors)
}

#[test]
fn vectors_match_sentence_transformers() {
    let e = Embedder::load(&ensure_model()).expect("model loads");
    let (sentences, want) = reference();
    assert_eq!(sentences.len(), 4);
    for (s, w) in sentences.iter().zip(&want) {
        let got = e.embed_one(s).expect("embed");
        assert_eq!(got.len(), DIMENSIONS);
        let norm = dot(&got, &got).sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{s:?}: norm {norm}");
        let cos = dot(&got, w) / dot(w, w).sqrt();
        assert!(cos >= 0.9999, "{s:?}: cosine with the reference {cos}");
        let worst = got
            .iter()
            .zip(w)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 2e-4, "{s:?}: largest component difference {worst}");
    }
    // Two values of the reference, by hand: similar texts are close, others not.
    let v: Vec<Vec<f32>> = sentences
        .iter()
        .map(|s| e.embed_one(s).expect("embed"))
        .collect();
    assert!((dot(&v[0], &v[1]) - (-0.066_586)).abs() < 1e-4);
    assert!((dot(&v[1], &v[2]) - 0.119_061).abs() < 1e-4);
    assert!((v[0][0] - 0.134_177).abs() < 1e-4);
}

#[test]
fn a_vector_does_not_depend_on_threads_or_on_other_texts() {
    let e = Embedder::load(&ensure_model()).expect("model loads");
    let text = "We walked up the mountain trail and camped by the lake on Saturday.";
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| e.embed_one(text).expect("embed"))
    };
    let one = on(1);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
    assert_eq!(bits(&on(2)), bits(&one));
    assert_eq!(bits(&on(4)), bits(&one));
    let many = e
        .embed(&["something else entirely", text, "a third"])
        .expect("embed");
    assert_eq!(bits(&many[1]), bits(&one));
}

#[test]
fn a_missing_model_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = Embedder::load(dir.path()).expect_err("no model there");
    assert!(matches!(e, EmbedError::NotInstalled { .. }));
    let m = e.to_string();
    assert!(m.contains("scripts/install-model.sh"), "{m}");
    assert!(m.contains("PHASE_MEMORY_MODEL_DIR"), "{m}");
    assert!(m.contains("config.json"), "{m}");
    // A folder with garbage files: a load error naming the file, no panic.
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::write(dir.path().join(f), b"not a model").expect("write");
    }
    let e = Embedder::load(dir.path()).expect_err("garbage");
    assert!(e.to_string().contains("config.json"), "{e}");
}
