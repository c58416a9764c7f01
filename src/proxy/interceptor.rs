//! The interceptor both protocols use: a published message's destination is matched to a
//! binding, the binding names the subject and how the message names its schema, the schema
//! comes from the registry (cached), the payload is validated, and the answer is a verdict the
//! protocol session carries out (forward, or refuse with the binding's action).

use std::sync::Arc;

use crate::formats::PayloadOptions;
use crate::governance::bindings::{topic_matches, Action, Binding, Encoding};

use super::registry_client::{Lookup, LookupError};

/// What happens to a message on a destination no binding covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unbound {
    /// Forward it unchecked.
    #[default]
    Allow,
    /// Refuse it as unregistered: only contracted destinations carry traffic.
    Reject,
}

/// What happens to a message whose schema the proxy has never seen while the registry cannot
/// be reached (messages whose schema is cached are checked as usual).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnRegistryUnavailable {
    #[default]
    Reject,
    Pass,
    Dlq,
}

/// One published message, as the protocol session read it.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The destination (an MQTT topic name).
    pub destination: &'a str,
    pub payload: &'a [u8],
    /// A schema id the message carries outside its payload (an MQTT 5 user property or content
    /// type), when the binding says where to look and it was there.
    pub schema_id: Option<i64>,
}

/// Why a message was refused; the label is the metrics' `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// On a destination no binding covers, with `unbound = reject`.
    Unregistered,
    /// Confluent encoding without the magic byte and schema id.
    NoSchemaId,
    /// A schema id that is not one of the subject's live versions.
    UnknownSchema,
    /// The payload does not match the schema.
    InvalidPayload,
    /// The registry could not be reached and the schema was never seen.
    RegistryUnavailable,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::Unregistered => "unregistered",
            Reason::NoSchemaId => "no-schema-id",
            Reason::UnknownSchema => "unknown-schema",
            Reason::InvalidPayload => "invalid-payload",
            Reason::RegistryUnavailable => "registry-unavailable",
        }
    }
}

/// The interceptor's answer for one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// No binding covers the destination and unbound destinations are allowed.
    Unbound,
    /// Valid: forward it as it came.
    Valid {
        binding: String,
        subject: String,
        schema_id: i64,
    },
    /// Not valid (or not checkable): carry out `action`.
    Refused(Refusal),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub binding: Option<String>,
    pub subject: Option<String>,
    pub reason: Reason,
    /// What is wrong, for the producer (MQTT 5 reason string) and the logs.
    pub detail: String,
    pub action: Action,
    /// Where `dlq` sends it.
    pub dlq_topic: Option<String>,
    /// The MQTT 5 reason code of a refusal.
    pub reason_code: u8,
    /// For a registry outage under `on_registry_unavailable = pass`: forward after all.
    pub forward: bool,
}

/// The interceptor, shared by every connection.
pub struct Interceptor {
    registry: Arc<dyn Lookup>,
    /// Bindings from the proxy's own configuration; they come before the registry's.
    configured: Vec<Binding>,
    unbound: Unbound,
    on_unavailable: OnRegistryUnavailable,
    dlq_topic: Option<String>,
    options: PayloadOptions,
}

impl Interceptor {
    pub fn new(
        registry: Arc<dyn Lookup>,
        configured: Vec<Binding>,
        unbound: Unbound,
        on_unavailable: OnRegistryUnavailable,
        dlq_topic: Option<String>,
    ) -> Self {
        Self {
            registry,
            configured,
            unbound,
            on_unavailable,
            dlq_topic,
            options: PayloadOptions::default(),
        }
    }

    /// The binding that covers `destination`: the most specific matching filter (most literal
    /// levels, then no `#`), the proxy's own before the registry's on a tie.
    pub fn binding_for(&self, destination: &str) -> Option<Binding> {
        let registry = self.registry.bindings();
        let mut best: Option<(&Binding, (usize, bool))> = None;
        for b in self.configured.iter().chain(registry.iter()) {
            if !topic_matches(&b.destination, destination) {
                continue;
            }
            let literal = b
                .destination
                .split('/')
                .filter(|l| *l != "+" && *l != "#")
                .count();
            let score = (literal, !b.destination.ends_with('#'));
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((b, score));
            }
        }
        best.map(|(b, _)| b.clone())
    }

    /// Checks one message.
    pub async fn check(&self, msg: &Message<'_>) -> Verdict {
        let Some(binding) = self.binding_for(msg.destination) else {
            return match self.unbound {
                Unbound::Allow => Verdict::Unbound,
                Unbound::Reject => Verdict::Refused(Refusal {
                    binding: None,
                    subject: None,
                    reason: Reason::Unregistered,
                    detail: format!("no contract is bound to '{}'", msg.destination),
                    action: Action::Reject,
                    dlq_topic: None,
                    reason_code: 0x99,
                    forward: false,
                }),
            };
        };
        let subject = binding.subject_for(msg.destination);
        match self.judge(&binding, &subject, msg).await {
            Ok(schema_id) => Verdict::Valid {
                binding: binding.name.clone(),
                subject,
                schema_id,
            },
            Err((reason, detail)) => {
                let (action, forward) = if reason == Reason::RegistryUnavailable {
                    match self.on_unavailable {
                        OnRegistryUnavailable::Reject => (Action::Reject, false),
                        OnRegistryUnavailable::Pass => (Action::Log, true),
                        OnRegistryUnavailable::Dlq => (Action::Dlq, false),
                    }
                } else {
                    (
                        binding.action,
                        matches!(binding.action, Action::Mark | Action::Log),
                    )
                };
                Verdict::Refused(Refusal {
                    binding: Some(binding.name.clone()),
                    subject: Some(subject),
                    reason,
                    detail,
                    action,
                    dlq_topic: binding.dlq_topic.clone().or_else(|| self.dlq_topic.clone()),
                    reason_code: binding.reason_code,
                    forward,
                })
            }
        }
    }

    /// The schema id the message was valid against, or why not.
    async fn judge(
        &self,
        binding: &Binding,
        subject: &str,
        msg: &Message<'_>,
    ) -> Result<i64, (Reason, String)> {
        let unavailable = |e: LookupError| match e {
            LookupError::Unavailable(why) => (Reason::RegistryUnavailable, why),
            other => (Reason::UnknownSchema, other.to_string()),
        };
        let (id, datum) = match binding.encoding {
            Encoding::Confluent => {
                let Some((id, datum)) = confluent_frame(msg.payload) else {
                    return Err((
                        Reason::NoSchemaId,
                        "the payload does not start with the Confluent magic byte 0 and a \
                         4-byte schema id"
                            .into(),
                    ));
                };
                (id, datum)
            }
            Encoding::Raw => {
                let id = match (msg.schema_id, binding.version) {
                    (Some(id), _) => id,
                    (None, Some(v)) => {
                        let versions = self
                            .registry
                            .versions(subject, None)
                            .await
                            .map_err(unavailable)?;
                        versions.version(v).ok_or_else(|| {
                            (
                                Reason::UnknownSchema,
                                format!("subject '{subject}' has no live version {v}"),
                            )
                        })?
                    }
                    (None, None) => {
                        let versions = self
                            .registry
                            .versions(subject, None)
                            .await
                            .map_err(unavailable)?;
                        versions.latest().map(|(_, id)| id).ok_or_else(|| {
                            (
                                Reason::UnknownSchema,
                                format!("subject '{subject}' has no live version"),
                            )
                        })?
                    }
                };
                (id, msg.payload)
            }
        };
        if binding.encoding == Encoding::Confluent || msg.schema_id.is_some() {
            // The id the producer names must be one of the subject's live versions; a version
            // registered a moment ago is looked up again rather than refused.
            let cached = self.registry.versions(subject, None).await;
            let known = match cached {
                Ok(v) if v.has_id(id) => true,
                Ok(_) | Err(LookupError::NotFound(_)) => self
                    .registry
                    .versions(subject, Some(id))
                    .await
                    .map(|v| v.has_id(id))
                    .map_err(unavailable)?,
                Err(e) => return Err(unavailable(e)),
            };
            if !known {
                return Err((
                    Reason::UnknownSchema,
                    format!("schema id {id} is not a live version of subject '{subject}'"),
                ));
            }
        }
        let schema = self
            .registry
            .schema(subject, id)
            .await
            .map_err(unavailable)?;
        schema
            .validate(datum, self.options)
            .map_err(|e| (Reason::InvalidPayload, e.to_string()))?;
        Ok(id)
    }
}

/// The schema id and datum of a Confluent-framed payload.
pub fn confluent_frame(payload: &[u8]) -> Option<(i64, &[u8])> {
    match payload {
        [0, a, b, c, d, rest @ ..] => Some((i64::from(u32::from_be_bytes([*a, *b, *c, *d])), rest)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        assert_eq!(confluent_frame(&[0, 0, 0, 0, 7, 2]), Some((7, &[2u8][..])));
        assert_eq!(confluent_frame(&[0, 0, 0, 1, 0]), Some((256, &[][..])));
        assert_eq!(confluent_frame(&[1, 0, 0, 0, 7, 2]), None);
        assert_eq!(confluent_frame(&[0, 0, 0]), None);
    }
}
