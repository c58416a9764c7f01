//! The interceptor both protocols use: a published message's destination is matched to a
//! binding, the binding names the subject and how the message names its schema, the schema
//! comes from the registry (cached), the payload is validated, and the answer is a verdict the
//! protocol session carries out (forward, or refuse with the binding's action).

use std::sync::Arc;

use crate::formats::PayloadOptions;
use crate::governance::bindings::{topic_matches, Action, Binding, Encoding, Mqtt311Refusal};

use super::registry_client::{Lookup, LookupError};

/// What happens to a message on a destination no binding covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
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
    /// MQTT 5 user properties (where a binding's `schemaIdFrom` may point).
    pub user_properties: &'a [(String, String)],
    /// MQTT 5 content type (`…;id=<schema id>` when a binding reads the id from it).
    pub content_type: Option<&'a str>,
}

impl<'a> Message<'a> {
    /// A message with no properties.
    pub fn new(destination: &'a str, payload: &'a [u8]) -> Self {
        Self {
            destination,
            payload,
            user_properties: &[],
            content_type: None,
        }
    }

    /// The schema id the message carries outside its payload where `from` says
    /// (`user-property:<name>` or `content-type`): `Ok(None)` when it carries none, `Err`
    /// when it carries one that is not a number.
    pub fn schema_id(&self, from: Option<&str>) -> Result<Option<i64>, String> {
        let text = match from {
            None => return Ok(None),
            Some("content-type") => self.content_type.and_then(|c| {
                c.split(';')
                    .skip(1)
                    .filter_map(|p| p.trim().split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("id"))
                    .map(|(_, v)| v.trim().trim_matches('"'))
            }),
            Some(from) => {
                let name = from.strip_prefix("user-property:").unwrap_or(from);
                self.user_properties
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            }
        };
        match text {
            None => Ok(None),
            Some(t) => t
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .map(Some)
                .ok_or_else(|| format!("the schema id '{t}' the message carries is not a number")),
        }
    }
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
    /// For `mark` and `log`, and a registry outage under `on_registry_unavailable = pass`:
    /// forward after all.
    pub forward: bool,
    /// What a 3.1.1 client gets when the message is not forwarded.
    pub mqtt311: Mqtt311Refusal,
}

/// A binding in force, without copying it out of its list.
pub struct Bound {
    list: Arc<Vec<Binding>>,
    index: usize,
}

impl std::ops::Deref for Bound {
    type Target = Binding;

    fn deref(&self) -> &Binding {
        &self.list[self.index]
    }
}

/// The interceptor, shared by every connection.
pub struct Interceptor {
    registry: Arc<dyn Lookup>,
    /// Bindings from the proxy's own configuration; they come before the registry's.
    configured: std::sync::RwLock<Arc<Vec<Binding>>>,
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
            configured: std::sync::RwLock::new(Arc::new(configured)),
            unbound,
            on_unavailable,
            dlq_topic,
            options: PayloadOptions::default(),
        }
    }

    /// Replaces the bindings from the proxy's own configuration (a reload); connections keep
    /// going and their next message sees the new ones.
    pub fn set_configured(&self, bindings: Vec<Binding>) {
        if let Ok(mut c) = self.configured.write() {
            *c = Arc::new(bindings);
        }
    }

    /// The bindings from the proxy's own configuration.
    pub fn configured(&self) -> Arc<Vec<Binding>> {
        self.configured
            .read()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// The binding that covers `destination`: the most specific matching filter (most literal
    /// levels, then no `#`), the proxy's own before the registry's on a tie.
    pub fn binding_for(&self, destination: &str) -> Option<Bound> {
        let lists = [self.configured(), self.registry.bindings()];
        let mut best: Option<(usize, usize, (usize, bool))> = None;
        for (l, list) in lists.iter().enumerate() {
            for (i, b) in list.iter().enumerate() {
                if !topic_matches(&b.destination, destination) {
                    continue;
                }
                let literal = b
                    .destination
                    .split('/')
                    .filter(|l| *l != "+" && *l != "#")
                    .count();
                let score = (literal, !b.destination.ends_with('#'));
                if best.is_none_or(|(_, _, s)| score > s) {
                    best = Some((l, i, score));
                }
            }
        }
        let (l, index, _) = best?;
        let [configured, registry] = lists;
        let list = if l == 0 { configured } else { registry };
        Some(Bound { list, index })
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
                    mqtt311: Mqtt311Refusal::default(),
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
                    mqtt311: binding.mqtt311,
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
                let carried = msg
                    .schema_id(binding.schema_id_from.as_deref())
                    .map_err(|e| (Reason::NoSchemaId, e))?;
                let id = match (carried, binding.version) {
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
        let named = binding.encoding == Encoding::Confluent
            || matches!(
                msg.schema_id(binding.schema_id_from.as_deref()),
                Ok(Some(_))
            );
        if named {
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

    #[test]
    fn carried_schema_ids() {
        let props = [("schema-id".to_owned(), "7".to_owned())];
        let m = Message {
            destination: "t",
            payload: b"",
            user_properties: &props,
            content_type: Some("application/vnd.accord+json; id=\"9\""),
        };
        assert_eq!(m.schema_id(None), Ok(None));
        assert_eq!(m.schema_id(Some("user-property:schema-id")), Ok(Some(7)));
        assert_eq!(m.schema_id(Some("user-property:other")), Ok(None));
        assert_eq!(m.schema_id(Some("content-type")), Ok(Some(9)));
        let bad = [("schema-id".to_owned(), "x".to_owned())];
        let m = Message {
            user_properties: &bad,
            content_type: Some("application/json"),
            ..m
        };
        assert!(m.schema_id(Some("user-property:schema-id")).is_err());
        assert_eq!(m.schema_id(Some("content-type")), Ok(None));
    }
}
