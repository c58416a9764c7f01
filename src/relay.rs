//! The Kafka relay: publishes every change-log entry to a Kafka topic as a CloudEvent.
//!
//! At-least-once and in order per subject: entries are produced in sequence order, keyed by
//! subject, by an idempotent producer, and the relay's position (the newest sequence whose
//! entry and every earlier one the broker acknowledged) is stored in the database, so a relay
//! that crashes or loses its broker resumes from it and never skips an entry; an entry
//! acknowledged but not yet recorded is published again (a duplicate with the same `id`).
//!
//! Every instance runs the relay, but only one publishes at a time: it holds a lease on its row
//! of the `relays` table, renewed while it runs and given up at shutdown; when the holder dies,
//! another instance claims the row once the lease has passed and resumes from its position.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::changes::ChangeFeed;
use crate::storage::{now_millis, ChangeRecord, Store, StoreResult};
use crate::types::DEFAULT_CONTEXT;

/// The relay's settings (`ACCORD_KAFKA_*`).
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// `bootstrap.servers`.
    pub brokers: String,
    pub topic: String,
    /// librdkafka properties, applied over Accord's defaults (SASL, TLS, timeouts, …).
    pub properties: Vec<(String, String)>,
    /// The CloudEvents `source` of every event.
    pub source: String,
    /// How long a lease lasts without renewal: the longest a dead relay's work waits for
    /// another instance.
    pub lease: Duration,
    /// Partitions of the topic when the relay creates it.
    pub partitions: i32,
    /// Replication factor when the relay creates the topic (-1: the broker's default).
    pub replication: i32,
}

/// How often a busy relay records its acknowledged position.
const RECORD_EVERY: Duration = Duration::from_millis(100);
/// Entries produced before their acknowledgements are awaited.
const BATCH: i64 = 500;
/// The CloudEvents content type of every record (structured mode).
pub const CONTENT_TYPE: &str = "application/cloudevents+json; charset=UTF-8";

/// The running relay.
pub struct KafkaRelay {
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl KafkaRelay {
    /// Checks the configuration (librdkafka refuses unknown or invalid properties here, so a
    /// typo fails at start-up) and starts relaying in the background.
    pub fn start(
        store: Arc<dyn Store>,
        feed: Arc<ChangeFeed>,
        config: RelayConfig,
    ) -> anyhow::Result<Arc<Self>> {
        let client = client_config(&config);
        let producer: FutureProducer<Logged> = client
            .create_with_context(Logged)
            .map_err(|e| anyhow::anyhow!("Kafka producer configuration: {e}"))?;
        // The admin client only creates the topic; its connection failures would repeat the
        // producer's in the log.
        let admin: AdminClient<Logged> = client
            .clone()
            .set("log_level", "2")
            .create_with_context(Logged)
            .map_err(|e| anyhow::anyhow!("Kafka admin client configuration: {e}"))?;
        let (stop, stopped) = watch::channel(false);
        let worker = Worker {
            name: format!("kafka:{}", config.topic),
            owner: format!(
                "{}:{}:{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "accord".into()),
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ),
            store,
            feed,
            producer,
            admin,
            config,
            stopped,
        };
        tracing::info!(
            brokers = %worker.config.brokers,
            topic = %worker.config.topic,
            "Kafka relay configured"
        );
        let task = tokio::spawn(worker.run());
        Ok(Arc::new(Self {
            stop,
            task: std::sync::Mutex::new(Some(task)),
        }))
    }

    /// Stops publishing, records how far the broker acknowledged and gives the lease up (so
    /// another instance takes over at once); waits for that at most 10 s.
    pub async fn stop(&self) {
        self.stop.send_replace(true);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            if tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .is_err()
            {
                tracing::warn!("the Kafka relay did not stop within 10 s");
            }
        }
    }
}

/// librdkafka's own logs and errors, into `tracing`.
struct Logged;

impl ClientContext for Logged {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
                tracing::error!(facility, "librdkafka: {message}")
            }
            // Mostly a broker that cannot be reached; librdkafka retries, the relay waits.
            RDKafkaLogLevel::Error | RDKafkaLogLevel::Warning => {
                tracing::warn!(facility, "librdkafka: {message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(facility, "librdkafka: {message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(facility, "librdkafka: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // The same failures librdkafka logs above (and retries); debug to say them once.
        tracing::debug!(error = %error, "Kafka: {reason}");
    }
}

fn client_config(config: &RelayConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.brokers)
        .set("client.id", "accord-server")
        // Exactly once per partition from the producer's side, in order, with retries.
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        // Back within 2 s of a broker's return (librdkafka's default waits up to 10 s).
        .set("reconnect.backoff.max.ms", "2000");
    for (key, value) in &config.properties {
        client.set(key, value);
    }
    client
}

/// The CloudEvent (structured mode, JSON) of one log entry.
pub fn cloud_event(change: &ChangeRecord, source: &str) -> Value {
    let mut event = json!({
        "specversion": "1.0",
        "id": change.seq.to_string(),
        "source": source,
        "type": format!("io.accord.{}", change.kind),
        "time": crate::changes::rfc3339(change.at),
        "datacontenttype": "application/json",
        "sequence": change.seq,
        "context": change.context,
        "data": change.body,
    });
    if let Some(subject) = &change.subject {
        event["subject"] = json!(subject);
    }
    event
}

/// The record key: the subject, qualified by its context outside the default one; for changes
/// that concern no subject, what they concern: the kind's family and the audit target, e.g.
/// `team:payments`, `config:__GLOBAL`, `key:ak…`.
pub fn record_key(change: &ChangeRecord) -> String {
    match &change.subject {
        Some(s) if change.context == DEFAULT_CONTEXT => s.clone(),
        Some(s) => format!(":{}:{s}", change.context),
        None => {
            let family = change.kind.split('.').next().unwrap_or(&change.kind);
            let target = change.body.get("target").and_then(Value::as_str);
            format!("{family}:{}", target.unwrap_or_default())
        }
    }
}

/// Resolves when the relay is told to stop (or its handle is gone).
async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await.map(|_| ());
}

struct Worker {
    name: String,
    owner: String,
    store: Arc<dyn Store>,
    feed: Arc<ChangeFeed>,
    producer: FutureProducer<Logged>,
    admin: AdminClient<Logged>,
    config: RelayConfig,
    stopped: watch::Receiver<bool>,
}

/// Why a leadership ended.
enum Ended {
    Stopping,
    LeaseLost,
}

impl Worker {
    async fn run(mut self) {
        let metrics = crate::metrics::global();
        loop {
            if *self.stopped.borrow() {
                return;
            }
            let now = now_millis();
            match self.claim(now).await {
                Ok(Some(position)) => {
                    metrics.relay_leader.set(1);
                    tracing::info!(
                        position,
                        "Kafka relay: this server publishes the change log"
                    );
                    let ended = self.lead(position).await;
                    metrics.relay_leader.set(0);
                    match ended {
                        Ended::Stopping => {
                            self.release().await;
                            return;
                        }
                        Ended::LeaseLost => {
                            tracing::warn!("Kafka relay: lease lost to another server");
                        }
                    }
                }
                Ok(None) => self.report_lag().await,
                Err(e) => {
                    metrics.relay_error("store");
                    tracing::warn!(error = %e, "Kafka relay: lease not claimed");
                }
            }
            self.pause(self.standby_interval()).await;
        }
    }

    /// How often a standby instance tries the lease.
    fn standby_interval(&self) -> Duration {
        (self.config.lease / 4).clamp(Duration::from_millis(100), Duration::from_secs(2))
    }

    fn renew_interval(&self) -> Duration {
        (self.config.lease / 3).max(Duration::from_millis(100))
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX / 2)
    }

    /// Sleeps, or returns early when stopping.
    async fn pause(&mut self, d: Duration) {
        let _ = tokio::time::timeout(d, until_stopped(&mut self.stopped)).await;
    }

    async fn claim(&self, now: i64) -> StoreResult<Option<i64>> {
        let mut session = self.store.read().await?;
        // A relay's first run starts at the oldest entry still kept.
        let (_, pruned) = session.change_bounds().await?;
        session
            .relay_claim(&self.name, &self.owner, now, now + self.lease_ms(), pruned)
            .await
    }

    /// Records `position` and renews the lease; false when another instance holds it now.
    async fn advance(&self, position: i64) -> StoreResult<bool> {
        let mut session = self.store.read().await?;
        let held = session
            .relay_advance(
                &self.name,
                &self.owner,
                position,
                now_millis() + self.lease_ms(),
            )
            .await?;
        if held {
            crate::metrics::global().relay_position.set(position);
        }
        Ok(held)
    }

    async fn release(&self) {
        let released = async {
            let mut session = self.store.read().await?;
            session.relay_release(&self.name, &self.owner).await
        };
        if let Err(e) = released.await {
            tracing::warn!(error = %e, "Kafka relay: lease not released (it expires by itself)");
        }
    }

    /// Lag as a standby instance sees it: the head less the relay's recorded position.
    async fn report_lag(&self) {
        let read = async {
            let mut session = self.store.read().await?;
            let (head, _) = session.change_bounds().await?;
            Ok::<_, crate::storage::StoreError>((head, session.relay_position(&self.name).await?))
        };
        if let Ok((head, Some(position))) = read.await {
            let m = crate::metrics::global();
            m.relay_position.set(position);
            m.relay_lag.set(head - position);
        }
    }

    /// Publishes from `position` while this instance holds the lease. The acknowledged
    /// position is recorded at most every [`RECORD_EVERY`] while entries flow (so a busy relay
    /// does not write a row per batch; a crash repeats at most that much), and the lease is
    /// renewed every third of its length.
    async fn lead(&mut self, mut position: i64) -> Ended {
        let metrics = crate::metrics::global();
        let mut head_seen = self.feed.head_watch();
        let mut topic_ready = false;
        let mut backoff = Duration::from_millis(200);
        let mut recorded = position;
        let mut renewed = tokio::time::Instant::now();
        loop {
            if renewed.elapsed() >= self.record_due(position, recorded) || *self.stopped.borrow() {
                match self.advance(position).await {
                    Ok(true) => {
                        recorded = position;
                        renewed = tokio::time::Instant::now();
                    }
                    Ok(false) => return Ended::LeaseLost,
                    Err(e) => {
                        metrics.relay_error("store");
                        tracing::warn!(error = %e, "Kafka relay: position not recorded");
                    }
                }
            }
            if *self.stopped.borrow() {
                return Ended::Stopping;
            }
            if !topic_ready {
                topic_ready = self.ensure_topic().await;
            }
            let batch = match self.next_batch(&mut position).await {
                Ok(batch) => batch,
                Err(e) => {
                    metrics.relay_error("store");
                    tracing::warn!(error = %e, "Kafka relay: change log not read");
                    self.pause(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            if batch.is_empty() {
                // Until something newer commits, a record or renewal is due, or shutdown.
                let wait = self
                    .record_due(position, recorded)
                    .saturating_sub(renewed.elapsed());
                head_seen.mark_unchanged();
                tokio::select! {
                    _ = tokio::time::timeout(wait, head_seen.wait_for(|h| *h > position)) => {}
                    _ = until_stopped(&mut self.stopped) => {}
                }
                continue;
            }
            match self.publish(&batch, &mut position).await {
                Ok(None) => backoff = Duration::from_millis(200),
                Ok(Some(ended)) => return ended,
                Err(e) => {
                    metrics.relay_error("delivery");
                    tracing::warn!(error = %e, position, "Kafka relay: delivery failed; retrying from the last acknowledged entry");
                    if let Some((code, reason)) = self.producer.client().fatal_error() {
                        tracing::error!(
                            ?code,
                            reason,
                            "Kafka producer failed fatally; starting a new one"
                        );
                        match client_config(&self.config).create_with_context(Logged) {
                            Ok(p) => self.producer = p,
                            Err(e) => tracing::error!(error = %e, "Kafka producer not recreated"),
                        }
                    }
                    // The topic may be gone (a broker that lost its data): check it again.
                    topic_ready = false;
                    self.pause(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// How long after the last write to the relay's row the next is due: soon while an
    /// acknowledged position is unrecorded, else when the lease wants renewing.
    fn record_due(&self, position: i64, recorded: i64) -> Duration {
        if position > recorded {
            RECORD_EVERY
        } else {
            self.renew_interval()
        }
    }

    /// The entries after `position`; skips (loudly) what retention removed unpublished.
    async fn next_batch(&self, position: &mut i64) -> StoreResult<Vec<ChangeRecord>> {
        let mut session = self.store.read().await?;
        let (head, pruned) = session.change_bounds().await?;
        if *position < pruned {
            crate::metrics::global().relay_error("expired");
            tracing::error!(
                from = *position + 1,
                through = pruned,
                "Kafka relay: change log entries were removed by retention before Kafka \
                 acknowledged them; they are not published"
            );
            *position = pruned;
        }
        crate::metrics::global().relay_lag.set(head - *position);
        if head <= *position {
            return Ok(Vec::new());
        }
        session.changes_after(*position, BATCH).await
    }

    /// Produces `batch` and awaits the acknowledgements in order, renewing the lease meanwhile;
    /// `position` advances over the acknowledged prefix (the caller records it). `Some` when
    /// leadership ended.
    async fn publish(
        &self,
        batch: &[ChangeRecord],
        position: &mut i64,
    ) -> Result<Option<Ended>, KafkaError> {
        let metrics = crate::metrics::global();
        let mut stopped = self.stopped.clone();
        let mut pending: Vec<(i64, DeliveryFuture)> = Vec::with_capacity(batch.len());
        let mut refused = None;
        for change in batch {
            let payload = cloud_event(change, &self.config.source).to_string();
            let key = record_key(change);
            let record = FutureRecord::to(&self.config.topic)
                .key(&key)
                .payload(&payload)
                .timestamp(change.at)
                .headers(OwnedHeaders::new().insert(Header {
                    key: "content-type",
                    value: Some(CONTENT_TYPE),
                }));
            match self.producer.send_result(record) {
                Ok(delivery) => pending.push((change.seq, delivery)),
                Err((e, _)) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        let mut renew = tokio::time::interval(self.renew_interval());
        renew.tick().await;
        let mut recorded = *position;
        for (seq, delivery) in pending {
            tokio::pin!(delivery);
            let delivered = loop {
                tokio::select! {
                    d = &mut delivery => break d,
                    _ = renew.tick() => {
                        match self.advance(*position).await {
                            Ok(true) => recorded = *position,
                            Ok(false) => return Ok(Some(Ended::LeaseLost)),
                            Err(e) => {
                                metrics.relay_error("store");
                                tracing::warn!(error = %e, "Kafka relay: lease not renewed");
                            }
                        }
                    }
                    _ = until_stopped(&mut stopped) => {
                        self.record(*position, recorded).await;
                        return Ok(Some(Ended::Stopping));
                    }
                }
            };
            match delivered {
                Ok(Ok(_)) => {
                    *position = seq;
                    metrics.relay_published.inc();
                }
                Ok(Err((e, _))) => {
                    self.record(*position, recorded).await;
                    return Err(e);
                }
                Err(_) => {
                    self.record(*position, recorded).await;
                    return Err(KafkaError::Canceled);
                }
            }
        }
        match refused {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    /// Records `position` if it moved past what was recorded.
    async fn record(&self, position: i64, recorded: i64) {
        if position > recorded {
            if let Err(e) = self.advance(position).await {
                tracing::warn!(error = %e, "Kafka relay: position not recorded");
            }
        }
    }

    /// Creates the topic when it does not exist; whether it exists now (as far as known).
    async fn ensure_topic(&self) -> bool {
        let replication = TopicReplication::Fixed(self.config.replication);
        let topic = NewTopic::new(&self.config.topic, self.config.partitions, replication);
        // Shorter than a renewal, so the lease is not lost meanwhile.
        let timeout = self.renew_interval().min(Duration::from_secs(10));
        let options = AdminOptions::new().request_timeout(Some(timeout));
        match self.admin.create_topics([&topic], &options).await {
            Ok(results) => match results.into_iter().next() {
                Some(Ok(_)) => {
                    tracing::info!(topic = %self.config.topic, "Kafka relay: topic created");
                    true
                }
                Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) | None => true,
                Some(Err((_, code))) => {
                    // Perhaps not allowed to create topics: publishing still tries.
                    crate::metrics::global().relay_error("topic");
                    tracing::warn!(topic = %self.config.topic, ?code, "Kafka relay: topic not created");
                    true
                }
            },
            Err(e) => {
                crate::metrics::global().relay_error("topic");
                tracing::warn!(error = %e, "Kafka relay: topic not checked");
                false
            }
        }
    }
}
