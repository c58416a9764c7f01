//! Contract governance: who may write what (API keys, roles, team ownership of subjects), what a
//! subject's contract says about itself (owner, lifecycle, consumers), and the audit log. The
//! registry records its own mutations in the audit log inside its transactions; this module
//! owns everything else and the checks that run before a write.

use std::sync::Arc;

use crate::formats::ParsedSchema;
use crate::storage::{Store, StoreError};
use crate::types::QualifiedSubject;

pub mod audit;
pub mod auth;
pub mod lint;
pub mod ownership;
pub mod policy;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use audit::Actor;
pub use auth::{Principal, Role};

#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("Team '{0}' not found")]
    TeamNotFound(String),
    #[error("API key '{0}' not found")]
    KeyNotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("Subject '{0}' is retired: it takes no new versions")]
    Retired(String),
    #[error("Subject '{0}' is in no team's namespace, and the policy requires an owner")]
    OwnerRequired(String),
    #[error("The schema breaks {} enforced policy rule(s): {}", .0.len(), .0.iter().map(|v| format!("{} at '{}': {}", v.rule_id, v.path, v.message)).collect::<Vec<_>>().join("; "))]
    PolicyViolations(Vec<Violation>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T> = std::result::Result<T, GovernanceError>;

/// The governance service, shared by the HTTP layer.
pub struct Governance {
    pub(crate) store: Arc<dyn Store>,
    /// Whether requests must carry an API key.
    pub auth_enabled: bool,
}

impl Governance {
    pub fn new(store: Arc<dyn Store>, auth_enabled: bool) -> Self {
        Self {
            store,
            auth_enabled,
        }
    }
}

/// One finding of a governance check: which rule, where in the schema, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// Stable rule id, e.g. `subject.lifecycle` or `avro.field-name`.
    pub rule_id: String,
    /// `error`, `warning` or `info`.
    pub severity: String,
    /// JSON pointer into the schema (`""` for the subject itself).
    pub path: String,
    pub message: String,
}

impl Governance {
    /// The checks a registration passes before the registry sees it: the subject's lifecycle
    /// (retired refuses, deprecated warns) and, when the policy requires it, an owner. Returns
    /// the warnings to report with a successful registration.
    pub async fn check_registration(
        &self,
        subject: &QualifiedSubject,
        schema: &dyn ParsedSchema,
        previous: Option<&dyn ParsedSchema>,
    ) -> Result<Vec<Violation>> {
        let mut warnings = Vec::new();
        let (g, owner) = self.subject(subject).await?;
        match g.lifecycle {
            ownership::Lifecycle::Retired => {
                return Err(GovernanceError::Retired(subject.display_name()))
            }
            ownership::Lifecycle::Deprecated => warnings.push(Violation {
                rule_id: "subject.lifecycle".into(),
                severity: "warning".into(),
                path: String::new(),
                message: format!(
                    "Subject '{}' is deprecated; plan its consumers' move",
                    subject.display_name()
                ),
            }),
            _ => {}
        }
        let policy = self.policy().await?.policy;
        if owner.is_none() && policy.owner_required {
            return Err(GovernanceError::OwnerRequired(subject.display_name()));
        }
        let (enforced, warned) = self.lint(&policy, subject, schema, previous);
        if !enforced.is_empty() {
            return Err(GovernanceError::PolicyViolations(enforced));
        }
        warnings.extend(warned);
        Ok(warnings)
    }

    /// The policy's lint rules for `subject` over a schema: (enforced, warnings).
    pub fn lint(
        &self,
        policy: &policy::Policy,
        subject: &QualifiedSubject,
        schema: &dyn ParsedSchema,
        previous: Option<&dyn ParsedSchema>,
    ) -> (Vec<Violation>, Vec<Violation>) {
        let rules = policy.rules_for(&subject.name);
        lint::lint(&lint::LintInput {
            subject: &subject.name,
            schema,
            previous,
            rules: &rules,
        })
    }

    /// Whether the policy in force requires every written subject to have an owner.
    pub async fn owner_required(&self) -> Result<bool> {
        let mut session = self.store.read().await?;
        Ok(session
            .latest_policy()
            .await?
            .and_then(|p| {
                p.body
                    .get("ownerRequired")
                    .and_then(serde_json::Value::as_bool)
            })
            .unwrap_or(false))
    }
}

/// Governance tables change under one lock of their own (teams, keys, policy).
pub(crate) fn governance_lock() -> QualifiedSubject {
    QualifiedSubject {
        context: ".".into(),
        name: "__ACCORD_GOVERNANCE".into(),
    }
}
