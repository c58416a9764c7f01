//! What the proxy asks of the registry, over HTTP to `accord-server`, behind the narrow
//! [`Lookup`] trait. Schemas by id are parsed once and kept for good (ids are immutable); a
//! subject's live versions and the bindings are kept until the change feed says they changed
//! (followed by long-poll, resynced when the feed expired). When the registry cannot be
//! reached, what is cached keeps working.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use super::metrics::RegistryStats;
use crate::formats::{Formats, ParsedSchema, ResolvedReference};
use crate::governance::bindings::Binding;
use crate::types::{QualifiedSubject, SchemaType};

#[derive(Debug, Clone, thiserror::Error)]
pub enum LookupError {
    /// The registry could not be asked (down, timing out, answering 5xx).
    #[error("registry unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    NotFound(String),
    /// The registry's schema does not parse here (should not happen).
    #[error("schema {0} does not parse: {1}")]
    Invalid(i64, String),
}

/// A subject's live versions, oldest first: `(version, schema id)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versions(pub Vec<(i64, i64)>);

impl Versions {
    pub fn latest(&self) -> Option<(i64, i64)> {
        self.0.last().copied()
    }

    pub fn version(&self, version: i64) -> Option<i64> {
        self.0
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, id)| *id)
    }

    pub fn has_id(&self, id: i64) -> bool {
        self.0.iter().any(|(_, i)| *i == id)
    }
}

/// The registry as the interceptor sees it.
#[async_trait]
pub trait Lookup: Send + Sync {
    /// The parsed schema with this id, in `subject`'s context.
    async fn schema(&self, subject: &str, id: i64) -> Result<Arc<dyn ParsedSchema>, LookupError>;
    /// The subject's live versions; `fresh_for` asks the registry again because a message
    /// named that id, which the cached versions lack (it may have been registered a moment
    /// ago).
    async fn versions(
        &self,
        subject: &str,
        fresh_for: Option<i64>,
    ) -> Result<Arc<Versions>, LookupError>;
    /// The bindings the registry holds, as last read.
    fn bindings(&self) -> Arc<Vec<Binding>>;
}

/// [`Lookup`] over HTTP, with the caches the change feed keeps current.
pub struct HttpRegistry {
    base: String,
    http: reqwest::Client,
    key: Option<(String, String)>,
    formats: Formats,
    /// Parsed schemas by id, then by context (an id names a schema within its context).
    schemas: RwLock<HashMap<i64, ByContext>>,
    /// Each subject's live versions, and whether the change feed said they changed since (a
    /// stale entry is read again, but still serves while the registry cannot be reached).
    subjects: RwLock<HashMap<String, Entry>>,
    /// When each `(subject, id)` a message named was last looked up fresh and not found.
    missed: std::sync::Mutex<HashMap<(String, i64), std::time::Instant>>,
    bindings: RwLock<Arc<Vec<Binding>>>,
    reachable: AtomicBool,
    /// Whether the bindings were read at least once.
    loaded: AtomicBool,
    stats: RegistryStats,
}

/// One id's parsed schema in each context that asked for it.
type ByContext = Vec<(String, Arc<dyn ParsedSchema>)>;

/// A subject's versions as cached.
#[derive(Clone)]
struct Entry {
    versions: Arc<Versions>,
    /// The change feed said they changed since they were read.
    stale: bool,
}

/// How often the same unknown id sends a subject's versions to be read again: a producer
/// naming one in every message costs the registry at most ten reads a second.
const FRESH_AT_MOST_EVERY: Duration = Duration::from_millis(100);
/// Unknown ids remembered at most (forgotten all at once beyond).
const MISSED_CAP: usize = 10_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaAnswer {
    schema: String,
    #[serde(default)]
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<Reference>,
}

#[derive(Deserialize)]
struct Reference {
    name: String,
    subject: String,
    version: i64,
}

#[derive(Deserialize)]
struct ListedVersion {
    subject: String,
    version: i64,
    id: i64,
}

impl HttpRegistry {
    /// A client of the registry at `base` (e.g. `http://accord:8081`), with an API key
    /// `(id, secret)` when authentication is on there.
    pub fn new(base: &str, key: Option<(String, String)>) -> Arc<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .unwrap_or_default();
        Arc::new(Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
            key,
            formats: Formats::default(),
            schemas: RwLock::default(),
            subjects: RwLock::default(),
            missed: std::sync::Mutex::default(),
            bindings: RwLock::default(),
            reachable: AtomicBool::new(false),
            loaded: AtomicBool::new(false),
            stats: RegistryStats::default(),
        })
    }

    /// Whether the last request reached the registry.
    pub fn reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    /// Whether the registry's bindings were read at least once (the proxy is ready).
    pub fn loaded(&self) -> bool {
        self.loaded.load(Ordering::Relaxed)
    }

    /// What the client counts, for the proxy's metrics.
    pub fn stats(&self) -> &RegistryStats {
        &self.stats
    }

    fn set_reachable(&self, reachable: bool) {
        self.reachable.store(reachable, Ordering::Relaxed);
        self.stats.reachable.set(i64::from(reachable));
        if !reachable {
            self.stats.errors.inc();
        }
    }

    async fn get(&self, path: &str, timeout: Option<Duration>) -> Result<Value, LookupError> {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some((id, secret)) = &self.key {
            req = req.basic_auth(id, Some(secret));
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let answer = match req.send().await {
            Ok(a) => a,
            Err(e) => {
                self.set_reachable(false);
                return Err(LookupError::Unavailable(e.to_string()));
            }
        };
        let status = answer.status();
        self.set_reachable(!status.is_server_error());
        let body: Value = answer
            .json()
            .await
            .map_err(|e| LookupError::Unavailable(format!("unreadable answer: {e}")))?;
        if status.is_success() {
            Ok(body)
        } else if status.is_client_error() {
            Err(LookupError::NotFound(format!(
                "{path}: {}",
                body["message"].as_str().unwrap_or_default()
            )))
        } else {
            Err(LookupError::Unavailable(format!("{path}: {status}")))
        }
    }

    /// Reads the bindings again.
    pub async fn refresh_bindings(&self) -> Result<(), LookupError> {
        let list = self.get("/accord/v1/bindings", None).await?;
        let bindings: Vec<Binding> = serde_json::from_value(list)
            .map_err(|e| LookupError::Unavailable(format!("bindings: {e}")))?;
        if let Ok(mut b) = self.bindings.write() {
            *b = Arc::new(bindings);
        }
        self.loaded.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Forgets what a change-log entry changed.
    fn apply(&self, change: &Value) -> bool {
        let kind = change["kind"].as_str().unwrap_or_default();
        let context = change["context"].as_str().unwrap_or(".");
        let subject = change["subject"].as_str().map(|s| {
            if context == "." {
                s.to_owned()
            } else {
                format!(":{context}:{s}")
            }
        });
        match kind {
            "schema.registered"
            | "version.deleted"
            | "version.deleted.permanent"
            | "subject.deleted"
            | "subject.deleted.permanent" => {
                if let (Some(s), Ok(mut subjects)) = (subject, self.subjects.write()) {
                    if let Some(entry) = subjects.get_mut(&s) {
                        entry.stale = true;
                    }
                }
                false
            }
            "context.deleted" => {
                if let Ok(mut subjects) = self.subjects.write() {
                    subjects.values_mut().for_each(|e| e.stale = true);
                }
                false
            }
            k => k.starts_with("binding."),
        }
    }

    /// Follows the change feed until the process ends: keeps the caches current, resyncs when
    /// the feed's retention passed its position, retries while the registry is unreachable.
    pub async fn follow(self: Arc<Self>) {
        let mut after: Option<i64> = None;
        loop {
            let at = match after {
                Some(at) => at,
                None => match self.resync().await {
                    Ok(head) => {
                        after = Some(head);
                        head
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "registry not reachable; serving what is cached");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            let page = self
                .get(
                    &format!("/accord/v1/changes?after={at}&limit=1000&wait=25s"),
                    Some(Duration::from_secs(35)),
                )
                .await;
            match page {
                Ok(page) => {
                    let mut bindings_changed = false;
                    for change in page["changes"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                    {
                        bindings_changed |= self.apply(change);
                    }
                    if bindings_changed {
                        if let Err(e) = self.refresh_bindings().await {
                            tracing::warn!(error = %e, "bindings not reloaded");
                            after = None;
                            continue;
                        }
                    }
                    after = page["next"].as_i64().or(after);
                    if let (Some(next), Some(head)) = (after, page["head"].as_i64()) {
                        self.stats.feed_position.set(next);
                        self.stats.feed_lag.set((head - next).max(0));
                    }
                }
                // 410: the position is gone; read everything again.
                Err(LookupError::NotFound(_)) => after = None,
                Err(e) => {
                    tracing::warn!(error = %e, "change feed interrupted; serving what is cached");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Reads the head, then the bindings, and forgets the subjects' versions: what changes
    /// after the head is followed from there.
    async fn resync(&self) -> Result<i64, LookupError> {
        let page = self
            .get(
                &format!("/accord/v1/changes?after={}&limit=1", i64::MAX),
                None,
            )
            .await?;
        let head = page["head"].as_i64().unwrap_or(0);
        self.refresh_bindings().await?;
        if let Ok(mut subjects) = self.subjects.write() {
            subjects.values_mut().for_each(|e| e.stale = true);
        }
        Ok(head)
    }

    /// The references of a schema, transitively, dependencies first.
    async fn resolve(
        &self,
        context_subject: &str,
        references: Vec<Reference>,
        out: &mut Vec<ResolvedReference>,
        depth: usize,
    ) -> Result<(), LookupError> {
        if depth > 32 {
            return Err(LookupError::NotFound("references nest too deep".into()));
        }
        for r in references {
            let subject = match QualifiedSubject::parse(context_subject) {
                Ok(s) if s.context != "." && !r.subject.starts_with(':') => {
                    format!(":{}:{}", s.context, r.subject)
                }
                _ => r.subject.clone(),
            };
            let version = if r.version < 0 {
                "latest".to_owned()
            } else {
                r.version.to_string()
            };
            let answer = self
                .get(
                    &format!("/subjects/{}/versions/{version}", encode(&subject)),
                    None,
                )
                .await?;
            let answer: SchemaAnswer = serde_json::from_value(answer)
                .map_err(|e| LookupError::Unavailable(format!("reference: {e}")))?;
            Box::pin(self.resolve(&subject, answer.references, out, depth + 1)).await?;
            out.push(ResolvedReference {
                name: r.name,
                schema_type: schema_type(answer.schema_type.as_deref()),
                schema: answer.schema,
            });
        }
        Ok(())
    }
}

fn schema_type(t: Option<&str>) -> SchemaType {
    t.and_then(|t| t.parse().ok()).unwrap_or(SchemaType::Avro)
}

/// A subject for a URL path segment.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The context of a subject; the default one without parsing (the common case).
fn context_of(subject: &str) -> std::borrow::Cow<'static, str> {
    if !subject.starts_with(':') {
        return std::borrow::Cow::Borrowed(".");
    }
    QualifiedSubject::parse(subject)
        .map(|s| std::borrow::Cow::Owned(s.context))
        .unwrap_or(std::borrow::Cow::Borrowed("."))
}

#[async_trait]
impl Lookup for HttpRegistry {
    async fn schema(&self, subject: &str, id: i64) -> Result<Arc<dyn ParsedSchema>, LookupError> {
        let context = context_of(subject);
        let cached = self.schemas.read().ok().and_then(|m| {
            m.get(&id)?
                .iter()
                .find(|(c, _)| c == context.as_ref())
                .map(|(_, s)| s.clone())
        });
        if let Some(s) = cached {
            self.stats.cache(true, true);
            return Ok(s);
        }
        self.stats.cache(true, false);
        let answer = self
            .get(
                &format!("/schemas/ids/{id}?subject={}", encode(subject)),
                None,
            )
            .await?;
        let answer: SchemaAnswer = serde_json::from_value(answer)
            .map_err(|e| LookupError::Unavailable(format!("schema {id}: {e}")))?;
        let mut references = Vec::new();
        self.resolve(subject, answer.references, &mut references, 0)
            .await?;
        let t = schema_type(answer.schema_type.as_deref());
        let format = self
            .formats
            .get(t)
            .ok_or_else(|| LookupError::Invalid(id, format!("{t:?} is not supported")))?;
        let parsed = format
            .parse(&answer.schema, &references)
            .map_err(|e| LookupError::Invalid(id, e.to_string()))?;
        if parsed.needs_preparation() {
            parsed.prepare_validation();
        }
        if let Ok(mut m) = self.schemas.write() {
            let contexts = m.entry(id).or_default();
            if !contexts.iter().any(|(c, _)| c == context.as_ref()) {
                contexts.push((context.into_owned(), parsed.clone()));
            }
        }
        Ok(parsed)
    }

    async fn versions(
        &self,
        subject: &str,
        fresh_for: Option<i64>,
    ) -> Result<Arc<Versions>, LookupError> {
        let fresh = fresh_for.is_some();
        let cached = self
            .subjects
            .read()
            .ok()
            .and_then(|m| m.get(subject).cloned());
        if let Some(e) = cached.as_ref().filter(|e| !e.stale) {
            let recently_missed = fresh_for.is_some_and(|id| {
                self.missed.lock().ok().is_some_and(|m| {
                    m.get(&(subject.to_owned(), id))
                        .is_some_and(|at| at.elapsed() < FRESH_AT_MOST_EVERY)
                })
            });
            if !fresh || recently_missed {
                self.stats.cache(false, true);
                return Ok(e.versions.clone());
            }
        }
        self.stats.cache(false, false);
        let list = match self
            .get(
                &format!(
                    "/schemas?subjectPrefix={}&latestOnly=false",
                    encode(subject)
                ),
                None,
            )
            .await
        {
            Ok(list) => list,
            // Last known good, unless the caller needs the registry's word.
            Err(LookupError::Unavailable(_)) if !fresh && cached.is_some() => {
                return Ok(cached.map(|e| e.versions).unwrap_or_default());
            }
            Err(e) => return Err(e),
        };
        let listed: Vec<ListedVersion> = serde_json::from_value(list)
            .map_err(|e| LookupError::Unavailable(format!("versions of {subject}: {e}")))?;
        let mut versions: Vec<(i64, i64)> = listed
            .into_iter()
            .filter(|v| v.subject == subject)
            .map(|v| (v.version, v.id))
            .collect();
        versions.sort_unstable();
        let versions = Arc::new(Versions(versions));
        if let Some(id) = fresh_for.filter(|id| !versions.has_id(*id)) {
            if let Ok(mut m) = self.missed.lock() {
                if m.len() >= MISSED_CAP {
                    m.clear();
                }
                m.insert((subject.to_owned(), id), std::time::Instant::now());
            }
        }
        if let Ok(mut m) = self.subjects.write() {
            m.insert(
                subject.to_owned(),
                Entry {
                    versions: versions.clone(),
                    stale: false,
                },
            );
        }
        Ok(versions)
    }

    fn bindings(&self) -> Arc<Vec<Binding>> {
        self.bindings.read().map(|b| b.clone()).unwrap_or_default()
    }
}
