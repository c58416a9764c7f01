//! Teams, the subject namespaces they claim, and per-subject governance: owner, description,
//! tags, domain, lifecycle and consumers. A subject belongs to its explicitly assigned team,
//! else to the team whose claim matches it most specifically (the longest claim).

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{audit, Actor, Governance, GovernanceError, Principal, Result, Role};
use crate::storage::{now_millis, Session, TeamRecord};
use crate::types::QualifiedSubject;

/// How to reach a team.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Contacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<String>,
}

/// A team as sent and answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Team {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub contacts: Contacts,
    /// Subject namespaces: a prefix (`payments.`) or, starting with `^`, a regular expression
    /// (`^payments\..*`).
    #[serde(default)]
    pub claims: Vec<String>,
}

/// Where a subject is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    Draft,
    #[default]
    Active,
    /// New versions are accepted with a warning.
    Deprecated,
    /// New versions are refused.
    Retired,
}

/// What is stored about a subject besides its schemas.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubjectGovernance {
    /// An explicitly assigned owner; without one, the claiming team owns the subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    /// Teams that declared they consume the subject.
    #[serde(default)]
    pub consumers: Vec<String>,
}

/// Who owns a subject, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ownership {
    pub team: String,
    /// `assigned` or `claim:<the claim that matched>`.
    pub source: String,
}

/// Whether a claim covers a subject name, and how specific it is (longer wins).
fn claim_matches(claim: &str, subject: &str) -> Option<usize> {
    if claim.starts_with('^') {
        Regex::new(claim)
            .ok()
            .filter(|r| r.is_match(subject))
            .map(|_| claim.len())
    } else {
        subject.starts_with(claim).then_some(claim.len())
    }
}

fn validate_team(team: &Team) -> Result<()> {
    let name_ok = !team.name.is_empty()
        && team
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !name_ok {
        return Err(GovernanceError::Invalid(format!(
            "invalid team name '{}': use letters, digits, '-', '_' and '.'",
            team.name
        )));
    }
    for c in &team.claims {
        if c.is_empty() {
            return Err(GovernanceError::Invalid(
                "an empty claim covers every subject".into(),
            ));
        }
        if c.starts_with('^') {
            Regex::new(c).map_err(|e| {
                GovernanceError::Invalid(format!(
                    "claim '{c}' is not a valid regular expression: {e}"
                ))
            })?;
        }
    }
    Ok(())
}

/// Every team, as stored.
pub(crate) async fn all_teams(session: &mut dyn Session) -> Result<Vec<Team>> {
    Ok(session.teams().await?.iter().map(team_of).collect())
}

fn team_of(r: &TeamRecord) -> Team {
    let mut t: Team = serde_json::from_value(r.body.clone()).unwrap_or_default();
    t.name = r.name.clone();
    t
}

pub(super) fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl Governance {
    pub async fn teams(&self) -> Result<Vec<Team>> {
        let mut session = self.store.read().await?;
        Ok(session.teams().await?.iter().map(team_of).collect())
    }

    pub async fn team(&self, name: &str) -> Result<Team> {
        let mut session = self.store.read().await?;
        session
            .team(name)
            .await?
            .map(|r| team_of(&r))
            .ok_or_else(|| GovernanceError::TeamNotFound(name.to_owned()))
    }

    /// Creates or replaces a team.
    pub async fn put_team(&self, actor: &Actor, team: Team) -> Result<Team> {
        validate_team(&team)?;
        let mut session = self.store.write(&super::governance_lock()).await?;
        let before = session.team(&team.name).await?;
        let now = now_millis();
        let mut body = to_json(&team);
        if let Some(m) = body.as_object_mut() {
            m.remove("name");
        }
        let record = TeamRecord {
            name: team.name.clone(),
            body,
            created_at: before.as_ref().map_or(now, |b| b.created_at),
            updated_at: now,
        };
        session.put_team(&record).await?;
        audit::write(
            session.as_mut(),
            Actor {
                team: Some(team.name.clone()),
                ..actor.clone()
            }
            .record(
                "team.put",
                None,
                &team.name,
                before.as_ref().map(|b| to_json(&team_of(b))),
                Some(to_json(&team)),
            ),
        )
        .await?;
        session.commit().await?;
        self.invalidate();
        Ok(team)
    }

    pub async fn delete_team(&self, actor: &Actor, name: &str) -> Result<Team> {
        let mut session = self.store.write(&super::governance_lock()).await?;
        let Some(before) = session.team(name).await? else {
            return Err(GovernanceError::TeamNotFound(name.to_owned()));
        };
        // A team that owns subjects (assigned, or by its claims) stays: deleting it would leave
        // them owned by a team that does not exist, or by nobody without anyone deciding so.
        let mut owned = Vec::new();
        for summary in session.subjects(None).await? {
            let owner = self.owner_of(session.as_mut(), &summary.subject).await?;
            if owner.is_some_and(|o| o.team == name) {
                owned.push(summary.subject.to_string());
            }
        }
        if !owned.is_empty() {
            let shown = owned.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            let more = if owned.len() > 5 { ", …" } else { "" };
            return Err(GovernanceError::Invalid(format!(
                "team '{name}' still owns {} subject(s) ({shown}{more}): assign them to another \
                 team, or change its claims, before deleting it",
                owned.len()
            )));
        }
        session.delete_team(name).await?;
        let team = team_of(&before);
        audit::write(
            session.as_mut(),
            actor.record("team.delete", None, name, Some(to_json(&team)), None),
        )
        .await?;
        session.commit().await?;
        self.invalidate();
        Ok(team)
    }

    /// The owner of a subject: assigned explicitly, else the most specific claim.
    pub async fn owner_of(
        &self,
        session: &mut dyn Session,
        subject: &QualifiedSubject,
    ) -> Result<Option<Ownership>> {
        if let Some(owner) = self.subject_governance_in(session, subject).await?.owner {
            return Ok(Some(Ownership {
                team: owner,
                source: "assigned".into(),
            }));
        }
        let mut best: Option<(usize, String, String)> = None;
        let snapshot = self.snapshot_in(session).await?;
        for team in snapshot.teams.iter() {
            for c in &team.claims {
                if let Some(len) = claim_matches(c, &subject.name) {
                    if best.as_ref().is_none_or(|b| len > b.0) {
                        best = Some((len, team.name.clone(), c.clone()));
                    }
                }
            }
        }
        Ok(best.map(|(_, team, claim)| Ownership {
            team,
            source: format!("claim:{claim}"),
        }))
    }

    pub(crate) async fn subject_governance_in(
        &self,
        session: &mut dyn Session,
        subject: &QualifiedSubject,
    ) -> Result<SubjectGovernance> {
        Ok(session
            .subject_governance(&subject.scope())
            .await?
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default())
    }

    /// A subject's governance record and owner.
    pub async fn subject(
        &self,
        subject: &QualifiedSubject,
    ) -> Result<(SubjectGovernance, Option<Ownership>)> {
        let mut session = self.store.read().await?;
        let g = self
            .subject_governance_in(session.as_mut(), subject)
            .await?;
        let owner = self.owner_of(session.as_mut(), subject).await?;
        Ok((g, owner))
    }

    /// Replaces a subject's governance record (owners and admins; only admins reassign it).
    pub async fn put_subject(
        &self,
        actor: &Actor,
        principal: &Principal,
        subject: &QualifiedSubject,
        update: SubjectGovernance,
    ) -> Result<SubjectGovernance> {
        let mut session = self.store.write(subject).await?;
        let before = self
            .subject_governance_in(session.as_mut(), subject)
            .await?;
        if update.owner != before.owner && !principal.is_admin() {
            return Err(GovernanceError::Forbidden(
                "Only an admin may assign a subject's owner".into(),
            ));
        }
        // Consumers declare themselves (`…/consumers`): the owner's record keeps them as they
        // are, so rewriting it cannot erase or forge other teams' declarations. Only an admin
        // sets them here.
        let mut update = update;
        if !principal.is_admin() {
            update.consumers = before.consumers.clone();
        }
        for team in update.owner.iter().chain(update.consumers.iter()) {
            if session.team(team).await?.is_none() {
                return Err(GovernanceError::TeamNotFound(team.clone()));
            }
        }
        session
            .put_subject_governance(&subject.scope(), &to_json(&update))
            .await?;
        audit::write(
            session.as_mut(),
            actor.record(
                "subject.governance.put",
                Some(subject),
                subject.display_name(),
                Some(to_json(&before)),
                Some(to_json(&update)),
            ),
        )
        .await?;
        session.commit().await?;
        Ok(update)
    }

    /// Declares (or withdraws) that the principal's team consumes a subject.
    pub async fn set_consumer(
        &self,
        actor: &Actor,
        subject: &QualifiedSubject,
        team: &str,
        consumes: bool,
    ) -> Result<SubjectGovernance> {
        let mut session = self.store.write(subject).await?;
        if session.team(team).await?.is_none() {
            return Err(GovernanceError::TeamNotFound(team.to_owned()));
        }
        let before = self
            .subject_governance_in(session.as_mut(), subject)
            .await?;
        let mut after = before.clone();
        after.consumers.retain(|t| t != team);
        if consumes {
            after.consumers.push(team.to_owned());
            after.consumers.sort();
        }
        if after != before {
            session
                .put_subject_governance(&subject.scope(), &to_json(&after))
                .await?;
            let action = if consumes {
                "subject.consumer.add"
            } else {
                "subject.consumer.remove"
            };
            audit::write(
                session.as_mut(),
                actor.record(
                    action,
                    Some(subject),
                    subject.display_name(),
                    Some(to_json(&before)),
                    Some(to_json(&after)),
                ),
            )
            .await?;
            session.commit().await?;
        }
        Ok(after)
    }

    /// Whether `principal` may change `subject` (its schemas, config, mode or governance). An
    /// owned subject is written by admins and members of its team; an unowned one by admins,
    /// and by members only when `owner_required` is off.
    pub async fn may_write_subject(
        &self,
        principal: &Principal,
        subject: &QualifiedSubject,
        owner_required: bool,
    ) -> Result<std::result::Result<(), String>> {
        if principal.is_admin() {
            return Ok(Ok(()));
        }
        let mut session = self.store.read().await?;
        self.may_write_subject_in(session.as_mut(), principal, subject, owner_required)
            .await
    }

    /// [`Self::may_write_subject`] for a caller that already holds a session.
    pub async fn may_write_subject_in(
        &self,
        session: &mut dyn Session,
        principal: &Principal,
        subject: &QualifiedSubject,
        owner_required: bool,
    ) -> Result<std::result::Result<(), String>> {
        if principal.is_admin() {
            return Ok(Ok(()));
        }
        if principal.role() == Role::Reader {
            return Ok(Err(format!("API key '{}' is read-only", principal.name())));
        }
        let owner = self.owner_of(session, subject).await?;
        let mine = principal.team();
        Ok(match owner {
            Some(o) if Some(o.team.as_str()) == mine => Ok(()),
            Some(o) => {
                let contact = session
                    .team(&o.team)
                    .await?
                    .map(|t| team_of(&t).contacts)
                    .and_then(|c| c.email.or(c.chat))
                    .map(|c| format!(" (contact: {c})"))
                    .unwrap_or_default();
                Err(format!(
                    "Subject '{}' is owned by team '{}'{contact}; team '{}' may not change it",
                    subject.display_name(),
                    o.team,
                    mine.unwrap_or("-")
                ))
            }
            None if owner_required => Err(format!(
                "Subject '{}' has no owner; only an admin may change it",
                subject.display_name()
            )),
            None => Ok(()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_match_by_prefix_or_pattern() {
        assert_eq!(claim_matches("payments.", "payments.card-value"), Some(9));
        assert_eq!(claim_matches("payments.", "orders.x"), None);
        assert!(claim_matches(r"^payments\.(card|cash)-.*", "payments.card-value").is_some());
        assert!(claim_matches(r"^payments\.(card|cash)-.*", "payments.bank-value").is_none());
        assert!(
            claim_matches("^(", "x").is_none(),
            "invalid patterns match nothing"
        );
    }
}
