//! The governance service (the server half): the checks a write passes, the policy and teams
//! as read at one moment, and the errors governance answers with.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{audit, lint, ownership, policy, Violation};
use crate::formats::ParsedSchema;
use crate::storage::{Session, Store, StoreError};
use crate::types::QualifiedSubject;

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
    #[error("Binding '{0}' not found")]
    BindingNotFound(String),
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

/// How long the policy and the teams are served from memory when the change log is not being
/// followed (a process without a [`crate::changes::ChangeFeed`], such as a command-line tool).
/// A server forgets the snapshot as soon as its follower reads a governance change, from any
/// process. (API keys are never cached: a revocation holds from the next request.)
const SNAPSHOT_TTL: Duration = Duration::from_secs(1);

/// The policy in force and the teams, as read at one moment.
pub(crate) struct Snapshot {
    at: Instant,
    pub(crate) policy: Arc<policy::PolicyVersion>,
    pub(crate) teams: Arc<Vec<ownership::Team>>,
}

/// The governance service, shared by the HTTP layer.
pub struct Governance {
    pub(crate) store: Arc<dyn Store>,
    /// Whether requests must carry an API key.
    pub auth_enabled: bool,
    snapshot: Mutex<Option<Arc<Snapshot>>>,
    /// Bumped by every invalidation, so a snapshot read before a change cannot be stored after
    /// it was forgotten.
    generation: std::sync::atomic::AtomicU64,
    /// Whether the change log's follower invalidates the snapshot (then it has no TTL).
    followed: std::sync::atomic::AtomicBool,
    /// How many refused attempts were recorded in the current second (see
    /// `audit::DENIED_PER_SECOND`).
    pub(crate) denied: Mutex<audit::DeniedWindow>,
}

impl Governance {
    pub fn new(store: Arc<dyn Store>, auth_enabled: bool) -> Self {
        Self {
            store,
            auth_enabled,
            snapshot: Mutex::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
            followed: std::sync::atomic::AtomicBool::new(false),
            denied: Mutex::new(audit::DeniedWindow::default()),
        }
    }

    /// The policy and teams, from memory when read less than [`SNAPSHOT_TTL`] ago.
    pub(crate) async fn snapshot(&self) -> Result<Arc<Snapshot>> {
        if let Some(s) = self.cached_snapshot() {
            return Ok(s);
        }
        let mut session = self.store.read().await?;
        self.load_snapshot(session.as_mut()).await
    }

    /// [`Self::snapshot`] for a caller that already holds a session: a cold cache is filled
    /// through that session, never through a second connection (a request holding one
    /// pooled connection while waiting for another starves the pool under load).
    pub(crate) async fn snapshot_in(&self, session: &mut dyn Session) -> Result<Arc<Snapshot>> {
        if let Some(s) = self.cached_snapshot() {
            return Ok(s);
        }
        self.load_snapshot(session).await
    }

    fn cached_snapshot(&self) -> Option<Arc<Snapshot>> {
        let cached = self.snapshot.lock().ok().and_then(|s| s.clone());
        let followed = self.followed.load(std::sync::atomic::Ordering::Acquire);
        cached.filter(|s| followed || s.at.elapsed() < SNAPSHOT_TTL)
    }

    /// From now on the change log's follower invalidates the snapshot: no TTL.
    pub fn followed_by_change_log(&self) {
        self.followed
            .store(true, std::sync::atomic::Ordering::Release);
        self.invalidate();
    }

    async fn load_snapshot(&self, session: &mut dyn Session) -> Result<Arc<Snapshot>> {
        let generation = self.generation.load(std::sync::atomic::Ordering::Acquire);
        let policy = policy::current(session).await?;
        let teams = ownership::all_teams(session).await?;
        let fresh = Arc::new(Snapshot {
            at: Instant::now(),
            policy: Arc::new(policy),
            teams: Arc::new(teams),
        });
        if let Ok(mut slot) = self.snapshot.lock() {
            // Stored only when nothing was invalidated while it was read.
            if self.generation.load(std::sync::atomic::Ordering::Acquire) == generation {
                *slot = Some(fresh.clone());
            }
        }
        Ok(fresh)
    }

    /// Forgets the snapshot after a change to the policy or the teams.
    pub fn invalidate(&self) {
        if let Ok(mut slot) = self.snapshot.lock() {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            *slot = None;
        }
    }
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
        let mut session = self.store.read().await?;
        self.check_registration_in(session.as_mut(), subject, schema, previous)
            .await
    }

    /// [`Self::check_registration`] inside a session the caller holds (a change set's).
    pub async fn check_registration_in(
        &self,
        session: &mut dyn crate::storage::Session,
        subject: &QualifiedSubject,
        schema: &dyn ParsedSchema,
        previous: Option<&dyn ParsedSchema>,
    ) -> Result<Vec<Violation>> {
        let mut warnings = Vec::new();
        let g = self.subject_governance_in(session, subject).await?;
        let owner = self.owner_of(session, subject).await?;
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
                existing: false,
            }),
            _ => {}
        }
        let snapshot = self.snapshot_in(session).await?;
        let policy = &snapshot.policy.policy;
        if owner.is_none() && policy.owner_required {
            return Err(GovernanceError::OwnerRequired(subject.display_name()));
        }
        let (enforced, warned) = self.lint(policy, subject, g.domain.as_deref(), schema, previous);
        let metrics = crate::metrics::global();
        for v in &enforced {
            metrics.lint(&v.rule_id, "enforced");
        }
        for v in &warned {
            metrics.lint(&v.rule_id, if v.existing { "existing" } else { "warning" });
        }
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
        domain: Option<&str>,
        schema: &dyn ParsedSchema,
        previous: Option<&dyn ParsedSchema>,
    ) -> (Vec<Violation>, Vec<Violation>) {
        let rules = policy.rules_for(&subject.name);
        lint::lint(&lint::LintInput {
            subject: &subject.name,
            schema,
            previous,
            rules: &rules,
            domain,
        })
    }

    /// Whether the policy in force requires every written subject to have an owner.
    pub async fn owner_required(&self) -> Result<bool> {
        Ok(self.snapshot().await?.policy.policy.owner_required)
    }
}

/// Governance tables change under one lock of their own (teams, keys, policy).
pub(crate) fn governance_lock() -> QualifiedSubject {
    QualifiedSubject {
        context: ".".into(),
        name: "__ACCORD_GOVERNANCE".into(),
    }
}
