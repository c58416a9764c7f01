//! One MQTT client connection, in one task: the client's CONNECT opens a connection to the
//! broker and is forwarded as it came; from then on every client → broker packet is framed and
//! forwarded as its original bytes except PUBLISH, which the interceptor judges first, and the
//! PUBREL of a QoS 2 publish the proxy refused (it answers PUBCOMP itself). Broker → client
//! packets are framed (so the proxy's own acknowledgements never land inside one) and passed
//! through. Either side closing closes the other; a client that vanishes without DISCONNECT
//! leaves the broker to publish its will, as it would without the proxy.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::codec::{self, kind, FrameError, Version};
use crate::governance::bindings::{Action, Mqtt311Refusal};
use crate::proxy::dead_letters::{DeadLetter, DeadLetters};
use crate::proxy::interceptor::{Interceptor, Message, Refusal, Verdict};
use crate::proxy::metrics::{BindingLabels, InvalidLabels, ProxyMetrics};
use crate::proxy::RefusalLog;

/// How sessions run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The broker, `host:port`.
    pub upstream: String,
    /// The largest packet a client may send (bigger ones close the connection).
    pub max_packet: usize,
    /// How long a client has to send its CONNECT.
    pub connect_timeout: Duration,
    /// How long a packet may stay half sent before the connection is closed.
    pub frame_timeout: Duration,
    /// How long a shutdown waits for the broker to acknowledge forwarded messages.
    pub shutdown_grace: Duration,
}

/// What every session shares.
pub struct Shared {
    pub interceptor: Arc<Interceptor>,
    pub metrics: Arc<ProxyMetrics>,
    pub dead_letters: Option<DeadLetters>,
    pub settings: Settings,
    pub refusal_log: RefusalLog,
    /// Cancelled when the proxy shuts down.
    pub shutdown: CancellationToken,
}

/// Why the client → broker side stopped.
enum End {
    /// The client closed, vanished or sent DISCONNECT: close the broker side.
    Client,
    /// The proxy closed the connection (a protocol error or a `disconnect` action).
    Closed,
    /// The proxy is shutting down: let forwarded messages be acknowledged first.
    Shutdown,
}

/// What the proxy knows of one client.
struct Client {
    version: Version,
    id: String,
    max_packet: usize,
    problem_info: bool,
    peer: SocketAddr,
    /// Packet ids of QoS 2 publishes the proxy acknowledged itself (3.1.1: PUBREC, then the
    /// client's PUBREL is answered here).
    owned_qos2: HashSet<u16>,
    /// Topic aliases as the client set them, and as the broker knows them (a refused publish
    /// that set one never reached the broker).
    client_aliases: HashMap<u16, String>,
    broker_aliases: HashMap<u16, String>,
    /// The last binding's matched and valid counters (a client mostly publishes to one).
    counters: Option<(String, Counter, Counter)>,
}

impl Client {
    /// The matched and valid counters of `binding`.
    fn counters(&mut self, metrics: &ProxyMetrics, binding: &str) -> (Counter, Counter) {
        match &self.counters {
            Some((b, matched, valid)) if b == binding => (matched.clone(), valid.clone()),
            _ => {
                let labels = BindingLabels {
                    binding: binding.to_owned(),
                };
                let matched = metrics.matched.get_or_create(&labels).clone();
                let valid = metrics.valid.get_or_create(&labels).clone();
                self.counters = Some((binding.to_owned(), matched.clone(), valid.clone()));
                (matched, valid)
            }
        }
    }
}

type ClientWriter<S> = Arc<Mutex<WriteHalf<S>>>;

/// Counts the open connection while the session lives.
struct Open(Arc<ProxyMetrics>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.connections.dec();
    }
}

/// Serves one client connection until either side closes.
pub async fn serve<S>(stream: S, peer: SocketAddr, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    shared.metrics.connections.inc();
    shared.metrics.connections_total.inc();
    let _open = Open(shared.metrics.clone());
    let settings = &shared.settings;
    let (mut reader, writer) = tokio::io::split(stream);
    let writer: ClientWriter<S> = Arc::new(Mutex::new(writer));
    let mut inbuf = BytesMut::with_capacity(4096);

    let first = tokio::time::timeout(
        settings.connect_timeout,
        read_frame(&mut reader, &mut inbuf, settings.max_packet),
    )
    .await;
    let frame = match first {
        Ok(Ok(Some(frame))) if codec::packet_type(&frame) == kind::CONNECT => frame,
        Ok(Ok(None)) => return,
        Ok(Err(FrameError::TooLarge(..))) => return protocol_error(&shared, "too-large"),
        _ => return protocol_error(&shared, "no-connect"),
    };
    let connect = match codec::decode_connect(&frame) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "not a CONNECT the proxy can read");
            return protocol_error(&shared, "malformed");
        }
    };
    let upstream = match tokio::time::timeout(
        Duration::from_secs(5),
        TcpStream::connect(&settings.upstream),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return unavailable(&shared, &writer, connect.version, &e.to_string()).await,
        Err(_) => return unavailable(&shared, &writer, connect.version, "timed out").await,
    };
    let _ = upstream.set_nodelay(true);
    let (up_reader, mut up_writer) = upstream.into_split();
    if up_writer.write_all(&frame).await.is_err() {
        return;
    }
    let mut client = Client {
        version: connect.version,
        id: connect.client_id,
        max_packet: connect.max_packet,
        problem_info: connect.problem_info,
        peer,
        owned_qos2: HashSet::new(),
        client_aliases: HashMap::new(),
        broker_aliases: HashMap::new(),
        counters: None,
    };
    // QoS 1 and 2 publishes forwarded and not yet acknowledged by the broker.
    let inflight = Arc::new(AtomicUsize::new(0));
    let down = downstream(up_reader, writer.clone(), inflight.clone());
    tokio::pin!(down);
    let up = upstream_side(
        &shared,
        &mut client,
        &mut reader,
        &mut inbuf,
        &mut up_writer,
        &writer,
        &inflight,
    );
    let end = tokio::select! {
        end = up => end,
        // The broker closed: close the client.
        () = &mut down => End::Closed,
    };
    if let End::Shutdown = end {
        let deadline = tokio::time::Instant::now() + settings.shutdown_grace;
        while inflight.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
            tokio::select! {
                () = &mut down => break,
                () = tokio::time::sleep(Duration::from_millis(5)) => {}
            }
        }
        if client.version == Version::V5 {
            // 0x8B: server shutting down.
            let bye = codec::disconnect_v5(0x8b, None, client.max_packet);
            let _ = writer.lock().await.write_all(&bye).await;
        }
    }
    let _ = up_writer.shutdown().await;
    let _ = writer.lock().await.shutdown().await;
}

fn protocol_error(shared: &Shared, kind: &str) {
    ProxyMetrics::outcome(&shared.metrics.protocol_errors, kind);
}

/// The broker cannot be reached: CONNACK "server unavailable" (3.1.1 return code 3, v5 0x88).
async fn unavailable<S: AsyncWrite>(
    shared: &Shared,
    writer: &ClientWriter<S>,
    version: Version,
    why: &str,
) {
    tracing::warn!(upstream = %shared.settings.upstream, error = why, "broker unreachable");
    protocol_error(shared, "upstream-unreachable");
    let connack: &[u8] = match version {
        Version::V3 => &[0x20, 0x02, 0x00, 0x03],
        Version::V5 => &[0x20, 0x03, 0x00, 0x88, 0x00],
    };
    let mut w = writer.lock().await;
    let _ = w.write_all(connack).await;
    let _ = w.shutdown().await;
}

/// Reads until the first frame is buffered; `None` at a clean end of stream. Anything but a
/// CONNECT is given up on at its first byte.
async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<Bytes>, FrameError> {
    loop {
        if buf.first().is_some_and(|b| *b != kind::CONNECT << 4) {
            return Err(FrameError::Malformed);
        }
        if let Some(n) = codec::frame_len(buf, max)? {
            return Ok(Some(buf.split_to(n).freeze()));
        }
        match reader.read_buf(buf).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
    }
}

/// Broker → client: whole frames, written in one piece each read; PUBACK and PUBREC count
/// forwarded messages off.
async fn downstream<S: AsyncWrite>(
    mut reader: tokio::net::tcp::OwnedReadHalf,
    writer: ClientWriter<S>,
    inflight: Arc<AtomicUsize>,
) {
    let mut buf = BytesMut::with_capacity(8192);
    loop {
        match reader.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut whole = 0;
        loop {
            match codec::frame_len(&buf[whole..], usize::MAX) {
                Ok(Some(n)) => {
                    let t = codec::packet_type(&buf[whole..]);
                    if t == kind::PUBACK || t == kind::PUBREC {
                        let _ = inflight.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                            n.checked_sub(1)
                        });
                    }
                    whole += n;
                }
                Ok(None) => break,
                // The broker sent what MQTT cannot frame: nothing more can be passed on.
                Err(_) => return,
            }
        }
        if whole > 0 {
            let chunk = buf.split_to(whole);
            if writer.lock().await.write_all(&chunk).await.is_err() {
                return;
            }
            if whole >= LARGE_PACKET {
                drop(chunk);
                renew(&mut buf);
                crate::registry::work::release_free_memory();
            }
        }
        shrink(&mut buf);
    }
}

/// Packets from this size on give their memory back to the system once handled.
const LARGE_PACKET: usize = 4 << 20;

/// A buffer of its own for what is left in `buf` (what a large packet was split from shares
/// its allocation until then).
fn renew(buf: &mut BytesMut) {
    let mut fresh = BytesMut::with_capacity(8192.max(buf.len()));
    fresh.extend_from_slice(buf);
    *buf = fresh;
}

/// Gives back a buffer's memory after a large packet passed.
fn shrink(buf: &mut BytesMut) {
    if buf.capacity() > 256 * 1024 && buf.len() < 64 * 1024 {
        let mut fresh = BytesMut::with_capacity(8192.max(buf.len()));
        fresh.extend_from_slice(buf);
        *buf = fresh;
    }
}

/// Client → broker: frames, judges publishes, forwards.
async fn upstream_side<S>(
    shared: &Shared,
    client: &mut Client,
    reader: &mut ReadHalf<S>,
    inbuf: &mut BytesMut,
    up: &mut tokio::net::tcp::OwnedWriteHalf,
    writer: &ClientWriter<S>,
    inflight: &AtomicUsize,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let max = shared.settings.max_packet;
    let mut out: Vec<u8> = Vec::with_capacity(8192);
    loop {
        loop {
            let n = match codec::frame_len(inbuf, max) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) => {
                    let (kind, code) = match e {
                        FrameError::TooLarge(..) => ("too-large", 0x95),
                        FrameError::Malformed => ("malformed", 0x81),
                    };
                    tracing::debug!(peer = %client.peer, client_id = %client.id, error = %e, "closing");
                    protocol_error(shared, kind);
                    let _ = up.write_all(&out).await;
                    close_with(writer, client, code, &e.to_string()).await;
                    return End::Closed;
                }
            };
            let frame = inbuf.split_to(n).freeze();
            let large = n >= LARGE_PACKET;
            let step = handle(shared, client, frame, &mut out, writer, inflight).await;
            if large {
                // Give a large packet's memory (buffer, decoded payload, validation) back.
                let _ = up.write_all(&out).await;
                out = Vec::with_capacity(8192);
                renew(inbuf);
                crate::registry::work::release_free_memory();
            }
            match step {
                Step::Go => {}
                Step::Flush => {
                    // DISCONNECT: forward what came before and it, then end.
                    let _ = up.write_all(&out).await;
                    return End::Client;
                }
                Step::Close => {
                    let _ = up.write_all(&out).await;
                    return End::Closed;
                }
            }
        }
        if !out.is_empty() {
            if up.write_all(&out).await.is_err() {
                return End::Closed;
            }
            out.clear();
            if out.capacity() > 256 * 1024 {
                out = Vec::with_capacity(8192);
            }
        }
        shrink(inbuf);
        let partial = !inbuf.is_empty();
        let read = async {
            if partial {
                tokio::time::timeout(shared.settings.frame_timeout, reader.read_buf(inbuf))
                    .await
                    .map_err(|_| ())
            } else {
                Ok(reader.read_buf(inbuf).await)
            }
        };
        tokio::select! {
            biased;
            () = shared.shutdown.cancelled() => return End::Shutdown,
            r = read => match r {
                Ok(Ok(0)) | Ok(Err(_)) => return End::Client,
                Ok(Ok(_)) => {}
                Err(()) => {
                    protocol_error(shared, "stalled");
                    return End::Closed;
                }
            },
        }
    }
}

enum Step {
    Go,
    /// Forward what is buffered, then end (the client said DISCONNECT).
    Flush,
    /// Close the connection.
    Close,
}

async fn close_with<S: AsyncWrite>(
    writer: &ClientWriter<S>,
    client: &Client,
    reason: u8,
    text: &str,
) {
    if client.version == Version::V5 {
        let text = client.problem_info.then_some(text);
        let bye = codec::disconnect_v5(reason, text, client.max_packet);
        let _ = writer.lock().await.write_all(&bye).await;
    }
}

/// Writes the proxy's own answer to the client.
async fn answer<S: AsyncWrite>(writer: &ClientWriter<S>, packet: &[u8]) -> Step {
    match writer.lock().await.write_all(packet).await {
        Ok(()) => Step::Go,
        Err(_) => Step::Close,
    }
}

/// One client → broker frame.
async fn handle<S: AsyncWrite>(
    shared: &Shared,
    client: &mut Client,
    frame: Bytes,
    out: &mut Vec<u8>,
    writer: &ClientWriter<S>,
    inflight: &AtomicUsize,
) -> Step {
    match codec::packet_type(&frame) {
        kind::PUBLISH => publish(shared, client, frame, out, writer, inflight).await,
        kind::PUBREL => {
            let pid = codec::ack_pid(&frame);
            match pid.filter(|p| client.owned_qos2.remove(p)) {
                Some(pid) => answer(writer, &codec::pubcomp(client.version, pid)).await,
                None => {
                    out.extend_from_slice(&frame);
                    Step::Go
                }
            }
        }
        kind::DISCONNECT => {
            out.extend_from_slice(&frame);
            Step::Flush
        }
        // Everything else, a second CONNECT too (the broker closes for that protocol error).
        _ => {
            out.extend_from_slice(&frame);
            Step::Go
        }
    }
}

async fn publish<S: AsyncWrite>(
    shared: &Shared,
    client: &mut Client,
    frame: Bytes,
    out: &mut Vec<u8>,
    writer: &ClientWriter<S>,
    inflight: &AtomicUsize,
) -> Step {
    let p = match codec::decode_publish(&frame, client.version) {
        Ok(p) => p,
        Err(e) => {
            protocol_error(shared, "malformed");
            close_with(writer, client, 0x81, &e).await;
            return Step::Close;
        }
    };
    let topic = if !p.topic.is_empty() {
        if let Some(a) = p.topic_alias {
            client.client_aliases.insert(a, p.topic.clone());
        }
        p.topic.clone()
    } else {
        match p.topic_alias.and_then(|a| client.client_aliases.get(&a)) {
            Some(t) => t.clone(),
            // An alias never set: the broker answers that protocol error itself.
            None => {
                out.extend_from_slice(&frame);
                return Step::Go;
            }
        }
    };
    let message = Message {
        destination: &topic,
        payload: &p.payload,
        user_properties: &p.user_properties,
        content_type: p.content_type.as_deref(),
    };
    let started = Instant::now();
    let verdict = shared.interceptor.check(&message).await;
    shared
        .metrics
        .validation_seconds
        .observe(started.elapsed().as_secs_f64());
    let metrics = &shared.metrics;
    let refusal = match verdict {
        Verdict::Unbound => {
            ProxyMetrics::outcome(&metrics.unbound, "allowed");
            forward(client, &frame, &p, &topic, &[], out, inflight);
            return Step::Go;
        }
        Verdict::Valid { binding, .. } => {
            let (matched, valid) = client.counters(metrics, &binding);
            matched.inc();
            valid.inc();
            forward(client, &frame, &p, &topic, &[], out, inflight);
            return Step::Go;
        }
        Verdict::Refused(r) => r,
    };
    count_refusal(metrics, &refusal);
    shared
        .refusal_log
        .log(&client.id, &topic, &refusal, client.peer);
    if refusal.forward {
        let marks;
        let extra: &[(&str, &str)] = if refusal.action == Action::Mark {
            marks = [
                ("accord-verdict", "invalid"),
                ("accord-reason", refusal.reason.label()),
                ("accord-subject", refusal.subject.as_deref().unwrap_or("")),
                ("accord-detail", refusal.detail.as_str()),
            ];
            &marks
        } else {
            &[]
        };
        forward(client, &frame, &p, &topic, extra, out, inflight);
        return Step::Go;
    }
    if refusal.action == Action::Dlq {
        dead_letter(shared, client, &refusal, &topic, p.payload.clone());
    }
    let pid = p.pid.unwrap_or(0);
    match client.version {
        Version::V5 => {
            if refusal.action == Action::Disconnect {
                close_with(writer, client, refusal.reason_code, &refusal.detail).await;
                return Step::Close;
            }
            if p.qos == 0 {
                metrics.dropped_qos0.inc();
                return Step::Go;
            }
            let text = client.problem_info.then_some(refusal.detail.as_str());
            let ack = codec::refusal(
                Version::V5,
                p.qos,
                pid,
                refusal.reason_code,
                text,
                client.max_packet,
            );
            answer(writer, &ack).await
        }
        Version::V3 => {
            let close =
                refusal.action == Action::Disconnect || refusal.mqtt311 == Mqtt311Refusal::Close;
            if close {
                return Step::Close;
            }
            if p.qos == 0 {
                metrics.dropped_qos0.inc();
                return Step::Go;
            }
            if p.qos == 2 {
                client.owned_qos2.insert(pid);
            }
            let ack = codec::refusal(Version::V3, p.qos, pid, 0, None, client.max_packet);
            answer(writer, &ack).await
        }
    }
}

fn count_refusal(metrics: &ProxyMetrics, refusal: &Refusal) {
    match &refusal.binding {
        Some(b) => {
            metrics
                .matched
                .get_or_create(&BindingLabels { binding: b.clone() })
                .inc();
        }
        None => ProxyMetrics::outcome(&metrics.unbound, "rejected"),
    }
    metrics
        .invalid
        .get_or_create(&InvalidLabels {
            binding: refusal.binding.clone().unwrap_or_default(),
            reason: refusal.reason.label().to_owned(),
            action: action_label(refusal.action).to_owned(),
        })
        .inc();
}

pub fn action_label(action: Action) -> &'static str {
    match action {
        Action::Reject => "reject",
        Action::Dlq => "dlq",
        Action::Mark => "mark",
        Action::Log => "log",
        Action::Disconnect => "disconnect",
    }
}

fn dead_letter(shared: &Shared, client: &Client, refusal: &Refusal, topic: &str, payload: Bytes) {
    let (Some(dlq), Some(dlq_topic)) = (&shared.dead_letters, &refusal.dlq_topic) else {
        tracing::warn!(
            topic,
            "no dead-letter topic configured: the message is only refused"
        );
        ProxyMetrics::outcome(&shared.metrics.dead_letters, "failed");
        return;
    };
    dlq.send(DeadLetter {
        topic: dlq_topic,
        payload,
        reason: refusal.reason.label(),
        detail: &refusal.detail,
        subject: refusal.subject.as_deref(),
        binding: refusal.binding.as_deref(),
        client_id: &client.id,
        original_topic: topic,
    });
}

/// Queues a publish for the broker: its original bytes, unless the broker does not know the
/// alias it uses (a refused publish set it) or properties are added, when it is written again.
fn forward(
    client: &mut Client,
    frame: &[u8],
    p: &codec::Publish,
    topic: &str,
    extra: &[(&str, &str)],
    out: &mut Vec<u8>,
    inflight: &AtomicUsize,
) {
    let mut rewrite_topic = None;
    if let Some(a) = p.topic_alias {
        if p.topic.is_empty() && client.broker_aliases.get(&a).map(String::as_str) != Some(topic) {
            rewrite_topic = Some(topic);
        }
        client.broker_aliases.insert(a, topic.to_owned());
    }
    let rewritten = (client.version == Version::V5
        && (rewrite_topic.is_some() || !extra.is_empty()))
    .then(|| codec::rewrite_publish_v5(frame, rewrite_topic, extra))
    .flatten();
    out.extend_from_slice(rewritten.as_deref().unwrap_or(frame));
    if p.qos > 0 {
        inflight.fetch_add(1, Ordering::Relaxed);
        if let (2, Some(pid)) = (p.qos, p.pid) {
            client.owned_qos2.remove(&pid);
        }
    }
}
