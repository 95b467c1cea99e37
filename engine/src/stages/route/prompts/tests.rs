use std::path::Path;

use crate::config::{self, PipelineSpec};
use crate::prompts::{Assignment, PromptChoice};
use crate::stages::Run;
use crate::stages::route::RouteInput;
use crate::stages::route::features::QueryFeatures;
use crate::vocab::ConfigError;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A config dir with `prompts/p/answer/{v1,v2}.md` (v1 written for model `pro`) and
/// one pipeline whose `route:` section is `route`.
fn load(route: &str) -> Result<PipelineSpec, ConfigError> {
    load_with(route, &[])
}

fn load_with(route: &str, extra: &[(&str, &str)]) -> Result<PipelineSpec, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (rel, text) in extra {
        write(d, rel, text);
    }
    write(d, "prompts/p/answer/v1.md", "---\nmodel: pro\n---\nv1 {{ question }}");
    write(d, "prompts/p/answer/v2.md", "v2 {{ question }}");
    write(d, "docs/a.txt", "text");
    write(
        d,
        "pipelines/p.yaml",
        &format!(
            "name: p\nindex: p\ningest:\n  sources: [{{ dir: ../docs }}]\n  embed: {{ hash: {{}} }}\n\
             route:\n{route}\ngenerate:\n  models:\n    lite: {{ extractive: {{}} }}\n    pro: {{ extractive: {{}} }}\n"
        ),
    );
    config::load(&d.join("pipelines/p.yaml"), d)
}

fn input() -> RouteInput {
    RouteInput {
        text: "q".into(),
        domains: Vec::new(),
        role: String::new(),
        pipeline: "p".into(),
        features: QueryFeatures::of("q"),
        hits: Vec::new(),
    }
}

#[test]
fn a_split_version_answers_with_its_own_model() {
    let spec = load(
        "  default: { model: lite, prompt: p/answer }\n  prompts: [p/answer@v1]\n  splits:\n    - prompt: p/answer\n      weights: { v2: 1, v1: 1 }",
    )
    .unwrap();
    let route = &spec.route;
    assert!(matches!(route.default.prompt, PromptChoice::Split(_)));
    assert!(
        matches!(route.prompts["p/answer@v1"], PromptChoice::Fixed(_)),
        "a pin wins over the split"
    );
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..200 {
        let d = route.run((&input(), Some(&format!("s{i}")))).unwrap();
        assert_eq!(d.assignment, Assignment::Sticky);
        let version = d.prompt.id.version.clone().unwrap();
        let expected = if version == "v1" { "pro" } else { "lite" };
        assert_eq!(d.model, expected);
        seen.insert(version);
    }
    assert_eq!(seen.len(), 2);
    assert_eq!(route.families["p/answer"].versions.len(), 2);
}

#[test]
fn bare_name_means_the_newest_version() {
    let spec = load("  default: { model: lite, prompt: p/answer }").unwrap();
    let d = spec.route.run((&input(), None)).unwrap();
    assert_eq!(d.prompt.id.version.as_deref(), Some("v2"));
    assert_eq!((d.model.as_str(), d.assignment), ("lite", Assignment::Fixed));
}

#[test]
fn split_and_version_mistakes_are_located() {
    let e = load("  default: { model: lite, prompt: p/answer@v7 }").unwrap_err();
    assert!(
        e.to_string()
            .contains("route.default.prompt: prompt `p/answer` has no version `v7` (versions: v1, v2)"),
        "{e}"
    );
    let e = load(
        "  default: { model: lite, prompt: p/answer@v2 }\n  splits:\n    - prompt: p/answer\n      weights: { v1: 1 }",
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("route.splits[0].prompt: the route never uses prompt `p/answer` without a version"),
        "{e}"
    );
    let e = load(
        "  default: { model: lite, prompt: p/answer }\n  splits:\n    - prompt: p/answer\n      weights: { v1: 0, v2: 0 }",
    )
    .unwrap_err();
    assert!(e.to_string().contains("the weights must add up to more than 0"), "{e}");
    // A broken version is reported once, in its file, and nothing else is blamed.
    let e = load_with(
        "  default: { model: lite, prompt: p/answer }\n  splits:\n    - prompt: p/answer\n      weights: { v1: 1 }",
        &[("prompts/p/answer/v3.md", "{{ nope }}")],
    )
    .unwrap_err();
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    assert!(e.diagnostics[0].file.ends_with("prompts/p/answer/v3.md"), "{e}");
}

#[test]
fn a_live_version_must_name_a_defined_model() {
    // v1 names `pro`, which the pipeline defines.
    load("  default: { model: lite, prompt: p/answer@v1 }").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "prompts/q/v1.md", "---\nmodel: huge\n---\n{{ question }}");
    write(d, "docs/a.txt", "text");
    write(
        d,
        "pipelines/q.yaml",
        "name: q\nindex: q\ningest:\n  sources: [{ dir: ../docs }]\n  embed: { hash: {} }\n\
         route:\n  default: { model: lite, prompt: q }\ngenerate:\n  models:\n    lite: { extractive: {} }\n",
    );
    let e = config::load(&d.join("pipelines/q.yaml"), d).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("prompts/q/v1.md:2:8: model: model `huge` is not defined in generate.models"),
        "{text}"
    );
}
