//! docs/walkthrough.md names real files and functions: every
//! `path/to/file.rs::Item::item` reference in it must exist, so the
//! walkthrough cannot drift from the code it explains.

use std::path::Path;

/// The backticked spans of `text` that name a source file, with any
/// `::Item` path after it.
fn references(text: &str) -> Vec<(String, Vec<String>)> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|span| {
            let (file, items) = match span.find(".rs") {
                Some(at) => (&span[..at + 3], &span[at + 3..]),
                None => return None,
            };
            let plain = file
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_/.".contains(c));
            if !plain || !file.contains('/') {
                return None;
            }
            let items = items
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            Some((file.to_owned(), items))
        })
        .collect()
}

/// Whether `source` declares `name` (a function, type, trait, constant or module).
fn declares(source: &str, name: &str) -> bool {
    [
        "fn ", "struct ", "enum ", "trait ", "type ", "const ", "mod ",
    ]
    .iter()
    .any(|kind| {
        source
            .match_indices(&format!("{kind}{name}"))
            .any(|(at, matched)| {
                let next = source[at + matched.len()..].chars().next().unwrap_or(' ');
                !(next.is_alphanumeric() || next == '_')
            })
    })
}

#[test]
fn every_file_and_function_the_walkthrough_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let walkthrough =
        std::fs::read_to_string(root.join("docs/walkthrough.md")).expect("docs/walkthrough.md");
    let references = references(&walkthrough);
    assert!(
        references.len() >= 40,
        "the walkthrough names too few places: {}",
        references.len()
    );
    let mut missing = Vec::new();
    for (file, items) in &references {
        let Ok(source) = std::fs::read_to_string(root.join(file)) else {
            missing.push(format!("{file}: no such file"));
            continue;
        };
        for item in items {
            if !declares(&source, item) {
                missing.push(format!("{file}: no `{item}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the walkthrough names what does not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_checker_notices_a_wrong_name() {
    let refs = references("see `gateway-server/src/handler.rs::Handler::run` and `nonsense/src/x.rs::gone`, not `plain`");
    assert_eq!(refs.len(), 2);
    let source = "impl Handler { fn run(&self) {} }\nstruct Handler;";
    assert!(declares(source, "Handler") && declares(source, "run"));
    assert!(
        !declares(source, "ru"),
        "a prefix of a name is not the name"
    );
    assert!(!declares(source, "gone"));
}
