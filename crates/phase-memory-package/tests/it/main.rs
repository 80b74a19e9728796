//! Integration tests of Markitect packages: determinism, snapshots, path safety,
//! YAML/CommonMark validity, verification of folders and archives.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use phase_memory_model::{Node, Time};
use phase_memory_package::escape::fold_line;
use phase_memory_package::naming::{assign_item_paths, is_safe_relative_path, item_path};
use phase_memory_package::render::heading_text;
use phase_memory_package::{
    Package, PackageError, PackageInput, PackageItem, VerifyReport, disk::tar_bytes, render,
    verify, verify_files, write_dir, write_tar,
};
use proptest::prelude::*;
use pulldown_cmark::{Event, MetadataBlockKind, Options, Parser, Tag, TagEnd};
use serde_json::json;

// ---------------------------------------------------------------- fixtures

fn t(s: &str) -> Time {
    s.parse().expect("test timestamp")
}

fn node(id: &str, kind: &str, title: &str, body: &str, labels: &[&str]) -> Node {
    Node {
        id: id.into(),
        kind: kind.into(),
        phase: "active".into(),
        title: title.into(),
        body: body.into(),
        labels: labels.iter().map(|l| l.to_string()).collect(),
        scope: "default".into(),
        sensitivity: "internal".into(),
        attrs: BTreeMap::new(),
        created_at: t("2026-01-01T00:00:00Z"),
        updated_at: t("2026-01-01T00:00:00Z"),
        valid_from: None,
        valid_to: None,
        tokens: 10,
        tombstone: None,
        implicit_time: false,
    }
}

fn item(node: Node, score: f64, tokens: u32) -> PackageItem {
    PackageItem {
        node,
        score,
        tokens,
    }
}

fn input_with(items: Vec<PackageItem>) -> PackageInput {
    let used = items.iter().map(|i| u64::from(i.tokens)).sum();
    PackageInput {
        title: "Working memory".into(),
        cue: json!({"text": "what is the capital of France?", "nodes": ["n1"], "hints": [{"node": "n2", "score": 0.8}]}),
        as_of: t("2026-02-01T12:00:00Z"),
        profile_digest: "blake3:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
            .into(),
        budget_limit: 2000,
        budget_used: used,
        items,
        withheld_count: 2,
        withheld_rules: BTreeMap::from([("deny-secret".to_string(), 2)]),
        store: "file:2026-01-01T00:00:00Z".into(),
        audit_seq: 42,
        audit_hash: "blake3:ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
            .into(),
    }
}

fn sample() -> PackageInput {
    input_with(vec![
        item(
            node(
                "n1",
                "fact",
                "Paris",
                "Paris is the capital of France.",
                &["geo"],
            ),
            0.912_345_678,
            12,
        ),
        item(
            node(
                "conv-26/D1:3",
                "episode",
                "Alice *decided* [to go]",
                "We met on Tuesday.\r\n\r\n---\n\nShe chose Paris.",
                &["people", "travel"],
            ),
            0.5,
            20,
        ),
        item(node("Ünïcode", "note", "", "", &[]), 0.25, 3),
    ])
}

/// Every file under `dir`, relative path → bytes.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .expect("list dir")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).expect("under base");
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.insert(rel, fs::read(&p).expect("read file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn text(pkg: &Package, path: &str) -> String {
    String::from_utf8(pkg.files.get(path).expect("file in package").clone()).expect("utf-8")
}

fn codes(report: &VerifyReport) -> Vec<(String, String)> {
    report
        .problems
        .iter()
        .map(|p| (p.code.clone(), p.path.clone()))
        .collect()
}

// ---------------------------------------------------------------- determinism

#[test]
fn rendering_writing_and_archiving_are_byte_identical() {
    let a = render(&sample());
    let b = render(&sample());
    assert_eq!(a, b);

    let tmp = tempfile::tempdir().expect("tempdir");
    write_dir(&a, &tmp.path().join("one")).expect("write one");
    write_dir(&b, &tmp.path().join("two")).expect("write two");
    let one = read_tree(&tmp.path().join("one"));
    assert_eq!(one, read_tree(&tmp.path().join("two")));
    assert_eq!(one, a.files);

    write_tar(&a, &tmp.path().join("one.tar")).expect("tar one");
    write_tar(&b, &tmp.path().join("two.tar")).expect("tar two");
    let ta = fs::read(tmp.path().join("one.tar")).expect("read tar");
    assert_eq!(ta, fs::read(tmp.path().join("two.tar")).expect("read tar"));
    assert_eq!(ta, tar_bytes(&a).expect("tar bytes"));
}

#[test]
fn tar_entries_are_sorted_and_anonymous() {
    let pkg = render(&sample());
    let bytes = tar_bytes(&pkg).expect("tar");
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut names = Vec::new();
    for entry in archive.entries().expect("entries") {
        let entry = entry.expect("entry");
        let h = entry.header();
        assert_eq!(h.mtime().expect("mtime"), 0);
        assert_eq!(h.uid().expect("uid"), 0);
        assert_eq!(h.gid().expect("gid"), 0);
        assert_eq!(h.username().expect("username"), Some(""));
        assert_eq!(h.groupname().expect("groupname"), Some(""));
        let mode = h.mode().expect("mode");
        if h.entry_type().is_dir() {
            assert_eq!(mode, 0o755);
        } else {
            assert_eq!(mode, 0o644);
        }
        let mut name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if h.entry_type().is_dir() && !name.ends_with('/') {
            name.push('/');
        }
        names.push(name);
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        names, sorted,
        "entries sorted, folders before their contents"
    );
    assert_eq!(names.first().map(String::as_str), Some("index.md"));
    assert_eq!(names.last().map(String::as_str), Some("package.json"));
    assert!(names.iter().any(|n| n == "items/"));
}

#[test]
fn the_id_covers_every_file_and_is_in_the_manifest() {
    let pkg = render(&sample());
    let manifest: serde_json::Value =
        serde_json::from_slice(&pkg.files["package.json"]).expect("manifest json");
    assert_eq!(manifest["id"], json!(pkg.id));
    assert_eq!(manifest["format"], json!("markitect-package/1"));
    assert_eq!(
        phase_memory_package::manifest_id(&manifest),
        pkg.id,
        "id = hash of the manifest without its id"
    );
    // Any change of input changes the id.
    let mut other = sample();
    other.items[0].node.body.push('!');
    assert_ne!(render(&other).id, pkg.id);
}

// ---------------------------------------------------------------- snapshots

#[test]
fn snapshot_of_a_small_package() {
    let pkg = render(&sample());
    insta::assert_snapshot!("package_json", text(&pkg, "package.json"));
    insta::assert_snapshot!("index_md", text(&pkg, "index.md"));
    let episode = item_path("episode", "conv-26/D1:3");
    insta::assert_snapshot!("item_episode", text(&pkg, &episode));
}

// ---------------------------------------------------------------- path safety

const NASTY: &[&str] = &[
    "../x",
    "conv-26/D1:3",
    "Ünïcode",
    "CON",
    "con",
    "a/../../b",
    "/etc/passwd",
    "..",
    ".",
    "C:\\Windows\\x",
    "nul.txt",
    "   ",
    "-",
    "items",
    "index.md",
    "package.json",
    "\u{202e}gpj.exe",
    "a\u{0}b",
];

#[test]
fn no_id_or_kind_writes_outside_the_package_folder() {
    let mut items = Vec::new();
    for (i, id) in NASTY.iter().enumerate() {
        let kind = NASTY[(i + 3) % NASTY.len()];
        items.push(item(
            node(id, kind, id, id, &[id]),
            1.0 / (i as f64 + 1.0),
            1,
        ));
        items.push(item(node(id, "fact", id, "", &[]), 0.1, 1));
    }
    let pkg = render(&input_with(items));
    assert_eq!(pkg.files.len(), NASTY.len() * 2 + 2, "one file per item");

    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    fs::create_dir(&root).expect("root");
    let dest = root.join("pkg");
    write_dir(&pkg, &dest).expect("write");
    write_tar(&pkg, &root.join("pkg.tar")).expect("tar");

    let mut siblings: Vec<String> = fs::read_dir(&root)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    siblings.sort();
    assert_eq!(
        siblings,
        vec!["pkg", "pkg.tar"],
        "nothing beside the package"
    );

    let canon = dest.canonicalize().expect("canonical dest");
    let tree = read_tree(&dest);
    assert_eq!(tree.len(), pkg.files.len());
    for rel in tree.keys() {
        assert!(is_safe_relative_path(rel), "{rel}");
        let full: PathBuf = dest.join(rel).canonicalize().expect("canonical file");
        assert!(full.starts_with(&canon), "{} escapes", full.display());
        assert!(
            rel.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-./".contains(&b)),
            "{rel} is not plain lowercase ASCII"
        );
    }
    for id in NASTY {
        let p = item_path("fact", id);
        let stem = p.rsplit('/').next().expect("file name");
        assert!(!stem.starts_with('.') && !stem.starts_with('-'), "{p}");
    }
    let report = verify(&root.join("pkg.tar")).expect("verify tar");
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn reserved_and_case_variant_kinds_get_distinct_folders() {
    assert_eq!(item_path("fact", "n1").split('/').nth(1), Some("fact"));
    let fact = item_path("Fact", "n1");
    assert_ne!(fact, item_path("fact", "n1"));
    assert!(item_path("CON", "x").starts_with("items/con-"));
    let paths = assign_item_paths(&[("fact", "A"), ("fact", "a"), ("fact", "a")]);
    assert_eq!(paths.len(), 3);
    assert!(paths[0] != paths[1] && paths[1] != paths[2] && paths[0] != paths[2]);
}

#[test]
fn a_repeated_id_never_overwrites_a_file() {
    let items = vec![
        item(node("n1", "fact", "first", "one", &[]), 0.9, 1),
        item(node("n1", "fact", "second", "two", &[]), 0.8, 1),
    ];
    let pkg = render(&input_with(items));
    assert_eq!(pkg.files.len(), 4);
    let tmp = tempfile::tempdir().expect("tempdir");
    write_tar(&pkg, &tmp.path().join("p.tar")).expect("tar");
    assert!(verify(&tmp.path().join("p.tar")).expect("verify").is_ok());
}

proptest! {
    #[test]
    fn item_paths_are_always_safe(id in "\\PC{1,80}", kind in "\\PC{0,40}") {
        let p = item_path(&kind, &id);
        prop_assert!(is_safe_relative_path(&p));
        prop_assert!(p.starts_with("items/") && p.ends_with(".md"));
        prop_assert_eq!(p.split('/').count(), 3);
        prop_assert!(p.len() <= 6 + 69 + 1 + 72);
    }
}

// ---------------------------------------------------------------- YAML / CommonMark

/// Splits an item file with pulldown-cmark: the YAML metadata block, then the
/// text of the first heading.
fn parse_item(md: &str) -> (String, String) {
    let opts = Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
    let mut events = Parser::new_ext(md, opts);
    assert_eq!(
        events.next(),
        Some(Event::Start(Tag::MetadataBlock(
            MetadataBlockKind::YamlStyle
        ))),
        "item must open with front matter:\n{md}"
    );
    let mut yaml = String::new();
    for ev in events.by_ref() {
        match ev {
            Event::Text(t) => yaml.push_str(&t),
            Event::End(TagEnd::MetadataBlock(_)) => break,
            other => panic!("unexpected {other:?} in front matter"),
        }
    }
    match events.next() {
        Some(Event::Start(Tag::Heading { .. })) => {}
        other => panic!("expected the title heading, got {other:?}"),
    }
    let mut heading = String::new();
    for ev in events.by_ref() {
        match ev {
            Event::Text(t) => heading.push_str(&t),
            Event::End(TagEnd::Heading(_)) => break,
            other => panic!("unexpected {other:?} in heading"),
        }
    }
    for _ in events {}
    (yaml, heading)
}

fn yaml_doc(yaml: &str) -> yaml_rust2::Yaml {
    let mut docs = yaml_rust2::YamlLoader::load_from_str(yaml)
        .unwrap_or_else(|e| panic!("invalid YAML {e}:\n{yaml}"));
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

fn check_item_file(pkg: &Package, path: &str, it: &PackageItem) -> Result<(), TestCaseError> {
    let md = text(pkg, path);
    let (yaml, heading) = parse_item(&md);
    let doc = yaml_doc(&yaml);
    prop_assert_eq!(doc["id"].as_str(), Some(it.node.id.as_str()));
    prop_assert_eq!(doc["kind"].as_str(), Some(it.node.kind.as_str()));
    prop_assert_eq!(doc["phase"].as_str(), Some(it.node.phase.as_str()));
    prop_assert_eq!(doc["title"].as_str(), Some(it.node.title.as_str()));
    let labels: Vec<&str> = doc["labels"]
        .as_vec()
        .expect("labels list")
        .iter()
        .map(|l| l.as_str().expect("label string"))
        .collect();
    let want: Vec<&str> = it.node.labels.iter().map(String::as_str).collect();
    prop_assert_eq!(labels, want);
    let score = doc["score"].as_f64().expect("score float");
    prop_assert!((score - phase_memory_model::round_score(it.score)).abs() < 1e-9);
    prop_assert_eq!(doc["tokens"].as_i64(), Some(i64::from(it.tokens)));
    prop_assert_eq!(heading, fold_line(heading_text(&it.node)));
    Ok(())
}

/// The index: its H1 reads as the title and each item line links to its file.
fn check_index(pkg: &Package, input: &PackageInput) -> Result<(), TestCaseError> {
    let md = text(pkg, "index.md");
    let mut links = Vec::new();
    let mut h1 = None;
    let mut in_h1 = false;
    let mut h1_text = String::new();
    for ev in Parser::new(&md) {
        match ev {
            Event::Start(Tag::Link { dest_url, .. }) => links.push(dest_url.to_string()),
            Event::Start(Tag::Heading {
                level: pulldown_cmark::HeadingLevel::H1,
                ..
            }) => in_h1 = true,
            Event::Text(t) if in_h1 => h1_text.push_str(&t),
            Event::End(TagEnd::Heading(_)) if in_h1 => {
                in_h1 = false;
                h1 = Some(std::mem::take(&mut h1_text));
            }
            _ => {}
        }
    }
    let want_title = if fold_line(&input.title).is_empty() {
        "Markitect package".to_string()
    } else {
        fold_line(&input.title)
    };
    prop_assert_eq!(h1, Some(want_title));
    let manifest: serde_json::Value =
        serde_json::from_slice(&pkg.files["package.json"]).expect("manifest");
    let paths: Vec<String> = manifest["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["path"].as_str().expect("path").to_string())
        .collect();
    prop_assert_eq!(links, paths);
    Ok(())
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        ".{0,40}",
        "[-#*_`\\[\\]()<>!&|~:\"'\\\\\n\r\t ]{0,30}",
        Just("---".to_string()),
        Just("---\ntitle: evil\n---".to_string()),
        Just("```\nunclosed".to_string()),
        Just("<!-- open".to_string()),
        Just("\u{85}\u{2028}\u{feff}\u{fffe}\u{0}\u{7f}".to_string()),
    ]
}

fn arb_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{1,60}",
        "[./:a-zA-Z0-9-]{1,20}",
        Just("../x".to_string())
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn front_matter_is_valid_yaml_and_markdown_is_commonmark(
        title in arb_text(),
        body in arb_text(),
        labels in prop::collection::vec(arb_text(), 0..4),
        id in arb_id(),
        kind in arb_id(),
        phase in arb_text(),
        pkg_title in arb_text(),
        cue_text in arb_text(),
        score in -10.0f64..10.0,
    ) {
        let mut n = node(&id, &kind, &title, &body, &[]);
        n.labels = labels;
        n.phase = phase;
        let mut input = input_with(vec![item(n, score, 7)]);
        input.title = pkg_title;
        input.cue = json!({"text": cue_text, "nodes": [id]});
        let pkg = render(&input);
        let path = item_path(&kind, &id);
        check_item_file(&pkg, &path, &input.items[0])?;
        check_index(&pkg, &input)?;
        let report = verify_files(&pkg.files);
        prop_assert!(report.is_ok(), "{:?}", report.problems);
    }
}

#[test]
fn a_body_cannot_break_the_front_matter() {
    let body = "---\nid: \"evil\"\n---\n\n# Not the title";
    let it = item(node("n1", "fact", "Real", body, &["a"]), 0.5, 1);
    let pkg = render(&input_with(vec![it.clone()]));
    let md = text(&pkg, &item_path("fact", "n1"));
    let (yaml, heading) = parse_item(&md);
    assert_eq!(yaml_doc(&yaml)["id"].as_str(), Some("n1"));
    assert_eq!(heading, "Real");
    assert!(md.ends_with("# Not the title\n"));
}

// ---------------------------------------------------------------- verify

fn tamper(
    edit: impl FnOnce(&mut BTreeMap<String, Vec<u8>>, &str),
) -> (VerifyReport, VerifyReport, String) {
    let pkg = render(&sample());
    let target = item_path("fact", "n1");
    let mut files = pkg.files.clone();
    edit(&mut files, &target);
    let in_memory = verify_files(&files);

    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("pkg");
    write_dir(&pkg, &dir).expect("write");
    // Apply the same edit on disk.
    for rel in pkg.files.keys() {
        if !files.contains_key(rel) {
            fs::remove_file(dir.join(rel)).expect("remove");
        }
    }
    for (rel, bytes) in &files {
        let full = dir.join(rel);
        fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        fs::write(full, bytes).expect("write");
    }
    let on_disk = verify(&dir).expect("verify dir");
    (in_memory, on_disk, target)
}

#[test]
fn verify_accepts_an_untouched_package() {
    let pkg = render(&sample());
    let report = verify_files(&pkg.files);
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.id, pkg.id);
    assert_eq!(report.items, 3);
}

#[test]
fn verify_detects_an_edited_item() {
    let (mem, disk, target) = tamper(|f, t| {
        if let Some(bytes) = f.get_mut(t) {
            bytes.extend_from_slice(b"edited\n");
        }
    });
    for r in [mem, disk] {
        assert_eq!(
            codes(&r),
            vec![("package.hash_mismatch".into(), target.clone())]
        );
    }
}

#[test]
fn verify_detects_a_missing_item() {
    let (mem, disk, target) = tamper(|f, t| {
        f.remove(t);
    });
    for r in [mem, disk] {
        assert_eq!(codes(&r), vec![("package.invalid".into(), target.clone())]);
        assert!(r.problems[0].message.contains("missing"));
    }
}

#[test]
fn verify_detects_an_extra_unlisted_file() {
    let (mem, disk, _) = tamper(|f, _| {
        f.insert("items/fact/sneaky.md".into(), b"# hi\n".to_vec());
    });
    for r in [mem, disk] {
        assert_eq!(
            codes(&r),
            vec![("package.invalid".into(), "items/fact/sneaky.md".into())]
        );
    }
}

#[test]
fn verify_detects_an_edited_manifest() {
    let (mem, disk, _) = tamper(|f, _| {
        let text = String::from_utf8(f["package.json"].clone()).expect("utf-8");
        let edited = text.replace("\"used\": 35", "\"used\": 1");
        assert_ne!(edited, text);
        f.insert("package.json".into(), edited.into_bytes());
    });
    for r in [mem, disk] {
        assert_eq!(
            codes(&r),
            vec![("package.hash_mismatch".into(), "package.json".into())]
        );
    }
}

#[test]
fn verify_detects_an_edited_index_and_a_rehashed_item() {
    let (mem, _, _) = tamper(|f, _| {
        if let Some(b) = f.get_mut("index.md") {
            b.push(b'x');
        }
    });
    assert_eq!(
        codes(&mem),
        vec![("package.hash_mismatch".into(), "index.md".into())]
    );

    // Editing an item and its recorded hash still breaks the id.
    let pkg = render(&sample());
    let target = item_path("fact", "n1");
    let mut files = pkg.files.clone();
    let old = phase_memory_model::content_hash(&files[&target]);
    files.get_mut(&target).expect("item").push(b'x');
    let new = phase_memory_model::content_hash(&files[&target]);
    let manifest = String::from_utf8(files["package.json"].clone())
        .expect("utf-8")
        .replace(&old, &new);
    files.insert("package.json".into(), manifest.into_bytes());
    let r = verify_files(&files);
    assert_eq!(
        codes(&r),
        vec![("package.hash_mismatch".into(), "package.json".into())]
    );
}

#[test]
fn verify_reports_a_missing_or_broken_manifest() {
    let pkg = render(&sample());
    let mut files = pkg.files.clone();
    files.remove("package.json");
    assert_eq!(
        codes(&verify_files(&files)),
        vec![("package.invalid".into(), "package.json".into())]
    );
    files.insert("package.json".into(), b"{not json".to_vec());
    let r = verify_files(&files);
    assert_eq!(
        codes(&r),
        vec![("package.invalid".into(), "package.json".into())]
    );
    assert!(r.problems[0].message.contains("line 1"));
}

#[test]
fn verify_checks_archives() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pkg = render(&sample());
    let good = tmp.path().join("good.tar");
    write_tar(&pkg, &good).expect("tar");
    let report = verify(&good).expect("verify");
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.id, pkg.id);

    // An archive with an edited item.
    let target = item_path("fact", "n1");
    let mut edited = pkg.clone();
    edited.files.get_mut(&target).expect("item").push(b'!');
    let bad = tmp.path().join("bad.tar");
    write_tar(&edited, &bad).expect("tar");
    assert_eq!(
        codes(&verify(&bad).expect("verify")),
        vec![("package.hash_mismatch".into(), target)]
    );

    // An archive with an entry that climbs out of the package.
    let mut bytes = tar_bytes(&pkg).expect("tar");
    bytes.truncate(bytes.len() - 1024); // drop the end-of-archive blocks
    let mut builder = tar::Builder::new(bytes);
    let mut header = tar::Header::new_ustar();
    header.as_old_mut().name[..8].copy_from_slice(b"../evil\0");
    header.set_size(1);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append(&header, &b"x"[..]).expect("append");
    let evil = tmp.path().join("evil.tar");
    fs::write(&evil, builder.into_inner().expect("finish")).expect("write");
    assert_eq!(
        codes(&verify(&evil).expect("verify")),
        vec![("package.invalid".into(), "../evil".into())]
    );

    // Garbage is reported, not a panic.
    let junk = tmp.path().join("junk.tar");
    fs::write(&junk, vec![7u8; 1536]).expect("write");
    let r = verify(&junk).expect("verify");
    assert!(!r.is_ok());
    assert!(r.problems.iter().all(|p| p.code == "package.invalid"));

    // A path that does not exist is an error.
    assert!(matches!(
        verify(&tmp.path().join("nope")),
        Err(PackageError::NotFound(_))
    ));
}

// ---------------------------------------------------------------- write_dir

#[test]
fn write_dir_replaces_a_package_and_refuses_anything_else() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join("out");
    let first = render(&sample());
    write_dir(&first, &dest).expect("first write");

    let mut other = sample();
    other.items.truncate(1);
    let second = render(&other);
    write_dir(&second, &dest).expect("replace");
    assert_eq!(read_tree(&dest), second.files, "old items are gone");
    let names: Vec<_> = fs::read_dir(tmp.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out")], "no leftovers");

    // An empty folder is fine.
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).expect("mkdir");
    write_dir(&first, &empty).expect("into empty");
    assert!(verify(&empty).expect("verify").is_ok());

    // A folder with other content is refused and untouched.
    let busy = tmp.path().join("busy");
    fs::create_dir(&busy).expect("mkdir");
    fs::write(busy.join("notes.txt"), "mine").expect("write");
    let err = write_dir(&first, &busy).expect_err("must refuse");
    assert!(matches!(err, PackageError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("busy"));
    assert_eq!(fs::read(busy.join("notes.txt")).expect("kept"), b"mine");

    // A package folder with a stray file is refused too.
    fs::write(dest.join("stray.txt"), "x").expect("write");
    assert!(matches!(
        write_dir(&first, &dest),
        Err(PackageError::Refused { .. })
    ));

    // A file is refused.
    let file = tmp.path().join("file");
    fs::write(&file, "x").expect("write");
    assert!(matches!(
        write_dir(&first, &file),
        Err(PackageError::Refused { .. })
    ));
}

#[test]
fn write_refuses_unsafe_paths() {
    let mut pkg = render(&sample());
    pkg.files.insert("../evil.md".into(), b"x".to_vec());
    let tmp = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        write_dir(&pkg, &tmp.path().join("p")),
        Err(PackageError::Invalid(_))
    ));
    assert!(matches!(
        write_tar(&pkg, &tmp.path().join("p.tar")),
        Err(PackageError::Invalid(_))
    ));
    assert!(!tmp.path().join("evil.md").exists());
    assert_eq!(fs::read_dir(tmp.path()).expect("list").count(), 0);
}
