//! docs/deploy.md shows the deployment files as they are: every nginx line
//! it quotes is a line of `scripts/deploy/nginx/gateway.conf`, every systemd
//! line a line of a unit in `scripts/deploy/systemd/`, every file it names
//! exists, and its capacity table is the one `capacity.sh` prints.

use std::path::Path;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The lines of the fenced code blocks tagged `lang`, trimmed, non-empty.
fn code_lines(markdown: &str, lang: &str) -> Vec<String> {
    let fence = format!("```{lang}");
    let mut inside = false;
    let mut lines = Vec::new();
    for line in markdown.lines() {
        if inside && line.starts_with("```") {
            inside = false;
        } else if inside && !line.trim().is_empty() {
            lines.push(line.trim().to_owned());
        } else if line.trim_end() == fence {
            inside = true;
        }
    }
    lines
}

fn trimmed_lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).collect()
}

#[test]
fn the_nginx_lines_quoted_are_lines_of_the_tested_config() {
    let doc = read("docs/deploy.md");
    let config = read("scripts/deploy/nginx/gateway.conf");
    let quoted = code_lines(&doc, "nginx");
    assert!(quoted.len() > 10, "the doc quotes the nginx config");
    for line in quoted {
        assert!(
            trimmed_lines(&config).contains(&line.as_str()),
            "docs/deploy.md quotes `{line}`, which gateway.conf does not have"
        );
    }
}

#[test]
fn the_systemd_lines_quoted_are_lines_of_the_units() {
    let doc = read("docs/deploy.md");
    let units: String = [
        "gateway.socket",
        "gateway@.service",
        "gateway-handoff.service",
    ]
    .iter()
    .map(|unit| read(&format!("scripts/deploy/systemd/{unit}")))
    .collect();
    let quoted = code_lines(&doc, "ini");
    assert!(quoted.len() > 5, "the doc quotes the units");
    for line in quoted {
        assert!(
            trimmed_lines(&units).contains(&line.as_str()),
            "docs/deploy.md quotes `{line}`, which no unit has"
        );
    }
}

#[test]
fn every_file_named_exists() {
    let doc = read("docs/deploy.md");
    let named: Vec<&str> = doc
        .split('`')
        .filter(|span| {
            ["scripts/", "tests/tests/", "gateway-server/src/"]
                .iter()
                .any(|dir| span.starts_with(dir))
        })
        .map(|span| span.split_whitespace().next().unwrap_or(span))
        .collect();
    assert!(named.len() > 5, "the doc names its files");
    for path in named {
        assert!(repo().join(path).exists(), "docs/deploy.md names {path}");
    }
}

#[test]
fn the_capacity_table_is_the_one_capacity_sh_prints() {
    let doc = read("docs/deploy.md");
    let script = read("scripts/deploy/capacity.sh");
    let header = "| deployment | route | requests/s | p50 | p99 | errors |";
    assert!(script.contains(header) && doc.contains(header));
    for deployment in [
        "1 instance, direct",
        "2 instances, SO_REUSEPORT, direct",
        "nginx -> 1 instance",
        "nginx -> 2 instances (TCP + Unix)",
    ] {
        assert!(
            script.contains(deployment),
            "capacity.sh measures {deployment}"
        );
        assert_eq!(
            doc.matches(&format!("| {deployment} |")).count(),
            2,
            "docs/deploy.md has both routes of {deployment}"
        );
    }
}
