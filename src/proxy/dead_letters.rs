//! Dead letters: refused messages under the `dlq` action are published to a dead-letter topic
//! through a connection to the broker the proxy owns (never the client's: its packet ids,
//! topic aliases and ACLs are the client's), with the reason, subject, client id and original
//! topic as MQTT 5 user properties. The connection (rumqttc, MQTT 5, QoS 1) reconnects by
//! itself; what cannot be queued is counted as failed.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::v5::mqttbytes::v5::{Packet, PubAckReason, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};

use super::metrics::ProxyMetrics;

/// Where the proxy's own connection goes.
#[derive(Debug, Clone)]
pub struct DeadLetterSettings {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// One refused message, as the dead-letter topic gets it.
pub struct DeadLetter<'a> {
    pub topic: &'a str,
    pub payload: bytes::Bytes,
    pub reason: &'a str,
    pub detail: &'a str,
    pub subject: Option<&'a str>,
    pub binding: Option<&'a str>,
    pub client_id: &'a str,
    pub original_topic: &'a str,
}

#[derive(Clone)]
pub struct DeadLetters {
    client: AsyncClient,
    metrics: Arc<ProxyMetrics>,
}

impl DeadLetters {
    /// Connects (in the background; publishes queue until the connection is up).
    pub fn start(settings: &DeadLetterSettings, metrics: Arc<ProxyMetrics>) -> Self {
        let mut options = MqttOptions::new(&settings.client_id, &settings.host, settings.port);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_clean_start(true);
        options.set_max_packet_size(Some(super::mqtt::codec::MAX_REMAINING_LENGTH as u32));
        if let Some(user) = &settings.username {
            options.set_credentials(user, settings.password.clone().unwrap_or_default());
        }
        let (client, mut events) = AsyncClient::new(options, 1024);
        let counted = metrics.clone();
        tokio::spawn(async move {
            let mut failing = false;
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        let ok = matches!(
                            ack.reason,
                            PubAckReason::Success | PubAckReason::NoMatchingSubscribers
                        );
                        let outcome = if ok { "published" } else { "failed" };
                        ProxyMetrics::outcome(&counted.dead_letters, outcome);
                        failing = false;
                    }
                    Ok(_) => failing = false,
                    Err(e) => {
                        if !failing {
                            tracing::warn!(error = %e, "dead-letter connection to the broker failed; retrying");
                        }
                        failing = true;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Self { client, metrics }
    }

    /// Queues a dead letter; counted as failed when the queue is full.
    pub fn send(&self, letter: DeadLetter<'_>) {
        let mut user = vec![
            ("accord-reason".to_owned(), letter.reason.to_owned()),
            ("accord-detail".to_owned(), letter.detail.to_owned()),
            ("accord-client-id".to_owned(), letter.client_id.to_owned()),
            (
                "accord-original-topic".to_owned(),
                letter.original_topic.to_owned(),
            ),
        ];
        if let Some(s) = letter.subject {
            user.push(("accord-subject".to_owned(), s.to_owned()));
        }
        if let Some(b) = letter.binding {
            user.push(("accord-binding".to_owned(), b.to_owned()));
        }
        let properties = PublishProperties {
            user_properties: user,
            ..Default::default()
        };
        if let Err(e) = self.client.try_publish_with_properties(
            letter.topic,
            QoS::AtLeastOnce,
            false,
            letter.payload,
            properties,
        ) {
            tracing::warn!(error = %e, topic = letter.topic, "dead letter not queued");
            ProxyMetrics::outcome(&self.metrics.dead_letters, "failed");
        }
    }
}
