//! For the proxy's tests: the real `accord-proxy` binary on free ports in front of the local
//! Mosquitto, a subscriber straight on Mosquitto (rumqttc, MQTT 5), rumqttc publishers through
//! the proxy (3.1.1 and 5), and a raw client that writes packets byte by byte (hand-encoded
//! here, not with the proxy's codec) for what clients libraries will not send.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// The local broker.
pub const MOSQUITTO: (&str, u16) = ("127.0.0.1", 1883);

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A topic prefix no other test uses.
pub fn prefix() -> String {
    format!("accord-test/{}", uuid::Uuid::new_v4().simple())
}

pub struct ProxyProcess {
    pub port: u16,
    pub admin: String,
    child: std::process::Child,
    pub dir: tempfile::TempDir,
}

impl ProxyProcess {
    /// Starts the proxy with `config` as its TOML file and `env` on top, and waits until it is
    /// ready (the registry's bindings read).
    pub async fn start(registry: &str, config: &str, env: &[(&str, String)]) -> ProxyProcess {
        let p = Self::spawn(registry, config, env);
        p.wait_ready().await;
        p
    }

    /// Starts the proxy without waiting for it.
    pub fn spawn(registry: &str, config: &str, env: &[(&str, String)]) -> ProxyProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("proxy.toml");
        std::fs::write(&file, config).expect("config file");
        let port = free_port();
        let admin_port = free_port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_accord-proxy"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ACCORD_PROXY_CONFIG", &file)
            .env("ACCORD_PROXY_LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "ACCORD_PROXY_ADMIN_LISTEN",
                format!("127.0.0.1:{admin_port}"),
            )
            .env("ACCORD_PROXY_REGISTRY", registry)
            .env(
                "ACCORD_PROXY_UPSTREAM",
                format!("{}:{}", MOSQUITTO.0, MOSQUITTO.1),
            )
            .env("ACCORD_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("proxy.log")).expect("log file"))
            .spawn()
            .expect("accord-proxy starts");
        ProxyProcess {
            port,
            admin: format!("http://127.0.0.1:{admin_port}"),
            child,
            dir,
        }
    }

    pub async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if client
                .get(format!("{}/health/ready", self.admin))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "accord-proxy did not become ready: {}",
            std::fs::read_to_string(self.dir.path().join("proxy.log")).unwrap_or_default()
        );
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.admin))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// The value of one metric line (labels as written, e.g. `{binding="b"}`), 0 when absent.
    pub async fn metric(&self, name_and_labels: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// VmRSS in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("alive");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    pub fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// Waits for the process to exit; its status.
    pub fn wait(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + within;
        while std::time::Instant::now() < until {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message as a subscriber got it.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: Bytes,
    pub user_properties: Vec<(String, String)>,
}

/// A subscriber straight on Mosquitto (MQTT 5, QoS 2).
pub struct Subscriber {
    rx: mpsc::UnboundedReceiver<Received>,
    _client: rumqttc::v5::AsyncClient,
}

impl Subscriber {
    pub async fn on(filter: &str) -> Subscriber {
        use rumqttc::v5::mqttbytes::v5::Packet;
        use rumqttc::v5::{mqttbytes::QoS, AsyncClient, Event, MqttOptions};
        let id = format!("sub-{}", uuid::Uuid::new_v4().simple());
        let mut options = MqttOptions::new(id, MOSQUITTO.0, MOSQUITTO.1);
        options.set_max_packet_size(Some(64 * 1024 * 1024));
        let (client, mut events) = AsyncClient::new(options, 100);
        client
            .subscribe(filter, QoS::ExactlyOnce)
            .await
            .expect("subscribe");
        let (tx, rx) = mpsc::unbounded_channel();
        let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut subscribed = Some(subscribed_tx);
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(s) = subscribed.take() {
                            let _ = s.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send(Received {
                            topic: String::from_utf8_lossy(&p.topic).into_owned(),
                            payload: p.payload.clone(),
                            user_properties: p
                                .properties
                                .map(|pr| pr.user_properties)
                                .unwrap_or_default(),
                        });
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(5), subscribed_rx)
            .await
            .expect("SUBACK in time")
            .expect("SUBACK");
        Subscriber {
            rx,
            _client: client,
        }
    }

    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
            .await
            .expect("a message within 5 s")
            .expect("subscriber alive")
    }

    /// Nothing more arrives within `d`.
    pub async fn nothing_within(&mut self, d: Duration) {
        if let Ok(Some(m)) = tokio::time::timeout(d, self.rx.recv()).await {
            panic!("unexpected message on {}: {:?}", m.topic, m.payload);
        }
    }
}

/// A raw MQTT client: packets written as bytes, frames read back as bytes.
pub struct Raw {
    pub stream: TcpStream,
    buf: BytesMut,
}

pub fn vbi(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
}

fn string(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A packet from its first byte and body.
pub fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    vbi(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

/// CONNECT, 3.1.1 (`v5` false) or 5.0 with raw `props` (v5 only).
pub fn connect(client_id: &str, v5: bool, props: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    string("MQTT", &mut body);
    body.push(if v5 { 5 } else { 4 });
    body.push(0x02); // clean session
    body.extend_from_slice(&60u16.to_be_bytes());
    if v5 {
        vbi(props.len(), &mut body);
        body.extend_from_slice(props);
    }
    string(client_id, &mut body);
    packet(0x10, &body)
}

/// A PUBLISH; `props` (raw v5 properties) is `None` for 3.1.1.
pub fn publish(topic: &str, qos: u8, pid: u16, props: Option<&[u8]>, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    string(topic, &mut body);
    if qos > 0 {
        body.extend_from_slice(&pid.to_be_bytes());
    }
    if let Some(p) = props {
        vbi(p.len(), &mut body);
        body.extend_from_slice(p);
    }
    body.extend_from_slice(payload);
    packet(0x30 | (qos << 1), &body)
}

/// The v5 Topic Alias property.
pub fn alias(a: u16) -> Vec<u8> {
    let mut p = vec![0x23];
    p.extend_from_slice(&a.to_be_bytes());
    p
}

/// A v5 User Property.
pub fn user_property(k: &str, v: &str) -> Vec<u8> {
    let mut p = vec![0x26];
    string(k, &mut p);
    string(v, &mut p);
    p
}

impl Raw {
    /// Connects and reads the CONNACK (whose bytes are returned).
    pub async fn connect(port: u16, connect_packet: &[u8]) -> (Raw, Vec<u8>) {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let mut raw = Raw {
            stream,
            buf: BytesMut::new(),
        };
        raw.send(connect_packet).await;
        let connack = raw.recv().await.expect("CONNACK");
        assert_eq!(connack[0], 0x20, "CONNACK first: {connack:?}");
        (raw, connack)
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    /// The next frame, `None` when the connection closed (or nothing came in 5 s).
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        self.recv_within(Duration::from_secs(5)).await
    }

    pub async fn recv_within(&mut self, d: Duration) -> Option<Vec<u8>> {
        let until = tokio::time::Instant::now() + d;
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return Some(self.buf.split_to(n).to_vec());
            }
            self.buf.reserve(4096);
            match tokio::time::timeout_at(until, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Whether the other side closed the connection within `d` (reading and dropping frames).
    pub async fn closed_within(&mut self, d: Duration) -> bool {
        let until = tokio::time::Instant::now() + d;
        let mut scratch = [0u8; 4096];
        loop {
            match tokio::time::timeout_at(until, self.stream.read(&mut scratch)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
                Err(_) => return false,
            }
        }
    }
}

fn frame_len(buf: &[u8]) -> Option<usize> {
    let mut len = 0usize;
    for i in 0..4 {
        let b = *buf.get(1 + i)?;
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let total = 2 + i + len;
            return (buf.len() >= total).then_some(total);
        }
    }
    None
}

/// `(packet type, packet id, v5 reason code)` of an acknowledgement frame.
pub fn ack(frame: &[u8]) -> (u8, u16, u8) {
    let t = frame[0] >> 4;
    let pid = u16::from_be_bytes([frame[2], frame[3]]);
    let reason = frame.get(4).copied().unwrap_or(0);
    (t, pid, reason)
}

/// A Confluent-framed payload.
pub fn confluent(id: i64, datum: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&(id as u32).to_be_bytes());
    out.extend_from_slice(datum);
    out
}

/// What a rumqttc publisher saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// PUBACK / PUBREC / PUBCOMP: `(kind, packet id, reason as rumqttc names it)`.
    Ack(&'static str, u16, String),
    Disconnect(String),
    /// The connection ended.
    Closed,
}

/// A rumqttc publisher through the proxy, MQTT 5 (`v5`) or 3.1.1.
pub enum Publisher {
    V5(rumqttc::v5::AsyncClient, mpsc::UnboundedReceiver<Seen>),
    V3(rumqttc::AsyncClient, mpsc::UnboundedReceiver<Seen>),
}

impl Publisher {
    pub async fn connect(port: u16, v5: bool) -> Publisher {
        let id = format!("pub-{}", uuid::Uuid::new_v4().simple());
        let (tx, rx) = mpsc::unbounded_channel();
        let (up_tx, up_rx) = tokio::sync::oneshot::channel::<()>();
        let publisher = if v5 {
            use rumqttc::v5::mqttbytes::v5::Packet;
            use rumqttc::v5::{AsyncClient, Event, MqttOptions};
            let mut options = MqttOptions::new(id, "127.0.0.1", port);
            options.set_max_packet_size(Some(64 * 1024 * 1024));
            let (client, mut events) = AsyncClient::new(options, 100);
            tokio::spawn(async move {
                let mut up = Some(up_tx);
                loop {
                    let seen = match events.poll().await {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            if let Some(u) = up.take() {
                                let _ = u.send(());
                            }
                            continue;
                        }
                        Ok(Event::Incoming(Packet::PubAck(a))) => {
                            Seen::Ack("puback", a.pkid, format!("{:?}", a.reason))
                        }
                        Ok(Event::Incoming(Packet::PubRec(a))) => {
                            Seen::Ack("pubrec", a.pkid, format!("{:?}", a.reason))
                        }
                        Ok(Event::Incoming(Packet::PubComp(a))) => {
                            Seen::Ack("pubcomp", a.pkid, format!("{:?}", a.reason))
                        }
                        Ok(Event::Incoming(Packet::Disconnect(d))) => {
                            Seen::Disconnect(format!("{:?}", d.reason_code))
                        }
                        Ok(_) => continue,
                        Err(rumqttc::v5::ConnectionError::MqttState(
                            rumqttc::v5::StateError::ServerDisconnect { reason_code, .. },
                        )) => {
                            let _ = tx.send(Seen::Disconnect(format!("{reason_code:?}")));
                            let _ = tx.send(Seen::Closed);
                            return;
                        }
                        Err(_) => {
                            let _ = tx.send(Seen::Closed);
                            return;
                        }
                    };
                    if tx.send(seen).is_err() {
                        return;
                    }
                }
            });
            Publisher::V5(client, rx)
        } else {
            use rumqttc::{AsyncClient, Event, MqttOptions, Packet};
            let mut options = MqttOptions::new(id, "127.0.0.1", port);
            options.set_max_packet_size(64 * 1024 * 1024, 64 * 1024 * 1024);
            let (client, mut events) = AsyncClient::new(options, 100);
            tokio::spawn(async move {
                let mut up = Some(up_tx);
                loop {
                    let seen = match events.poll().await {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            if let Some(u) = up.take() {
                                let _ = u.send(());
                            }
                            continue;
                        }
                        Ok(Event::Incoming(Packet::PubAck(a))) => {
                            Seen::Ack("puback", a.pkid, "Success".into())
                        }
                        Ok(Event::Incoming(Packet::PubRec(a))) => {
                            Seen::Ack("pubrec", a.pkid, "Success".into())
                        }
                        Ok(Event::Incoming(Packet::PubComp(a))) => {
                            Seen::Ack("pubcomp", a.pkid, "Success".into())
                        }
                        Ok(_) => continue,
                        Err(_) => {
                            let _ = tx.send(Seen::Closed);
                            return;
                        }
                    };
                    if tx.send(seen).is_err() {
                        return;
                    }
                }
            });
            Publisher::V3(client, rx)
        };
        tokio::time::timeout(Duration::from_secs(5), up_rx)
            .await
            .expect("CONNACK in time")
            .expect("connected");
        publisher
    }

    pub async fn publish(&self, topic: &str, qos: u8, payload: Vec<u8>) {
        match self {
            Publisher::V5(c, _) => {
                let q = match qos {
                    0 => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
                    1 => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                    _ => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
                };
                c.publish(topic, q, false, payload).await.expect("publish");
            }
            Publisher::V3(c, _) => {
                let q = match qos {
                    0 => rumqttc::QoS::AtMostOnce,
                    1 => rumqttc::QoS::AtLeastOnce,
                    _ => rumqttc::QoS::ExactlyOnce,
                };
                c.publish(topic, q, false, payload).await.expect("publish");
            }
        }
    }

    /// The next thing seen (within 5 s).
    pub async fn seen(&mut self) -> Seen {
        let rx = match self {
            Publisher::V5(_, rx) | Publisher::V3(_, rx) => rx,
        };
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an event within 5 s")
            .unwrap_or(Seen::Closed)
    }

    /// Publishes and returns what ends the flow: the PUBACK (QoS 1), the PUBCOMP or a failed
    /// PUBREC (QoS 2), or the connection's end.
    pub async fn publish_acked(&mut self, topic: &str, qos: u8, payload: Vec<u8>) -> Seen {
        self.publish(topic, qos, payload).await;
        loop {
            let s = self.seen().await;
            match &s {
                Seen::Ack("pubrec", _, r) if r == "Success" => continue,
                _ => return s,
            }
        }
    }
}
