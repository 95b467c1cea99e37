//! `access.yaml`, beside `pipelines/` in the config directory: the roles API keys can
//! have. Each role grants pipelines, domains and scopes. Keys themselves live in the
//! data dir's key store (`ragline keys`), naming their role. Without the file the
//! server runs open.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::http::{Quota, QuotaConfig};
use crate::vocab::{ConfigError, Diagnostic, from_yaml};

/// The access file's name in the config directory.
pub const ACCESS_FILE: &str = "access.yaml";

/// Who may do what.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ragline access")]
pub struct AccessConfig {
    /// The roles keys can have, by name (`hr-reader`, `admin`, ...).
    pub roles: BTreeMap<String, RoleConfig>,
}

/// One role.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// Pipelines the role may use, by name, or `["*"]` for every pipeline.
    #[schemars(with = "Vec<String>")]
    pub pipelines: Vec<Spanned<String>>,
    /// Domains whose documents the role may read, upload and delete, or `["*"]` for
    /// every domain. Retrieval filters by them inside both searches.
    #[schemars(with = "Vec<String>")]
    pub domains: Vec<Spanned<String>>,
    /// What the role may do: `query`, `upload`, `delete`, `sync`, `analytics`, `admin`
    /// (reload status, keys), or `["*"]` for all of them.
    #[schemars(with = "Vec<String>")]
    pub scopes: Vec<Spanned<String>>,
    /// What each key of the role may spend (unset: no limit). Over it: 429
    /// `budget_exceeded` until the period ends.
    #[serde(default)]
    pub key_budget: Option<BudgetConfig>,
    /// What all keys of the role together may spend (unset: no limit).
    #[serde(default)]
    pub role_budget: Option<BudgetConfig>,
    /// Requests each key of the role may make (unset: only `limits.rate.per_key` of
    /// `ragline.yaml` applies). Over it: 429 `rate_limited` with `Retry-After`.
    #[serde(default)]
    pub key_rate: Option<QuotaConfig>,
}

/// Spend per UTC calendar day and month, counted from each answer's usage (tokens:
/// input, output and embedding; USD: its cost).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// USD per day.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub daily_usd: Option<Spanned<f64>>,
    /// USD per month.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub monthly_usd: Option<Spanned<f64>>,
    /// Tokens per day.
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub daily_tokens: Option<Spanned<u64>>,
    /// Tokens per month.
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub monthly_tokens: Option<Spanned<u64>>,
}

/// A checked budget; each limit is optional.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    pub daily_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
    pub daily_tokens: Option<u64>,
    pub monthly_tokens: Option<u64>,
}

impl Budget {
    pub fn is_empty(&self) -> bool {
        *self == Budget::default()
    }
}

/// Something a key may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Query,
    Upload,
    Delete,
    Sync,
    Analytics,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::Query,
        Scope::Upload,
        Scope::Delete,
        Scope::Sync,
        Scope::Analytics,
        Scope::Admin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Query => "query",
            Scope::Upload => "upload",
            Scope::Delete => "delete",
            Scope::Sync => "sync",
            Scope::Analytics => "analytics",
            Scope::Admin => "admin",
        }
    }

    fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A set of names, or all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    All,
    Only(BTreeSet<String>),
}

impl Grant {
    /// The names granted, or `None` for all.
    pub fn names(&self) -> Option<Vec<String>> {
        match self {
            Grant::All => None,
            Grant::Only(names) => Some(names.iter().cloned().collect()),
        }
    }

    pub fn allows(&self, name: &str) -> bool {
        match self {
            Grant::All => true,
            Grant::Only(names) => names.contains(name),
        }
    }
}

/// A checked role.
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub name: String,
    pub pipelines: Grant,
    pub domains: Grant,
    pub scopes: BTreeSet<Scope>,
    /// Each key's budget.
    pub key_budget: Budget,
    /// The budget of all its keys together.
    pub role_budget: Budget,
    /// Requests per key of the role.
    pub key_rate: Option<Quota>,
}

impl Role {
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// The checked access file.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    pub file: PathBuf,
    pub roles: BTreeMap<String, Role>,
}

impl Access {
    /// Load `<config_dir>/access.yaml`; `None` when there is none (the server runs
    /// open). `pipelines` are the names a role may grant.
    ///
    /// # Errors
    /// Every problem in the file, located.
    pub fn load(config_dir: &Path, pipelines: &[&str]) -> Result<Option<Access>, ConfigError> {
        let file = config_dir.join(ACCESS_FILE);
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Diagnostic::file(&file, format!("cannot read: {e}")).into()),
        };
        let raw: AccessConfig = from_yaml(&file, &text)?;
        raw.compile(&file, pipelines).map(Some)
    }
}

impl AccessConfig {
    /// Check the roles against the loaded `pipelines`.
    ///
    /// # Errors
    /// Every problem, located in `file`.
    pub fn compile(&self, file: &Path, pipelines: &[&str]) -> Result<Access, ConfigError> {
        let mut diagnostics = Vec::new();
        let mut roles = BTreeMap::new();
        for (name, role) in &self.roles {
            let at = |key: &str| format!("roles.{name}.{key}");
            let pipeline_grant = grant(file, &role.pipelines, &at("pipelines"), &mut diagnostics);
            if let Grant::Only(names) = &pipeline_grant {
                for p in &role.pipelines {
                    if names.contains(&p.value) && !pipelines.contains(&p.value.as_str()) {
                        diagnostics.push(Diagnostic::spanned(
                            file,
                            p,
                            at("pipelines"),
                            format!("no pipeline named `{}` (pipelines: {})", p.value, pipelines.join(", ")),
                        ));
                    }
                }
            }
            let domains = grant(file, &role.domains, &at("domains"), &mut diagnostics);
            let scopes = match grant(file, &role.scopes, &at("scopes"), &mut diagnostics) {
                Grant::All => Scope::ALL.into_iter().collect(),
                Grant::Only(_) => role
                    .scopes
                    .iter()
                    .filter_map(|s| {
                        let scope = Scope::parse(&s.value);
                        if scope.is_none() {
                            let accepted: Vec<_> = Scope::ALL.iter().map(|s| s.name()).collect();
                            diagnostics.push(Diagnostic::spanned(
                                file,
                                s,
                                at("scopes"),
                                format!("unknown scope `{}`: use {} or \"*\"", s.value, accepted.join(", ")),
                            ));
                        }
                        scope
                    })
                    .collect(),
            };
            let mut budget = |b: &Option<BudgetConfig>, key: &str| {
                b.as_ref()
                    .map(|b| b.compile(file, &at(key), &mut diagnostics))
                    .unwrap_or_default()
            };
            let key_budget = budget(&role.key_budget, "key_budget");
            let role_budget = budget(&role.role_budget, "role_budget");
            let key_rate = role
                .key_rate
                .as_ref()
                .and_then(|q| q.compile(file, &at("key_rate"), &mut diagnostics));
            roles.insert(
                name.clone(),
                Role {
                    name: name.clone(),
                    pipelines: pipeline_grant,
                    domains,
                    scopes,
                    key_budget,
                    role_budget,
                    key_rate,
                },
            );
        }
        if !diagnostics.is_empty() {
            return Err(diagnostics.into());
        }
        Ok(Access {
            file: file.to_path_buf(),
            roles,
        })
    }
}

impl BudgetConfig {
    fn compile(&self, file: &Path, key: &str, diagnostics: &mut Vec<Diagnostic>) -> Budget {
        let before = diagnostics.len();
        let mut usd = |v: &Option<Spanned<f64>>, field: &str| {
            let v = v.as_ref()?;
            if v.value.is_finite() && v.value > 0.0 {
                Some(v.value)
            } else {
                diagnostics.push(Diagnostic::spanned(
                    file,
                    v,
                    format!("{key}.{field}"),
                    "a budget is a number of USD above 0",
                ));
                None
            }
        };
        let (daily_usd, monthly_usd) = (usd(&self.daily_usd, "daily_usd"), usd(&self.monthly_usd, "monthly_usd"));
        let mut tokens = |v: &Option<Spanned<u64>>, field: &str| {
            let v = v.as_ref()?;
            if v.value > 0 {
                Some(v.value)
            } else {
                diagnostics.push(Diagnostic::spanned(
                    file,
                    v,
                    format!("{key}.{field}"),
                    "a token budget is at least 1",
                ));
                None
            }
        };
        let (daily_tokens, monthly_tokens) = (
            tokens(&self.daily_tokens, "daily_tokens"),
            tokens(&self.monthly_tokens, "monthly_tokens"),
        );
        let budget = Budget {
            daily_usd,
            monthly_usd,
            daily_tokens,
            monthly_tokens,
        };
        if budget.is_empty() && diagnostics.len() == before {
            diagnostics.push(Diagnostic::file(
                file,
                format!("{key}: sets no limit; give daily_usd, monthly_usd, daily_tokens or monthly_tokens"),
            ));
        }
        budget
    }
}

/// A list of names as a grant: `["*"]` is all, an empty list or `*` among names is an error.
fn grant(file: &Path, names: &[Spanned<String>], key: &str, diagnostics: &mut Vec<Diagnostic>) -> Grant {
    if let Some(star) = names.iter().find(|n| n.value == "*") {
        if names.len() > 1 {
            diagnostics.push(Diagnostic::spanned(
                file,
                star,
                key,
                "\"*\" grants everything: list names or \"*\", not both",
            ));
        }
        return Grant::All;
    }
    if names.is_empty() {
        diagnostics.push(Diagnostic::file(
            file,
            format!("{key}: grants nothing; list names, or \"*\" for all"),
        ));
    }
    Grant::Only(names.iter().map(|n| n.value.clone()).collect())
}

/// JSON Schema of `access.yaml`.
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(AccessConfig)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(yaml: &str) -> Result<Access, ConfigError> {
        let file = Path::new("access.yaml");
        let raw: AccessConfig = from_yaml(file, yaml)?;
        raw.compile(file, &["hr", "legal"])
    }

    #[test]
    fn the_issue_shape_compiles() {
        let access = compile(
            "roles:\n  hr-reader: { pipelines: [hr], domains: [hr], scopes: [query] }\n  admin: { pipelines: [\"*\"], domains: [\"*\"], scopes: [\"*\"] }\n",
        )
        .unwrap();
        let hr = &access.roles["hr-reader"];
        assert!(hr.pipelines.allows("hr") && !hr.pipelines.allows("legal"));
        assert!(hr.domains.allows("hr") && !hr.domains.allows("legal"));
        assert!(hr.may(Scope::Query) && !hr.may(Scope::Upload));
        let admin = &access.roles["admin"];
        assert!(admin.pipelines.allows("legal") && admin.domains.allows("finance"));
        assert!(Scope::ALL.iter().all(|s| admin.may(*s)));
        assert!(admin.key_budget.is_empty() && admin.role_budget.is_empty());
    }

    #[test]
    fn budgets_are_checked_and_located() {
        let access = compile(
            "roles:\n  app:\n    pipelines: [hr]\n    domains: [hr]\n    scopes: [query]\n    key_budget: { daily_usd: 0.5, monthly_tokens: 100000 }\n    role_budget: { monthly_usd: 20 }\n",
        )
        .unwrap();
        let app = &access.roles["app"];
        assert_eq!(
            app.key_budget,
            Budget {
                daily_usd: Some(0.5),
                monthly_tokens: Some(100_000),
                ..Budget::default()
            }
        );
        assert_eq!(app.role_budget.monthly_usd, Some(20.0));
        let e = compile(
            "roles:\n  app:\n    pipelines: [hr]\n    domains: [hr]\n    scopes: [query]\n    key_budget: { daily_usd: -1, daily_tokens: 0 }\n    role_budget: {}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("access.yaml:6:30: roles.app.key_budget.daily_usd: a budget is a number of USD above 0"),
            "{e}"
        );
        assert!(
            e.contains("access.yaml:6:48: roles.app.key_budget.daily_tokens: a token budget is at least 1"),
            "{e}"
        );
        assert!(e.contains("roles.app.role_budget: sets no limit"), "{e}");
    }

    #[test]
    fn mistakes_are_located_with_what_is_accepted() {
        let e = compile(
            "roles:\n  r:\n    pipelines: [hr, payroll]\n    domains: [\"*\", hr]\n    scopes: [query, uplod]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("access.yaml:3:21: roles.r.pipelines: no pipeline named `payroll` (pipelines: hr, legal)"),
            "{e}"
        );
        assert!(
            e.contains("access.yaml:4:15: roles.r.domains: \"*\" grants everything"),
            "{e}"
        );
        assert!(e.contains("access.yaml:5:21: roles.r.scopes: unknown scope `uplod`: use query, upload, delete, sync, analytics, admin or \"*\""), "{e}");
        let e = compile("roles:\n  r: { pipelines: [hr], domains: [hr], scope: [query] }\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("access.yaml:2:"), "{e}");
        let e = compile("roles:\n  r: { pipelines: [], domains: [hr], scopes: [query] }\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("roles.r.pipelines: grants nothing"), "{e}");
    }

    #[test]
    fn a_role_may_rate_its_keys() {
        let file = Path::new("access.yaml");
        let yaml = "roles:\n  app:\n    pipelines: [hr]\n    domains: [hr]\n    scopes: [query]\n    key_rate: { per_second: 5, burst: 20 }\n";
        let raw: AccessConfig = from_yaml(file, yaml).unwrap();
        let access = raw.compile(file, &["hr"]).unwrap();
        let rate = access.roles["app"].key_rate.unwrap();
        assert_eq!((rate.requests, rate.per_minute, rate.burst), (5, false, 20));
        let yaml = "roles:\n  app:\n    pipelines: [hr]\n    domains: [hr]\n    scopes: [query]\n    key_rate: { per_minute: 0 }\n";
        let raw: AccessConfig = from_yaml(file, yaml).unwrap();
        let e = raw.compile(file, &["hr"]).unwrap_err().to_string();
        assert!(
            e.contains("access.yaml:6:29: roles.app.key_rate.per_minute: per_minute must be between 1 and"),
            "{e}"
        );
    }
}
