//! The lint policy: a document (JSON or TOML) the API stores and versions. It says whether
//! every subject needs an owner, and configures each lint rule (mode, severity, parameters),
//! with overrides per subject namespace. Without a stored policy, [`Policy::default`] applies.

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

#[cfg(feature = "server")]
use super::{audit, Actor, Governance, GovernanceError, Result};
#[cfg(feature = "server")]
use crate::storage::{now_millis, PolicyRecord};

/// A policy document that cannot be used, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

#[cfg(feature = "server")]
impl From<PolicyError> for GovernanceError {
    fn from(e: PolicyError) -> Self {
        GovernanceError::Invalid(e.0)
    }
}

/// Whether a rule refuses, only reports, or is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleMode {
    Enforce,
    Warn,
    Off,
}

/// One rule's settings: mode, severity, and rule-specific parameters (`case`, `pattern`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleConfig {
    pub mode: RuleMode,
    #[serde(default = "default_severity")]
    pub severity: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, Value>,
}

fn default_severity() -> String {
    "error".into()
}

/// Rule overrides for the subjects of one namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespacePolicy {
    /// A subject-name prefix (`payments.`) or, starting with `^`, a regular expression.
    pub namespace: String,
    #[serde(default)]
    pub rules: BTreeMap<String, RuleConfig>,
}

/// The policy document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    /// Refuse registrations (and member writes) under subjects no team owns.
    #[serde(default)]
    pub owner_required: bool,
    /// Rules by id; rules not named keep their defaults.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleConfig>,
    /// Overrides per namespace; every matching namespace applies, the most specific last.
    #[serde(default)]
    pub namespaces: Vec<NamespacePolicy>,
}

/// Every rule id, its default settings, and what it checks.
pub const RULES: &[(&str, &str)] = &[
    (
        "subject.name",
        "subject names follow a pattern with named parts, per naming strategy",
    ),
    (
        "avro.type-name",
        "Avro record, enum and fixed names in a case style",
    ),
    (
        "avro.namespace",
        "Avro namespaces: each segment in a case style",
    ),
    (
        "avro.namespace-domain",
        "the Avro namespace contains the subject's domain",
    ),
    ("avro.field-name", "Avro field names in a case style"),
    ("avro.enum-symbol", "Avro enum symbols in a case style"),
    (
        "protobuf.package",
        "Protobuf package segments in a case style",
    ),
    (
        "protobuf.message-name",
        "Protobuf message names in a case style",
    ),
    (
        "protobuf.field-name",
        "Protobuf field names in a case style",
    ),
    ("protobuf.enum-name", "Protobuf enum names in a case style"),
    (
        "protobuf.enum-value",
        "Protobuf enum values in a case style",
    ),
    (
        "protobuf.enum-value-prefix",
        "Protobuf enum values start with the enum's name",
    ),
    (
        "protobuf.enum-zero-value",
        "a Protobuf enum's zero value is <PREFIX>_UNSPECIFIED",
    ),
    (
        "json.property-name",
        "JSON Schema property names in a case style",
    ),
    ("json.title", "a JSON schema has a title in a case style"),
    (
        "doc.required",
        "records, messages and fields are documented",
    ),
    (
        "hygiene.forbidden-names",
        "names from a forbidden list are not used",
    ),
    ("hygiene.max-depth", "types nest no deeper than a limit"),
    (
        "hygiene.new-optional-default",
        "optional fields added since the previous version have defaults",
    ),
];

fn rule(mode: RuleMode, severity: &str, params: Value) -> RuleConfig {
    RuleConfig {
        mode,
        severity: severity.into(),
        params: params.as_object().cloned().unwrap_or_default(),
    }
}

impl Default for Policy {
    /// Conventional names are reported (warn), nothing is refused; subject naming,
    /// documentation and forbidden names are off until a team turns them on.
    fn default() -> Self {
        use RuleMode::*;
        let rules = [
            (
                "subject.name",
                rule(Off, "error", json!({"strategy": "topic"})),
            ),
            (
                "avro.type-name",
                rule(Warn, "warning", json!({"case": "PascalCase"})),
            ),
            (
                "avro.namespace",
                rule(Warn, "warning", json!({"case": "snake_case"})),
            ),
            ("avro.namespace-domain", rule(Off, "warning", json!({}))),
            (
                "avro.field-name",
                rule(Warn, "warning", json!({"case": "camelCase"})),
            ),
            (
                "avro.enum-symbol",
                rule(Warn, "warning", json!({"case": "UPPER_SNAKE"})),
            ),
            (
                "protobuf.package",
                rule(Warn, "warning", json!({"case": "snake_case"})),
            ),
            (
                "protobuf.message-name",
                rule(Warn, "warning", json!({"case": "PascalCase"})),
            ),
            (
                "protobuf.field-name",
                rule(Warn, "warning", json!({"case": "snake_case"})),
            ),
            (
                "protobuf.enum-name",
                rule(Warn, "warning", json!({"case": "PascalCase"})),
            ),
            (
                "protobuf.enum-value",
                rule(Warn, "warning", json!({"case": "UPPER_SNAKE"})),
            ),
            (
                "protobuf.enum-value-prefix",
                rule(Warn, "warning", json!({})),
            ),
            (
                "protobuf.enum-zero-value",
                rule(Warn, "warning", json!({"suffix": "_UNSPECIFIED"})),
            ),
            (
                "json.property-name",
                rule(Warn, "warning", json!({"case": "camelCase"})),
            ),
            (
                "json.title",
                rule(Off, "warning", json!({"case": "PascalCase"})),
            ),
            (
                "doc.required",
                rule(Off, "warning", json!({"on": ["record", "field"]})),
            ),
            (
                "hygiene.forbidden-names",
                rule(Off, "error", json!({"names": []})),
            ),
            (
                "hygiene.max-depth",
                rule(Warn, "warning", json!({"max": 8})),
            ),
            (
                "hygiene.new-optional-default",
                rule(Warn, "warning", json!({})),
            ),
        ];
        Policy {
            owner_required: false,
            rules: rules
                .into_iter()
                .map(|(id, r)| (id.to_owned(), r))
                .collect(),
            namespaces: Vec::new(),
        }
    }
}

/// Case styles names can be held to.
pub const CASES: &[&str] = &[
    "PascalCase",
    "camelCase",
    "snake_case",
    "UPPER_SNAKE",
    "kebab-case",
];

fn namespace_matches(ns: &str, subject: &str) -> Option<usize> {
    if ns.starts_with('^') {
        Regex::new(ns)
            .ok()
            .filter(|r| r.is_match(subject))
            .map(|_| ns.len())
    } else {
        subject.starts_with(ns).then_some(ns.len())
    }
}

impl Policy {
    /// Parses a document: JSON, or TOML when it is not JSON. Rule ids, modes and parameters
    /// are checked, so a typo is refused rather than silently ignored.
    pub fn parse(text: &str) -> std::result::Result<Policy, PolicyError> {
        let value: Value = match serde_json::from_str::<Value>(text) {
            Ok(v) => v,
            Err(json_err) => {
                let t: toml::Value = toml::from_str(text).map_err(|e| {
                    PolicyError(format!(
                        "the policy is neither JSON ({json_err}) nor TOML ({e})"
                    ))
                })?;
                serde_json::to_value(t).map_err(|e| PolicyError(e.to_string()))?
            }
        };
        let policy: Policy = serde_json::from_value(value)
            .map_err(|e| PolicyError(format!("invalid policy: {e}")))?;
        policy.check()?;
        Ok(policy)
    }

    fn check(&self) -> std::result::Result<(), PolicyError> {
        let mut problems = Vec::new();
        let mut check_rules = |rules: &BTreeMap<String, RuleConfig>, at: &str| {
            for (id, r) in rules {
                if !RULES.iter().any(|(known, _)| known == id) {
                    problems.push(format!("{at}unknown rule '{id}'"));
                }
                if !["error", "warning", "info"].contains(&r.severity.as_str()) {
                    problems.push(format!(
                        "{at}rule '{id}': severity must be error, warning or info"
                    ));
                }
                if let Some(c) = r.params.get("case") {
                    if !c.as_str().is_some_and(|c| CASES.contains(&c)) {
                        problems.push(format!(
                            "{at}rule '{id}': case must be one of {}",
                            CASES.join(", ")
                        ));
                    }
                }
                if let Some(p) = r.params.get("pattern") {
                    match p.as_str().map(Regex::new) {
                        Some(Ok(_)) => {}
                        _ => problems.push(format!(
                            "{at}rule '{id}': pattern is not a valid regular expression"
                        )),
                    }
                }
                if let Some(s) = r.params.get("strategy") {
                    if !s
                        .as_str()
                        .is_some_and(|s| ["topic", "record", "topic_record"].contains(&s))
                    {
                        problems.push(format!(
                            "{at}rule '{id}': strategy must be topic, record or topic_record"
                        ));
                    }
                }
            }
        };
        check_rules(&self.rules, "");
        let mut bad_namespaces = Vec::new();
        for ns in &self.namespaces {
            if ns.namespace.starts_with('^') && Regex::new(&ns.namespace).is_err() {
                bad_namespaces.push(format!(
                    "namespace '{}' is not a valid regular expression",
                    ns.namespace
                ));
            }
            check_rules(&ns.rules, &format!("namespace '{}': ", ns.namespace));
        }
        problems.extend(bad_namespaces);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PolicyError(problems.join("; ")))
        }
    }

    /// Every rule with its settings outside any namespace: the defaults, overridden by this
    /// policy's rules.
    pub fn base_rules(&self) -> BTreeMap<String, RuleConfig> {
        let mut rules = Policy::default().rules;
        rules.extend(self.rules.clone());
        rules
    }

    /// The rules in force for a subject: the defaults, this policy's rules, then the matching
    /// namespaces' overrides, least specific first.
    pub fn rules_for(&self, subject: &str) -> BTreeMap<String, RuleConfig> {
        let mut rules = self.base_rules();
        let mut matching: Vec<(usize, &NamespacePolicy)> = self
            .namespaces
            .iter()
            .filter_map(|n| namespace_matches(&n.namespace, subject).map(|len| (len, n)))
            .collect();
        matching.sort_by_key(|(len, _)| *len);
        for (_, ns) in matching {
            rules.extend(ns.rules.clone());
        }
        rules
    }
}

/// A stored policy version as answered.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyVersion {
    /// 0 for the built-in default (nothing stored yet).
    pub version: i64,
    pub policy: Policy,
    /// The document as sent (JSON or TOML).
    pub source: String,
    pub created_at: i64,
    pub created_by: String,
    /// What is in force: every rule with its effective settings (defaults merged with the
    /// document's), and the subject asked for with its namespaces' overrides applied.
    #[serde(default)]
    pub effective: EffectivePolicy,
}

/// The merged view of a policy, for reading what applies without the defaults table.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectivePolicy {
    pub owner_required: bool,
    /// The subject these rules are for (`GET /accord/v1/policy?subject=…`); absent: outside
    /// any namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub rules: BTreeMap<String, RuleConfig>,
}

impl PolicyVersion {
    /// This version with its effective rules for `subject` (outside namespaces when `None`).
    pub fn with_effective(mut self, subject: Option<&str>) -> Self {
        self.effective = EffectivePolicy {
            owner_required: self.policy.owner_required,
            subject: subject.map(str::to_owned),
            rules: match subject {
                Some(s) => self.policy.rules_for(s),
                None => self.policy.base_rules(),
            },
        };
        self
    }
}

#[cfg(feature = "server")]
fn version_of(r: PolicyRecord) -> Result<PolicyVersion> {
    let version = PolicyVersion {
        policy: serde_json::from_value(r.body)
            .map_err(|e| GovernanceError::Invalid(format!("stored policy: {e}")))?,
        effective: EffectivePolicy::default(),
        version: r.version,
        source: r.source,
        created_at: r.created_at,
        created_by: r.created_by,
    };
    Ok(version.with_effective(None))
}

/// The policy in force as stored (version 0: the built-in default).
#[cfg(feature = "server")]
pub(crate) async fn current(session: &mut dyn crate::storage::Session) -> Result<PolicyVersion> {
    match session.latest_policy().await? {
        Some(r) => version_of(r),
        None => Ok(PolicyVersion {
            version: 0,
            policy: Policy::default(),
            source: String::new(),
            created_at: 0,
            created_by: "default".into(),
            effective: EffectivePolicy::default(),
        }
        .with_effective(None)),
    }
}

#[cfg(feature = "server")]
impl Governance {
    /// The policy in force.
    pub async fn policy(&self) -> Result<PolicyVersion> {
        Ok(self.snapshot().await?.policy.as_ref().clone())
    }

    pub async fn policy_version(&self, version: i64) -> Result<Option<PolicyVersion>> {
        let mut session = self.store.read().await?;
        session.policy(version).await?.map(version_of).transpose()
    }

    /// Stores a new policy version and puts it in force.
    pub async fn put_policy(&self, actor: &Actor, source: &str) -> Result<PolicyVersion> {
        let policy = Policy::parse(source)?;
        let body =
            serde_json::to_value(&policy).map_err(|e| GovernanceError::Invalid(e.to_string()))?;
        let mut session = self.store.write(&super::governance_lock()).await?;
        let previous = session.latest_policy().await?;
        if let Some(same) = previous.as_ref().filter(|p| p.body == body) {
            // The policy in force already: no new version, nothing to audit.
            return version_of(same.clone());
        }
        let record = PolicyRecord {
            version: previous.as_ref().map_or(1, |p| p.version + 1),
            body,
            source: source.to_owned(),
            created_at: now_millis(),
            created_by: actor.principal.clone(),
        };
        session.insert_policy(&record).await?;
        audit::write(
            session.as_mut(),
            actor.record(
                "policy.put",
                None,
                format!("policy/{}", record.version),
                previous.map(|p| p.body),
                Some(record.body.clone()),
            ),
        )
        .await?;
        session.commit().await?;
        self.invalidate();
        version_of(record)
    }
}
