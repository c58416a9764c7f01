//! Contract governance: who may write what (API keys, roles, team ownership of subjects), what a
//! subject's contract says about itself (owner, lifecycle, consumers), and the audit log. The
//! registry records its own mutations in the audit log inside its transactions; this module
//! owns everything else and the checks that run before a write.
//!
//! Without the server feature only the lint rules and the policy document remain (what the
//! `accord` CLI runs offline).

#[cfg(feature = "server")]
pub mod audit;
#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod bindings;
pub mod lint;
#[cfg(feature = "server")]
pub mod ownership;
pub mod policy;
#[cfg(feature = "server")]
mod service;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[cfg(feature = "server")]
pub use audit::Actor;
#[cfg(feature = "server")]
pub use auth::{Principal, Role};
#[cfg(feature = "server")]
pub(crate) use service::governance_lock;
#[cfg(feature = "server")]
pub use service::{Governance, GovernanceError, Result};

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
    /// The previous version already had this finding: reported, not enforced.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub existing: bool,
}
