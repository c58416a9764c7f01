//! Contract governance: who may write what (API keys, roles, team ownership of subjects), what a
//! subject's contract says about itself (owner, lifecycle, consumers), and the audit log. The
//! registry records its own mutations in the audit log inside its transactions; this module
//! owns everything else and the checks that run before a write.

use std::sync::Arc;

use crate::storage::{Store, StoreError};
use crate::types::QualifiedSubject;

pub mod audit;
pub mod auth;
pub mod ownership;

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

/// Governance tables change under one lock of their own (teams, keys, policy).
pub(crate) fn governance_lock() -> QualifiedSubject {
    QualifiedSubject {
        context: ".".into(),
        name: "__ACCORD_GOVERNANCE".into(),
    }
}
