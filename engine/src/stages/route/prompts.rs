//! The prompts of a route: each reference resolved to a version or an A/B split,
//! and every version of every prompt the route names (for listings and reloads).

use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::CompileCx;
use crate::prompts::catalog::{self, FamilyError};
use crate::prompts::split::Arm;
use crate::prompts::{PromptChoice, PromptFamily, PromptRef, Split};
use crate::vocab::diagnostic::Diagnostic;

/// An A/B split: several versions of one prompt served by weight.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// The prompt whose versions are split, e.g. `hr/answer` (a directory of versions).
    /// Wherever the route uses this prompt without pinning a version (`hr/answer@v2`),
    /// the version is drawn from `weights`.
    #[schemars(with = "String")]
    pub prompt: Spanned<String>,
    /// Version → weight, e.g. `{ v2: 80, v3: 20 }`. A version's share is its weight over
    /// the sum. A request with a `user` or `session_id` always gets the same version for
    /// it; a request with neither is drawn on its own.
    #[schemars(with = "BTreeMap<String, u32>")]
    pub weights: BTreeMap<String, Spanned<u32>>,
}

/// The checked prompts of a route.
#[derive(Debug, Clone)]
pub struct RoutePrompts {
    pub default: PromptChoice,
    /// By reference as written (`legal/detailed`, `hr/answer@v1`), the default's included.
    pub declared: BTreeMap<String, PromptChoice>,
    /// Every version of every prompt the route names, by prompt name.
    pub families: BTreeMap<String, PromptFamily>,
}

/// Resolve the default prompt, the declared ones and the splits. Problems go to `cx`.
pub fn compile(
    cx: &mut CompileCx<'_>,
    default: &Spanned<String>,
    declared: &[Spanned<String>],
    splits: &[SplitConfig],
    models: &[&str],
) -> Option<RoutePrompts> {
    let mut families: BTreeMap<String, PromptFamily> = BTreeMap::new();
    let mut refs = vec![(default, "route.default.prompt".to_owned())];
    refs.extend(
        declared
            .iter()
            .enumerate()
            .map(|(i, r)| (r, format!("route.prompts[{i}]"))),
    );

    let mut parsed = Vec::new();
    for (reference, key) in &refs {
        match PromptRef::parse(&reference.value) {
            Ok(r) => parsed.push((*reference, key.clone(), r)),
            Err(message) => cx.push(Diagnostic::spanned(cx.file, reference, key.clone(), message)),
        }
    }
    // Prompts that do not load were reported once; nothing more is said about them.
    let mut broken = Vec::new();
    for (reference, key, r) in &parsed {
        if !broken.contains(&r.name) && !load(cx, &mut families, &r.name, reference, key) {
            broken.push(r.name.clone());
        }
    }
    let used: Vec<&str> = parsed
        .iter()
        .filter(|(_, _, r)| r.version.is_none())
        .map(|(_, _, r)| r.name.as_str())
        .collect();
    let split_by_name = compile_splits(cx, &mut families, splits, &used, &broken);

    let mut resolved: BTreeMap<String, PromptChoice> = BTreeMap::new();
    for (reference, key, r) in &parsed {
        let Some(family) = families.get(&r.name) else { continue };
        let choice = match &r.version {
            Some(v) => match family.get(v) {
                Some(p) => PromptChoice::Fixed(p.clone()),
                None => {
                    cx.push(Diagnostic::spanned(
                        cx.file,
                        reference,
                        key.clone(),
                        no_version(family, v),
                    ));
                    continue;
                }
            },
            None => match split_by_name.get(&r.name) {
                Some(split) => PromptChoice::Split(split.clone()),
                None => match family.latest() {
                    Some(p) => PromptChoice::Fixed(p.clone()),
                    None => continue,
                },
            },
        };
        resolved.insert(reference.value.clone(), choice);
    }
    check_models(cx, &resolved, models);
    let default = resolved.get(&default.value)?.clone();
    Some(RoutePrompts {
        default,
        declared: resolved,
        families,
    })
}

/// Load prompt `name` into `families` once; report problems at `reference`. Whether it loaded.
fn load(
    cx: &mut CompileCx<'_>,
    families: &mut BTreeMap<String, PromptFamily>,
    name: &str,
    reference: &Spanned<String>,
    key: &str,
) -> bool {
    if families.contains_key(name) {
        return true;
    }
    match catalog::load_family(cx.config_dir, name) {
        Ok(f) => {
            families.insert(name.to_owned(), f);
            true
        }
        Err(FamilyError::NotFound(message)) => {
            cx.push(Diagnostic::spanned(cx.file, reference, key, message));
            false
        }
        Err(FamilyError::Invalid(diagnostics)) => {
            // A prompt named twice reports its problems once.
            if !cx.diagnostics.iter().any(|d| diagnostics.contains(d)) {
                cx.diagnostics.extend(diagnostics);
            }
            false
        }
    }
}

fn compile_splits(
    cx: &mut CompileCx<'_>,
    families: &mut BTreeMap<String, PromptFamily>,
    splits: &[SplitConfig],
    used: &[&str],
    broken: &[String],
) -> BTreeMap<String, Arc<Split>> {
    let mut out = BTreeMap::new();
    for (i, s) in splits.iter().enumerate() {
        let key = format!("route.splits[{i}].prompt");
        let r = match PromptRef::parse(&s.prompt.value) {
            Ok(r) if r.version.is_some() => {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    &s.prompt,
                    key,
                    "a split names a prompt without a version, like `hr/answer`; its versions go in `weights`",
                ));
                continue;
            }
            Ok(r) => r,
            Err(message) => {
                cx.push(Diagnostic::spanned(cx.file, &s.prompt, key, message));
                continue;
            }
        };
        if broken.contains(&r.name) {
            continue;
        }
        let problem = if out.contains_key(&r.name) {
            Some(format!("prompt `{}` is split twice", r.name))
        } else if !used.contains(&r.name.as_str()) {
            Some(format!(
                "the route never uses prompt `{}` without a version (route.default.prompt and route.prompts), so this split would never apply",
                r.name
            ))
        } else {
            None
        };
        if let Some(message) = problem {
            cx.push(Diagnostic::spanned(cx.file, &s.prompt, key, message));
            continue;
        }
        if !load(cx, families, &r.name, &s.prompt, &key) {
            continue;
        }
        let Some(family) = families.get(&r.name) else { continue };
        if !family.is_versioned() {
            cx.push(Diagnostic::spanned(
                cx.file,
                &s.prompt,
                key,
                format!(
                    "prompt `{}` is a single file; a split needs a directory of versions ({}/v1.md, v2.md, ...)",
                    r.name,
                    catalog::dir_for(cx.config_dir, &r.name).display()
                ),
            ));
            continue;
        }
        let mut ok = true;
        for (version, weight) in &s.weights {
            if family.get(version).is_none() {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    weight,
                    format!("route.splits[{i}].weights.{version}"),
                    no_version(family, version),
                ));
                ok = false;
            }
        }
        // Arms in version order, so a caller's range does not depend on how the YAML is written.
        let arms: Vec<Arm> = family
            .versions
            .iter()
            .filter_map(|p| {
                let w = s.weights.get(p.id.version.as_deref()?)?;
                Some(Arm {
                    prompt: p.clone(),
                    weight: w.value,
                })
            })
            .collect();
        match Split::new(arms) {
            Some(split) if ok => {
                out.insert(r.name, Arc::new(split));
            }
            Some(_) => {}
            None => cx.push(Diagnostic::spanned(
                cx.file,
                &s.prompt,
                format!("route.splits[{i}].weights"),
                "the weights must add up to more than 0",
            )),
        }
    }
    out
}

/// A live version's front-matter `model` must be one of the pipeline's models.
fn check_models(cx: &mut CompileCx<'_>, resolved: &BTreeMap<String, PromptChoice>, models: &[&str]) {
    let mut seen = Vec::new();
    for choice in resolved.values() {
        for (prompt, _) in choice.live() {
            let Some(model) = &prompt.model else { continue };
            if models.contains(&model.value.as_str()) || seen.contains(&&prompt.file) {
                continue;
            }
            seen.push(&prompt.file);
            let message = format!(
                "model `{}` is not defined in generate.models of {} (defined: {})",
                model.value,
                cx.file.display(),
                models.join(", ")
            );
            cx.push(Diagnostic::spanned(&prompt.file, model, "model", message));
        }
    }
}

fn no_version(family: &PromptFamily, version: &str) -> String {
    if family.is_versioned() {
        format!(
            "prompt `{}` has no version `{version}` (versions: {})",
            family.name,
            family.version_names().join(", ")
        )
    } else {
        format!(
            "prompt `{}` is a single file ({}); it has no versions",
            family.name,
            family.path.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{self, PipelineSpec};
    use crate::prompts::{Assignment, PromptChoice};
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
            let d = route.decide(&input(), Some(&format!("s{i}"))).unwrap();
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
        let d = spec.route.decide(&input(), None).unwrap();
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
}
