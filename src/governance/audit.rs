//! The audit log: who did what to which target, when, with the state before and after. A
//! change's record is written through the change's own transaction (see the registry's write
//! paths and [`super::ownership`]); denied attempts get a record of their own.

use serde_json::Value;

use super::{Governance, Result};
use crate::storage::{now_millis, AuditFilter, AuditRecord, Session};
use crate::types::QualifiedSubject;

/// Who a change is made by, as recorded: the API key id (or `anonymous` when authentication is
/// off), and the request id the answer carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub principal: String,
    pub team: Option<String>,
    pub request_id: Option<String>,
}

impl Actor {
    /// Changes made by the server itself or a command-line tool.
    pub fn system(what: &str) -> Self {
        Self {
            principal: what.to_owned(),
            team: None,
            request_id: None,
        }
    }

    /// A successful change's record.
    pub fn record(
        &self,
        action: &str,
        subject: Option<&QualifiedSubject>,
        target: impl Into<String>,
        before: Option<Value>,
        after: Option<Value>,
    ) -> AuditRecord {
        AuditRecord {
            id: 0,
            at: now_millis(),
            principal: self.principal.clone(),
            action: action.to_owned(),
            outcome: "ok".into(),
            subject: subject.map(|s| s.display_name()),
            team: self.team.clone(),
            target: target.into(),
            before,
            after,
            request_id: self.request_id.clone(),
            detail: None,
        }
    }
}

/// Writes `record` through `session` (the transaction of the change it describes).
pub async fn write(session: &mut dyn Session, record: AuditRecord) -> Result<()> {
    session.insert_audit(&record).await?;
    Ok(())
}

impl Governance {
    /// Records a denied attempt (in its own transaction: nothing else happened).
    pub async fn record_denied(
        &self,
        actor: &Actor,
        action: &str,
        subject: Option<&QualifiedSubject>,
        target: &str,
        why: &str,
    ) -> Result<()> {
        let mut record = actor.record(action, subject, target, None, None);
        record.outcome = "denied".into();
        record.detail = Some(why.to_owned());
        let mut session = self.store.write(&super::governance_lock()).await?;
        session.insert_audit(&record).await?;
        session.commit().await?;
        Ok(())
    }

    /// Audit entries, newest first.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let mut session = self.store.read().await?;
        Ok(session.audit(filter).await?)
    }
}
