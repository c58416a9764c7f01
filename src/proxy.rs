//! The shared core of `accord-proxy`: the registry as the proxy sees it (`registry_client`,
//! over HTTP with caches the change feed keeps current) and the interceptor both protocol
//! sessions call per published message (binding → lookup → validate → verdict). Never touches
//! storage.

#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod dead_letters;
#[cfg(feature = "server")]
pub mod interceptor;
#[cfg(feature = "server")]
pub mod metrics;
pub mod mqtt;
#[cfg(feature = "server")]
pub mod registry_client;
#[cfg(feature = "server")]
pub mod server;

#[cfg(feature = "server")]
use std::net::SocketAddr;
#[cfg(feature = "server")]
use std::sync::Mutex;
#[cfg(feature = "server")]
use std::time::{Duration, Instant};

#[cfg(feature = "server")]
use interceptor::Refusal;

#[cfg(feature = "server")]
/// Refusals logged at most `per_second` a second (a flood of bad messages must not flood the
/// logs); how many were left out is logged with the next one.
pub struct RefusalLog {
    per_second: u32,
    window: Mutex<(Instant, u32, u64)>,
}

#[cfg(feature = "server")]
impl RefusalLog {
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second,
            window: Mutex::new((Instant::now(), 0, 0)),
        }
    }

    pub fn log(&self, client_id: &str, topic: &str, refusal: &Refusal, peer: SocketAddr) {
        let Ok(mut w) = self.window.lock() else {
            return;
        };
        if w.0.elapsed() >= Duration::from_secs(1) {
            *w = (Instant::now(), 0, w.2);
        }
        if w.1 >= self.per_second {
            w.2 += 1;
            return;
        }
        w.1 += 1;
        let suppressed = std::mem::take(&mut w.2);
        drop(w);
        tracing::warn!(
            client_id,
            topic,
            %peer,
            subject = refusal.subject.as_deref().unwrap_or(""),
            binding = refusal.binding.as_deref().unwrap_or(""),
            reason = refusal.reason.label(),
            action = mqtt::session::action_label(refusal.action),
            detail = %refusal.detail,
            suppressed,
            "message refused"
        );
    }
}
