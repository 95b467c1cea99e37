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
mod tests;
