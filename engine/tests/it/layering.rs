//! The layering rules, checked by reading the `use` lines (and other paths) of every
//! source file under `engine/src`, test code left out:
//!
//! - only `http/` imports axum and utoipa;
//! - only `store/` imports heed, arroy and tantivy;
//! - only `providers/` imports the AWS SDK;
//! - only `telemetry/` imports metrics, its Prometheus exporter and OpenTelemetry;
//! - top-level folders import only folders of a lower layer ([`LAYERS`]), so there is
//!   no cycle between them and a query goes HTTP → executor → stages → providers/store
//!   without coming back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules, from the top layer down. A module may use only modules of
/// layers below its own.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["bench", "http", "reload"],
    &["analytics", "eval", "sync"],
    &["pipeline"],
    &["config"],
    &["stages"],
    &["prompts", "providers", "script", "store"],
    &["telemetry", "vocab"],
];

/// External crates only one top-level module may use.
const OWNED_CRATES: &[(&str, &[&str])] = &[
    ("http", &["axum", "utoipa"]),
    ("store", &["heed", "arroy", "tantivy"]),
    ("providers", &["aws_config", "aws_sdk_*", "aws_smithy_*"]),
    (
        "telemetry",
        &["metrics", "metrics_exporter_prometheus", "opentelemetry*"],
    ),
];

/// One use of a module or crate: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Use {
    file: String,
    line: usize,
    /// A top-level module of this crate, or an external crate.
    target: String,
    internal: bool,
}

#[test]
fn layering_rules_hold() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut uses = Vec::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(&file).unwrap();
        uses.extend(uses_of(&rel, &text));
    }
    let problems = violations(&uses);
    assert!(problems.is_empty(), "layering broken:\n{}", problems.join("\n"));

    // The reader sees the edges it should, so an empty result means something.
    let edges = edges(&uses);
    for (from, to) in [
        ("http", "pipeline"),
        ("pipeline", "stages"),
        ("stages", "providers"),
        ("stages", "store"),
    ] {
        assert!(
            edges.contains(&(from.to_owned(), to.to_owned())),
            "{from} → {to} not seen"
        );
    }
    assert!(uses.iter().any(|u| u.target == "axum"), "no axum use seen");
}

#[test]
fn violations_are_found() {
    let file = "stages/retrieve/x.rs";
    let text = "use crate::pipeline::Pipeline;\nuse tantivy::Index;\n// use crate::http::x;\n\
                #[cfg(test)]\nmod tests {\n    use crate::cli::Cli;\n}\nfn f() { super::super::super::http::g() }\n";
    let problems = violations(&uses_of(file, text));
    let joined = problems.join("\n");
    assert_eq!(problems.len(), 3, "{joined}");
    assert!(
        joined.contains("stages/retrieve/x.rs:1: stages uses pipeline"),
        "{joined}"
    );
    assert!(
        joined.contains("stages/retrieve/x.rs:2: stages uses tantivy"),
        "{joined}"
    );
    assert!(joined.contains("stages/retrieve/x.rs:8: stages uses http"), "{joined}");
    let grouped = uses_of(
        "http/a.rs",
        "use crate::{pipeline::Engine, vocab::{Filter, Metadata}};\n",
    );
    let targets: Vec<&str> = grouped.iter().map(|u| u.target.as_str()).collect();
    assert_eq!(targets, ["pipeline", "vocab"]);

    // A module of ours named like an owned crate is not that crate.
    let own = "mod metrics;\nuse metrics::track;\nuse super::metrics::{self, Scores};\n";
    assert!(violations(&uses_of("http/a.rs", own)).is_empty());
    let foreign = violations(&uses_of("http/a.rs", "use metrics::counter;\n"));
    assert_eq!(foreign, ["http/a.rs:1: http uses metrics (only telemetry/ may)"]);
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The top-level module a file belongs to, and its module path; `None` for the crate
/// root, the binary, and test-only files.
fn module_of(rel: &str) -> Option<(String, Vec<String>)> {
    let mut parts: Vec<String> = rel.trim_end_matches(".rs").split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts.is_empty() || ["lib", "main"].contains(&parts[0].as_str()) || parts.iter().any(|p| p == "tests") {
        return None;
    }
    Some((parts[0].clone(), parts))
}

/// Every module and crate path in `text`, outside comments and test code.
fn uses_of(rel: &str, text: &str) -> Vec<Use> {
    let Some((top, path)) = module_of(rel) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut add = |line: usize, target: &str, internal: bool| {
        out.push(Use {
            file: rel.to_owned(),
            line,
            target: target.to_owned(),
            internal,
        });
    };
    // A module of ours may share a crate's name (`mod metrics;`, `use super::metrics`):
    // its paths are not the crate's.
    let mut local = BTreeSet::new();
    for (_, code) in code_lines(text) {
        let code = code
            .trim_start()
            .trim_start_matches("pub ")
            .trim_start_matches("pub(crate) ");
        if let Some(name) = code.strip_prefix("mod ") {
            local.insert(ident(name));
        }
        for (i, _) in code.match_indices("::") {
            local.insert(ident(&code[i + 2..]));
        }
    }
    for (n, code) in code_lines(text) {
        for (i, _) in code.match_indices("crate::") {
            if !boundary(&code, i) {
                continue;
            }
            let rest = &code[i + "crate::".len()..];
            match rest.strip_prefix('{') {
                Some(group) => {
                    for item in top_level_items(group) {
                        add(n, &item, true);
                    }
                }
                None => add(n, &ident(rest), true),
            }
        }
        for (i, _) in code.match_indices("super::") {
            // Count the chain once, from its first `super::`.
            if !boundary(&code, i) {
                continue;
            }
            let mut rest = &code[i..];
            let mut depth = 0;
            while let Some(r) = rest.strip_prefix("super::") {
                depth += 1;
                rest = r;
            }
            if depth == path.len() {
                add(n, &ident(rest), true);
            }
        }
        for word in idents(&code) {
            if is_owned_crate(&word) && !local.contains(&word) && starts_path(&code, &word) {
                add(n, &word, false);
            }
        }
    }
    out.retain(|u| u.target != top && !u.target.is_empty());
    out.sort();
    out.dedup();
    out
}

/// Lines with their numbers, comments removed, `#[cfg(test)]` items skipped.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let code = line.split("//").next().unwrap_or_default();
        if code.trim() == "#[cfg(test)]" {
            // Skip the item: a `mod x;` line, or a block up to its closing brace.
            let mut depth = 0i32;
            for (_, next) in lines.by_ref() {
                let next = next.split("//").next().unwrap_or_default();
                depth += next.matches('{').count() as i32 - next.matches('}').count() as i32;
                if depth <= 0 && (next.trim_end().ends_with(';') || next.contains('}')) {
                    break;
                }
            }
            continue;
        }
        out.push((i + 1, code.to_owned()));
    }
    out
}

/// Whether `word::` begins a path somewhere in `code` (not `a::word::`).
fn starts_path(code: &str, word: &str) -> bool {
    code.match_indices(&format!("{word}::")).any(|(i, _)| boundary(code, i))
}

/// Whether the path at `i` starts a path (not `foo_crate::` or `a::crate::`).
fn boundary(code: &str, i: usize) -> bool {
    code[..i]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'))
}

fn ident(s: &str) -> String {
    s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

fn idents(code: &str) -> BTreeSet<String> {
    code.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The first segment of each item of a `{a::b, c, d::{e, f}}` group.
fn top_level_items(group: &str) -> Vec<String> {
    let (mut depth, mut items, mut start) = (0, Vec::new(), true);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => start = true,
            c if start && (c.is_alphanumeric() || c == '_') => {
                items.push(ident(&group[i..]));
                start = false;
            }
            _ => {}
        }
    }
    items
}

fn is_owned_crate(word: &str) -> bool {
    OWNED_CRATES
        .iter()
        .flat_map(|(_, crates)| crates.iter())
        .any(|c| match c.strip_suffix('*') {
            Some(prefix) => word.starts_with(prefix),
            None => word == *c,
        })
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn edges(uses: &[Use]) -> BTreeSet<(String, String)> {
    uses.iter()
        .filter(|u| u.internal)
        .map(|u| (module_of(&u.file).map(|(t, _)| t).unwrap_or_default(), u.target.clone()))
        .collect()
}

/// Every use that breaks a rule, as `file:line: from uses to (why)`.
fn violations(uses: &[Use]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut unlayered = BTreeMap::new();
    for u in uses {
        let Some((from, _)) = module_of(&u.file) else { continue };
        let at = format!("{}:{}: {from} uses {}", u.file, u.line, u.target);
        if !u.internal {
            let owner = OWNED_CRATES
                .iter()
                .find(|(_, crates)| {
                    crates.iter().any(|c| match c.strip_suffix('*') {
                        Some(p) => u.target.starts_with(p),
                        None => u.target == *c,
                    })
                })
                .map(|(owner, _)| *owner);
            if let Some(owner) = owner
                && owner != from
            {
                problems.push(format!("{at} (only {owner}/ may)"));
            }
            continue;
        }
        match (layer_of(&from), layer_of(&u.target)) {
            (Some(a), Some(b)) if a < b => {}
            (Some(_), Some(_)) => problems.push(format!("{at} (a module uses only lower layers)")),
            (None, _) => {
                unlayered.insert(from.clone(), u.file.clone());
            }
            (_, None) => {
                unlayered.insert(u.target.clone(), u.file.clone());
            }
        }
    }
    for (module, file) in unlayered {
        problems.push(format!("{file}: module `{module}` is in no layer; add it to LAYERS"));
    }
    problems
}
