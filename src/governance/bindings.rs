//! Bindings: which contract a destination carries, for `accord-proxy`. A binding names a
//! protocol and a destination pattern (an MQTT topic filter), the subject whose schemas its
//! messages must match (fixed, or a template over the topic), how a message names its schema,
//! and what the proxy does with a message that does not match. Governance data like teams:
//! changed by admins or the team owning the bound subject, audited, in the change log.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ownership::to_json;
use super::{audit, Actor, Governance, GovernanceError, Principal, Result};
use crate::storage::{now_millis, BindingRecord, Session};
use crate::types::QualifiedSubject;

/// The protocol a binding applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Mqtt,
}

/// How a message names the schema it was written with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Confluent wire format: magic byte 0, the 4-byte schema id (one of the subject's live
    /// versions), for Protobuf the message-index path, then the payload.
    #[default]
    Confluent,
    /// The bare payload, validated against `version` (the latest when absent), or against the
    /// schema id an MQTT 5 user property or content type carries (`schemaIdFrom`).
    Raw,
}

/// What the proxy does with a message that does not match its contract.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Refuse it with the protocol's negative acknowledgement.
    #[default]
    Reject,
    /// Publish it to `dlqTopic` instead, with the reason.
    Dlq,
    /// Forward it with the verdict in user properties.
    Mark,
    /// Forward it and count it.
    Log,
    /// Close the client's connection.
    Disconnect,
}

/// What an MQTT 3.1.1 client (which has no negative acknowledgement) gets for a refused message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mqtt311Refusal {
    /// Acknowledge it as usual and drop it.
    #[default]
    AckDrop,
    /// Close the connection.
    Close,
}

/// A binding as sent and answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Binding {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub protocol: Protocol,
    /// The destination pattern: an MQTT topic filter (`+` one level, `#` the rest).
    pub destination: String,
    /// The subject, or a template with `{topic}` (the message's topic, `/` as `.`), e.g.
    /// `{topic}-value`.
    pub subject: String,
    #[serde(default)]
    pub encoding: Encoding,
    /// With `raw`: the version validated against (the latest when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// With `raw`: where an MQTT 5 message may carry its schema id instead,
    /// `user-property:<name>` or `content-type` (e.g. `application/vnd.accord+json;id=7`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_id_from: Option<String>,
    #[serde(default)]
    pub action: Action,
    /// With `dlq`: the topic refused messages go to (no wildcards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlq_topic: Option<String>,
    /// What MQTT 3.1.1 clients get for a refused message.
    #[serde(default)]
    pub mqtt311: Mqtt311Refusal,
    /// The MQTT 5 reason code of a refusal: 153 (0x99, payload format invalid; the default),
    /// 131 (0x83, implementation specific error) or 135 (0x87, not authorized).
    #[serde(default = "default_reason")]
    pub reason_code: u8,
}

fn default_reason() -> u8 {
    0x99
}

/// The placeholder a subject template may hold.
pub const TOPIC_PLACEHOLDER: &str = "{topic}";

impl Binding {
    /// The bound subject when it is fixed (not a template).
    pub fn fixed_subject(&self) -> Option<QualifiedSubject> {
        if self.subject.contains('{') {
            return None;
        }
        QualifiedSubject::parse(&self.subject).ok()
    }

    /// The subject for a message on `topic`.
    pub fn subject_for(&self, topic: &str) -> String {
        self.subject
            .replace(TOPIC_PLACEHOLDER, &topic.replace('/', "."))
    }

    /// Every problem with the binding, as one message.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let mut problems = Vec::new();
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 128
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            problems.push(format!(
                "invalid binding name '{}': 1 to 128 letters, digits, '-', '_' and '.'",
                self.name
            ));
        }
        if let Err(e) = check_topic_filter(&self.destination) {
            problems.push(format!("destination '{}': {e}", self.destination));
        }
        if self.subject.contains('{') {
            let rest = self.subject.replace(TOPIC_PLACEHOLDER, "");
            if rest.contains('{') || rest.contains('}') {
                problems.push(format!(
                    "subject template '{}': the only placeholder is {{topic}}",
                    self.subject
                ));
            } else if QualifiedSubject::parse(&self.subject_for("t")).is_err() {
                problems.push(format!(
                    "subject template '{}' does not make a valid subject",
                    self.subject
                ));
            }
        } else if self.subject.is_empty() || QualifiedSubject::parse(&self.subject).is_err() {
            problems.push(format!("invalid subject '{}'", self.subject));
        }
        match self.encoding {
            Encoding::Confluent => {
                if self.version.is_some() {
                    problems.push("version applies to the raw encoding only (the Confluent encoding names its schema id)".into());
                }
                if self.schema_id_from.is_some() {
                    problems.push("schemaIdFrom applies to the raw encoding only".into());
                }
            }
            Encoding::Raw => {
                if self.version.is_some_and(|v| v < 1) {
                    problems
                        .push("version must be at least 1 (leave it out for the latest)".into());
                }
                if let Some(from) = &self.schema_id_from {
                    let ok = from == "content-type"
                        || from
                            .strip_prefix("user-property:")
                            .is_some_and(|n| !n.is_empty());
                    if !ok {
                        problems.push(format!(
                            "schemaIdFrom '{from}': use 'content-type' or 'user-property:<name>'"
                        ));
                    }
                }
            }
        }
        match (&self.action, &self.dlq_topic) {
            (Action::Dlq, None) => problems.push("action dlq needs a dlqTopic".into()),
            (Action::Dlq, Some(t)) if t.is_empty() || t.contains(['+', '#', '\0']) => problems
                .push(format!(
                    "dlqTopic '{t}' must be a topic name without wildcards"
                )),
            (Action::Dlq, Some(_)) => {}
            (_, Some(_)) => problems.push("dlqTopic applies to action dlq only".into()),
            (_, None) => {}
        }
        if ![0x83, 0x87, 0x99].contains(&self.reason_code) {
            problems.push(format!(
                "reasonCode {} must be 153 (0x99), 131 (0x83) or 135 (0x87)",
                self.reason_code
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// An MQTT topic filter: levels separated by `/`, `+` a whole level, `#` only as the whole last
/// level, no NUL, at most 65,535 bytes.
pub fn check_topic_filter(filter: &str) -> std::result::Result<(), String> {
    if filter.is_empty() {
        return Err("empty".into());
    }
    if filter.len() > 65_535 {
        return Err("longer than 65,535 bytes".into());
    }
    if filter.contains('\0') {
        return Err("contains NUL".into());
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err("'#' must be the whole last level".into());
        }
        if level.contains('+') && *level != "+" {
            return Err("'+' must be a whole level".into());
        }
    }
    Ok(())
}

/// Whether a topic filter matches a topic name (MQTT 3.1.1 §4.7; topics starting with `$` are
/// not matched by a filter starting with a wildcard).
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

fn binding_of(r: &BindingRecord) -> Binding {
    let mut b: Binding = serde_json::from_value(r.body.clone()).unwrap_or_default();
    b.name = r.name.clone();
    b
}

impl Governance {
    pub async fn bindings(&self) -> Result<Vec<Binding>> {
        let mut session = self.store.read().await?;
        Ok(session.bindings().await?.iter().map(binding_of).collect())
    }

    pub async fn binding(&self, name: &str) -> Result<Binding> {
        let mut session = self.store.read().await?;
        session
            .binding(name)
            .await?
            .map(|r| binding_of(&r))
            .ok_or_else(|| GovernanceError::BindingNotFound(name.to_owned()))
    }

    /// Whether `principal` may create, change or delete a binding of `binding`'s subject:
    /// admins, or members of the team owning the (fixed) subject; a template spans subjects,
    /// so only admins. Read through the caller's session (a task holding one never asks the
    /// store for another).
    async fn may_bind(
        &self,
        session: &mut dyn Session,
        principal: &Principal,
        binding: &Binding,
    ) -> Result<()> {
        if principal.is_admin() {
            return Ok(());
        }
        let Some(subject) = binding.fixed_subject() else {
            return Err(GovernanceError::Forbidden(format!(
                "binding '{}' names a subject template; only an admin may change it",
                binding.name
            )));
        };
        self.may_write_subject_in(session, principal, &subject, true)
            .await?
            .map_err(GovernanceError::Forbidden)
    }

    /// Creates or replaces a binding; `principal` must be allowed to bind both the old and the
    /// new subject.
    pub async fn put_binding(
        &self,
        principal: &Principal,
        actor: &Actor,
        binding: Binding,
    ) -> Result<Binding> {
        binding.validate().map_err(GovernanceError::Invalid)?;
        let mut session = self.store.write(&super::governance_lock()).await?;
        self.may_bind(session.as_mut(), principal, &binding).await?;
        let before = session.binding(&binding.name).await?;
        if let Some(b) = &before {
            self.may_bind(session.as_mut(), principal, &binding_of(b))
                .await?;
        }
        let now = now_millis();
        let mut body = to_json(&binding);
        if let Some(m) = body.as_object_mut() {
            m.remove("name");
        }
        let record = BindingRecord {
            name: binding.name.clone(),
            body,
            created_at: before.as_ref().map_or(now, |b| b.created_at),
            updated_at: now,
        };
        if before.as_ref().is_some_and(|b| b.body == record.body) {
            // The same binding again: nothing changes, nothing is recorded.
            return Ok(binding);
        }
        session.put_binding(&record).await?;
        let subject = binding.fixed_subject();
        audit::write(
            session.as_mut(),
            actor.record(
                "binding.put",
                subject.as_ref(),
                &binding.name,
                before.as_ref().map(|b| to_json(&binding_of(b))),
                Some(to_json(&binding)),
            ),
        )
        .await?;
        session.commit().await?;
        Ok(binding)
    }

    pub async fn delete_binding(
        &self,
        principal: &Principal,
        actor: &Actor,
        name: &str,
    ) -> Result<Binding> {
        let mut session = self.store.write(&super::governance_lock()).await?;
        let Some(before) = session.binding(name).await? else {
            return Err(GovernanceError::BindingNotFound(name.to_owned()));
        };
        let binding = binding_of(&before);
        self.may_bind(session.as_mut(), principal, &binding).await?;
        session.delete_binding(name).await?;
        audit::write(
            session.as_mut(),
            actor.record(
                "binding.delete",
                binding.fixed_subject().as_ref(),
                name,
                Some(to_json(&binding)),
                None,
            ),
        )
        .await?;
        session.commit().await?;
        Ok(binding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(destination: &str, subject: &str) -> Binding {
        Binding {
            name: "b".into(),
            destination: destination.into(),
            subject: subject.into(),
            reason_code: 0x99,
            ..Binding::default()
        }
    }

    #[test]
    fn topic_filters() {
        for ok in ["a", "a/b", "a/+/c", "+", "#", "a/#", "+/+", "/a", "a//b"] {
            assert!(check_topic_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a#", "a/#/b", "a+", "a/b+/c", "#/a", "a\0b"] {
            assert!(check_topic_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching() {
        assert!(topic_matches("sensors/+/temp", "sensors/1/temp"));
        assert!(!topic_matches("sensors/+/temp", "sensors/1/2/temp"));
        assert!(topic_matches("sensors/#", "sensors"));
        assert!(topic_matches("sensors/#", "sensors/a/b"));
        assert!(topic_matches("#", "a/b"));
        assert!(!topic_matches("#", "$SYS/uptime"));
        assert!(!topic_matches("+/uptime", "$SYS/uptime"));
        assert!(topic_matches("$SYS/#", "$SYS/uptime"));
        assert!(!topic_matches("a/b", "a/b/c"));
        assert!(topic_matches("a//b", "a//b"));
    }

    #[test]
    fn validation() {
        assert!(binding("s/+/t", "orders-value").validate().is_ok());
        assert!(binding("s/#", "{topic}-value").validate().is_ok());
        assert_eq!(
            binding("s/#", "{topic}-value").subject_for("s/a/b"),
            "s.a.b-value"
        );
        assert!(binding("s/#", "{device}-value").validate().is_err());
        assert!(binding("s/#/x", "x").validate().is_err());
        let mut b = binding("s", "x");
        b.version = Some(2);
        assert!(b.validate().unwrap_err().contains("raw"));
        b.encoding = Encoding::Raw;
        assert!(b.validate().is_ok());
        b.action = Action::Dlq;
        assert!(b.validate().unwrap_err().contains("dlqTopic"));
        b.dlq_topic = Some("dead/+".into());
        assert!(b.validate().is_err());
        b.dlq_topic = Some("dead/letters".into());
        assert!(b.validate().is_ok());
        b.reason_code = 0x80;
        assert!(b.validate().is_err());
        b.reason_code = 0x87;
        b.schema_id_from = Some("header".into());
        assert!(b.validate().is_err());
        b.schema_id_from = Some("user-property:schema-id".into());
        assert!(b.validate().is_ok());
    }
}
