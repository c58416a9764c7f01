//! The audit log: who did what to which target, when, with the state before and after. A
//! change's record is written through the change's own transaction (see the registry's write
//! paths and [`super::ownership`]); denied attempts get a record of their own.

use serde_json::Value;

use super::{Governance, Result};
use crate::storage::{now_millis, AuditFilter, AuditRecord, Session};
use crate::types::QualifiedSubject;

/// Refused attempts recorded one by one per second, at most.
pub const DENIED_PER_SECOND: u32 = 20;

/// The current second's count of recorded refusals, and those not recorded since.
#[derive(Debug, Default)]
pub struct DeniedWindow {
    second: i64,
    recorded: u32,
    suppressed: u64,
    suppressed_since: i64,
}

impl DeniedWindow {
    /// Whether a refusal at `now` is recorded on its own, and the summary (count, since) of
    /// those not recorded, when one is due (once per second, with the first refusal after).
    fn admit(&mut self, now: i64) -> (bool, Option<(u64, i64)>) {
        let second = now / 1000;
        let mut summary = None;
        if second != self.second {
            if self.suppressed > 0 {
                summary = Some((self.suppressed, self.suppressed_since));
            }
            *self = DeniedWindow {
                second,
                ..DeniedWindow::default()
            };
        }
        if self.recorded < DENIED_PER_SECOND {
            self.recorded += 1;
            (true, summary)
        } else {
            if self.suppressed == 0 {
                self.suppressed_since = now;
            }
            self.suppressed += 1;
            (false, summary)
        }
    }
}

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
        // Refused attempts cost nothing to make, so recording each one would let anyone turn
        // the audit log into a write amplifier: at most DENIED_PER_SECOND are recorded one by
        // one each second; the rest are counted and summed up in one record.
        let (admit, summary) = {
            let mut w = self.denied.lock().unwrap_or_else(|e| e.into_inner());
            w.admit(now_millis())
        };
        if !admit && summary.is_none() {
            return Ok(());
        }
        let mut session = self.store.write(&super::governance_lock()).await?;
        if let Some((count, since)) = summary {
            let mut r = actor.record("audit.denied_not_recorded", None, "*", None, None);
            r.principal = "*".into();
            r.team = None;
            r.outcome = "denied".into();
            r.detail = Some(format!(
                "{count} more refused attempts since {since} (Unix ms) were not recorded one by one"
            ));
            session.insert_audit(&r).await?;
        }
        if admit {
            let mut record = actor.record(action, subject, target, None, None);
            record.outcome = "denied".into();
            record.detail = Some(why.to_owned());
            session.insert_audit(&record).await?;
        }
        session.commit().await?;
        Ok(())
    }

    /// Removes the entries older than `days` days; how many went.
    pub async fn expire_audit(&self, days: u64) -> Result<u64> {
        let cutoff = now_millis() - (days as i64).saturating_mul(24 * 3600 * 1000);
        let mut session = self.store.write(&super::governance_lock()).await?;
        let gone = session.delete_audit_before(cutoff).await?;
        session.commit().await?;
        Ok(gone)
    }

    /// Audit entries, newest first.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let mut session = self.store.read().await?;
        Ok(session.audit(filter).await?)
    }
}
