//! The conformance matrices (`conformance/v3.1.1.tsv`, `conformance/v5.tsv`) cannot
//! rot: every normative statement of the standards (the TSVs in `shared/spec`)
//! has exactly one row, every row says `test`, `server`, `n/a` or `untested`, and
//! every test named exists, runs under plain `cargo test --workspace` and cites its id.
//!
//! The last column of a row depends on its status:
//! - `test`: the name of a `#[test]` `fn` (not ignored) in this crate (`src/`,
//!   `tests/`) whose name holds the id's digits (`MQTT-3.1.2-4` → `..._3_1_2_4_...`).
//! - `server`: a broker behaviour, checked by a test of the server, named
//!   `path::fn_name` with `path` relative to the workspace root and inside
//!   `realtime-server/src/`, `realtime-server/tests/`, `tests/src/` or `tests/tests/`
//!   (for example `tests/tests/mqtt_conformance/connect.rs::mqtt_3_1_0_2_second_connect`).
//!   The `fn` must exist in that file, carry a `#[test]` or `#[tokio::test]`
//!   attribute and no `#[ignore]`, be compiled by plain `cargo test` (its file is
//!   not behind the `interop` feature and, in a multi-file test binary, is a `mod`
//!   of its `main.rs`), and its doc comment or body must cite the id exactly
//!   (`MQTT-3.1.2-4`, not a range such as `MQTT-3.1.2-4..6`) and for the matrix's
//!   version: the ids of the two standards overlap with different meanings, so a
//!   citation after a `3.1.1` label does not count for `v5.tsv`, nor one after a
//!   `5.0` label for `v3.1.1.tsv`.
//! - `n/a`: the reason the statement asks nothing of this project.
//! - `untested`: a statement this project must meet but no test checks yet, and why.
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

/// Every Rust source of the crate, one string per file.
fn crate_sources() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["src", "tests"] {
        walk(&root.join(dir), &mut out);
    }
    out
}

/// Where `server` rows may point: the server's test sources.
const SERVER_TEST_DIRS: [&str; 4] = [
    "realtime-server/src/",
    "realtime-server/tests/",
    "tests/src/",
    "tests/tests/",
];

/// The text of the test `name` in `source`: its doc comments and attributes, its
/// signature and its body (up to the closing brace at the `fn`'s indentation).
/// `None` if there is no such `fn`, it is not marked as a test, or it is
/// `#[ignore]`d (an ignored test checks nothing in a plain `cargo test`).
fn test_item(source: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = source.lines().collect();
    let at = lines.iter().position(|l| {
        let t = l.trim_start();
        let t = t.strip_prefix("pub ").unwrap_or(t);
        let t = t.strip_prefix("async ").unwrap_or(t);
        t.starts_with(&format!("fn {name}("))
    })?;
    let indent = &lines[at][..lines[at].len() - lines[at].trim_start().len()];
    let mut start = at;
    while start > 0 {
        let t = lines[start - 1].trim_start();
        if t.starts_with("///") || t.starts_with("#[") || t.starts_with("//") {
            start -= 1;
        } else {
            break;
        }
    }
    let is_test = lines[start..at].iter().any(|l| {
        let t = l.trim_start();
        t.starts_with("#[test]") || t.starts_with("#[tokio::test")
    });
    let ignored = lines[start..at]
        .iter()
        .any(|l| l.trim_start().starts_with("#[ignore"));
    if !is_test || ignored {
        return None;
    }
    let close = format!("{indent}}}");
    let end = (at..lines.len()).find(|&i| lines[i] == close)?;
    Some(lines[start..=end].join("\n"))
}

/// Whether `text` cites `id` exactly (not as the prefix of a longer id).
fn cites(text: &str, id: &str) -> bool {
    text.match_indices(id)
        .any(|(at, _)| !continues_number(&text[at + id.len()..]))
}

/// Whether `rest` continues the number that ended just before it (`7`, or `.1`).
fn continues_number(rest: &str) -> bool {
    let mut chars = rest.chars();
    match chars.next() {
        Some(c) if c.is_ascii_digit() => true,
        Some('.') => chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// The standard a version label at the start of `rest` names (`5.0` or `3.1.1`),
/// when it stands alone (not inside an id such as `MQTT-3.1.1-1` or `3.1.12`).
fn label_at(text: &str, at: usize) -> Option<&'static str> {
    let before = text[..at].chars().next_back();
    if before.is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        return None;
    }
    ["5.0", "3.1.1"]
        .into_iter()
        .find(|label| text[at..].starts_with(label) && !continues_number(&text[at + label.len()..]))
}

/// Whether `text` cites `id` for `version` (`"5.0"` or `"3.1.1"`): a citation
/// counts unless the last version label before it names the other standard.
fn cites_for(text: &str, id: &str, version: &str) -> bool {
    let mut label = None;
    let mut at = 0;
    while at < text.len() {
        if let Some(l) = label_at(text, at) {
            label = Some(l);
            at += l.len();
            continue;
        }
        if text[at..].starts_with(id)
            && !continues_number(&text[at + id.len()..])
            && label.is_none_or(|l| l == version)
        {
            return true;
        }
        at += text[at..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Checks the `server` row of `id` naming `what` (`path::fn_name`) in the matrix
/// of `version`.
fn check_server_row(matrix: &str, version: &str, id: &str, what: &str) {
    let (path, name) = what
        .rsplit_once("::")
        .unwrap_or_else(|| panic!("{matrix}: {id}: {what:?} is not `path::fn_name`"));
    assert!(
        path.ends_with(".rs") && SERVER_TEST_DIRS.iter().any(|d| path.starts_with(d)),
        "{matrix}: {id}: {path} is not a source file under {SERVER_TEST_DIRS:?}"
    );
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let source = std::fs::read_to_string(workspace.join(path))
        .unwrap_or_else(|e| panic!("{matrix}: {id}: {path}: {e}"));
    assert!(
        !source.contains("#![cfg(feature = \"interop\")]"),
        "{matrix}: {id}: {path} needs the interop feature; name a test that plain cargo test runs"
    );
    assert_compiled(workspace, path);
    let item = test_item(&source, name)
        .unwrap_or_else(|| panic!("{matrix}: {id}: no test `fn {name}` (not ignored) in {path}"));
    assert!(
        cites_for(&item, id, version),
        "{matrix}: {id}: test {path}::{name} does not cite {id} for MQTT {version}"
    );
}

/// A file of a multi-file integration test (`tests/tests/<binary>/<module>.rs`)
/// is compiled only if the binary's `main.rs` declares it: a forgotten `mod`
/// would leave the named test unbuilt and the row unchecked.
fn assert_compiled(workspace: &Path, path: &str) {
    for root in ["tests/tests/", "realtime-server/tests/"] {
        let Some(rest) = path.strip_prefix(root) else {
            continue;
        };
        if let Some((binary, file)) = rest.split_once('/') {
            let module = file.trim_end_matches(".rs");
            if module == "main" {
                return;
            }
            let main = std::fs::read_to_string(workspace.join(root).join(binary).join("main.rs"))
                .unwrap_or_else(|e| panic!("{path}: the test binary has no main.rs: {e}"));
            assert!(
                main.lines().any(|l| l.trim() == format!("mod {module};")),
                "{path}: not declared as `mod {module};` in {root}{binary}/main.rs"
            );
        }
    }
}

fn check(matrix: &str, version: &str, spec: &str, expected_rows: usize) -> HashMap<String, usize> {
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
                    sources.iter().any(|s| test_item(s, what).is_some()),
                    "{matrix}: {id}: no test `fn {what}` (not ignored) in mqtt-proto"
                );
                let digits = id.trim_start_matches("MQTT-").replace(['.', '-'], "_");
                assert!(
                    what.contains(&format!("_{digits}_")),
                    "{matrix}: {id}: test {what} does not cite its id"
                );
            }
            "server" => check_server_row(matrix, version, id, what),
            "n/a" | "untested" => {}
            other => {
                panic!("{matrix}: {id}: status {other:?} is not test, server, n/a or untested")
            }
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

/// The summary row of `version` in `docs/conformance.md` says what the matrix holds.
fn assert_summary(version: &str, rows: usize, counts: &HashMap<String, usize>) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let doc = std::fs::read_to_string(workspace.join("docs/conformance.md")).unwrap();
    let row = doc
        .lines()
        .find(|l| l.starts_with(&format!("| {version} ")))
        .unwrap_or_else(|| panic!("docs/conformance.md: no summary row for {version}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    let count = |status: &str| counts.get(status).copied().unwrap_or(0).to_string();
    let want = [
        version.to_string(),
        rows.to_string(),
        count("test"),
        count("server"),
        count("n/a"),
        count("untested"),
    ];
    assert_eq!(
        cells[1..cells.len() - 1],
        want,
        "docs/conformance.md: the {version} summary row is stale"
    );
}

#[test]
fn matrix_v311_covers_all_141_statements() {
    let counts = check("v3.1.1.tsv", "3.1.1", "mqtt-v3.1.1-normative.tsv", 141);
    assert!(counts["test"] > 0);
    assert_summary("3.1.1", 141, &counts);
}

#[test]
fn matrix_v5_covers_all_251_statements() {
    let counts = check("v5.tsv", "5.0", "mqtt-v5.0-normative.tsv", 251);
    assert!(counts["test"] > 0);
    assert_summary("5.0", 251, &counts);
}

#[test]
fn test_item_finds_tests_and_their_doc_only() {
    let src = "/// MQTT-1.2.3-4 and MQTT-1.2.3-56.\n#[tokio::test]\nasync fn a() {\n    x();\n}\n\n/// MQTT-9.9.9-9\nfn b() {\n}\n";
    let a = test_item(src, "a").unwrap();
    assert!(cites(&a, "MQTT-1.2.3-4") && cites(&a, "MQTT-1.2.3-56"));
    assert!(
        !cites(&a, "MQTT-1.2.3-5"),
        "a prefix of a longer id is no citation"
    );
    assert!(
        !cites(&a, "MQTT-9.9.9-9"),
        "the next item is not part of this one"
    );
    assert_eq!(test_item(src, "b"), None, "not a test");
    let ignored = "#[test]\n#[ignore]\nfn d() {\n}\n";
    assert_eq!(test_item(ignored, "d"), None, "ignored");
    assert_eq!(test_item(src, "c"), None);
}

#[test]
fn citations_count_only_for_their_version() {
    let doc = "/// 5.0 MQTT-3.1.2-4, MQTT-3.2.2-2 and 3.1.1 MQTT-3.1.2-6: text (MQTT-3.1.1-1).";
    assert!(cites_for(doc, "MQTT-3.1.2-4", "5.0"));
    assert!(!cites_for(doc, "MQTT-3.1.2-4", "3.1.1"));
    assert!(cites_for(doc, "MQTT-3.2.2-2", "5.0"));
    assert!(cites_for(doc, "MQTT-3.1.2-6", "3.1.1"));
    assert!(!cites_for(doc, "MQTT-3.1.2-6", "5.0"));
    assert!(
        cites_for(doc, "MQTT-3.1.1-1", "3.1.1"),
        "an id holding 3.1.1 is no label"
    );
    let unlabelled = "/// MQTT-4.1.0-2: the session expires.";
    assert!(cites_for(unlabelled, "MQTT-4.1.0-2", "5.0"));
    assert!(cites_for(unlabelled, "MQTT-4.1.0-2", "3.1.1"));
    assert!(!cites_for(
        "/// 3.1.1 MQTT-4.1.0-22",
        "MQTT-4.1.0-2",
        "3.1.1"
    ));
}
