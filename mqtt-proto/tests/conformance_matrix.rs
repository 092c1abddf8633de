//! The conformance matrices (`conformance/v3.1.1.tsv`, `conformance/v5.tsv`) cannot
//! rot: every normative statement of the standards (the TSVs in `shared/spec`)
//! has exactly one row, every row says `test`, `server` or `n/a`, and every test
//! named exists as a `fn` in this crate and cites its id.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Finds `shared/spec` beside the repository (or above it, for a worktree), or in
/// `$MQTT_SPEC_DIR`. Missing specs fail the test: the check must not be skipped.
fn spec_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("MQTT_SPEC_DIR") {
        return PathBuf::from(dir);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in manifest.ancestors() {
        let candidate = dir.join("shared/spec");
        if candidate.join("mqtt-v5.0-normative.tsv").is_file() {
            return candidate;
        }
    }
    panic!(
        "shared/spec not found above {}; set MQTT_SPEC_DIR",
        manifest.display()
    );
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Every Rust source of the crate, concatenated.
fn crate_sources() -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = String::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["src", "tests"] {
        walk(&root.join(dir), &mut out);
    }
    out
}

fn check(matrix: &str, spec: &str, expected_rows: usize) -> HashMap<String, usize> {
    let spec_rows = rows(&spec_dir().join(spec));
    assert_eq!(spec_rows.len(), expected_rows, "{spec}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conformance")
        .join(matrix);
    let header = std::fs::read_to_string(&path).unwrap();
    assert!(
        header.starts_with("id\tsection\tstatus\ttest_or_reason\n"),
        "{matrix}: header"
    );
    let matrix_rows = rows(&path);
    let sources = crate_sources();

    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut counts = HashMap::new();
    let spec_sections: HashMap<&str, &str> = spec_rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    for row in &matrix_rows {
        assert_eq!(row.len(), 4, "{matrix}: {row:?} must have 4 columns");
        let (id, section, status, what) = (&row[0], &row[1], &row[2], &row[3]);
        *seen.entry(id.as_str()).or_default() += 1;
        assert_eq!(
            spec_sections.get(id.as_str()),
            Some(&section.as_str()),
            "{matrix}: {id} unknown or wrong section"
        );
        assert!(
            !what.trim().is_empty(),
            "{matrix}: {id} needs a test name or a reason"
        );
        match status.as_str() {
            "test" => {
                assert!(
                    sources.contains(&format!("fn {what}(")),
                    "{matrix}: {id}: no `fn {what}` in mqtt-proto"
                );
                let digits = id.trim_start_matches("MQTT-").replace(['.', '-'], "_");
                assert!(
                    what.contains(&format!("_{digits}_")),
                    "{matrix}: {id}: test {what} does not cite its id"
                );
            }
            "server" | "n/a" => {}
            other => panic!("{matrix}: {id}: status {other:?} is not test, server or n/a"),
        }
        *counts.entry(status.clone()).or_default() += 1;
    }
    for spec_row in &spec_rows {
        assert_eq!(
            seen.get(spec_row[0].as_str()),
            Some(&1),
            "{matrix}: {} must appear exactly once",
            spec_row[0]
        );
    }
    assert_eq!(
        matrix_rows.len(),
        spec_rows.len(),
        "{matrix}: one row per statement"
    );
    counts
}

#[test]
fn matrix_v311_covers_all_141_statements() {
    let counts = check("v3.1.1.tsv", "mqtt-v3.1.1-normative.tsv", 141);
    assert!(counts["test"] > 0);
}

#[test]
fn matrix_v5_covers_all_251_statements() {
    let counts = check("v5.tsv", "mqtt-v5.0-normative.tsv", 251);
    assert!(counts["test"] > 0);
}
