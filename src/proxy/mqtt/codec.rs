//! A pure codec (no IO): [`frame_len`] finds where the first whole packet in a buffer ends
//! (the fixed header's Remaining Length is all a proxy needs to frame), [`connect_version`]
//! reads the protocol level of a CONNECT, [`decode_publish`] reads a PUBLISH (with the
//! `mqtt-proto` crate), and [`refusal`] / [`pubcomp`] write the acknowledgements the proxy
//! answers refused messages with.

use mqtt_proto::{v3, v5, Pid, QosPid};

/// The largest Remaining Length MQTT can express.
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// Packet types (the fixed header's high nibble).
pub mod kind {
    pub const CONNECT: u8 = 1;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const DISCONNECT: u8 = 14;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("malformed Remaining Length")]
    Malformed,
    #[error("a packet of {0} bytes is over the limit of {1}")]
    TooLarge(usize, usize),
}

/// The length of the first whole packet in `buf`, `None` while more bytes are needed. A packet
/// over `max_packet` bytes is refused from its header alone, before it is buffered.
pub fn frame_len(buf: &[u8], max_packet: usize) -> Result<Option<usize>, FrameError> {
    let mut remaining: usize = 0;
    for i in 0..4 {
        let Some(&byte) = buf.get(1 + i) else {
            return Ok(None);
        };
        remaining |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // The shortest encoding only ([MQTT-1.5.5-1]): a trailing zero continuation is
            // malformed.
            if i > 0 && byte == 0 {
                return Err(FrameError::Malformed);
            }
            let total = 1 + (i + 1) + remaining;
            if total > max_packet {
                return Err(FrameError::TooLarge(total, max_packet));
            }
            return Ok((buf.len() >= total).then_some(total));
        }
    }
    Err(FrameError::Malformed)
}

/// The packet type of a frame.
pub fn packet_type(frame: &[u8]) -> u8 {
    frame.first().map_or(0, |b| b >> 4)
}

/// The protocol version a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// 3.1 and 3.1.1 (no negative acknowledgements, no properties).
    V3,
    V5,
}

/// The protocol version of a CONNECT frame: level 3 (`MQIsdp`) or 4 are 3.x, 5 is 5.0.
pub fn connect_version(frame: &[u8]) -> Option<Version> {
    if packet_type(frame) != kind::CONNECT {
        return None;
    }
    let header = 1 + frame[1..].iter().take(4).position(|b| b & 0x80 == 0)? + 1;
    let body = frame.get(header..)?;
    let name_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let level = *body.get(2 + name_len)?;
    match (&body[2..2 + name_len], level) {
        (b"MQTT", 4) | (b"MQIsdp", 3) => Some(Version::V3),
        (b"MQTT", 5) => Some(Version::V5),
        _ => None,
    }
}

/// What the proxy reads of a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub version: Version,
    pub client_id: String,
    /// The largest packet the client accepts (v5 Maximum Packet Size; unlimited otherwise).
    pub max_packet: usize,
    /// Whether the client accepts reason strings on acknowledgements (v5 Request Problem
    /// Information, true when absent).
    pub problem_info: bool,
}

/// Reads a CONNECT frame.
pub fn decode_connect(frame: &[u8]) -> Result<Connect, String> {
    let version = connect_version(frame).ok_or("not an MQTT 3.1, 3.1.1 or 5.0 CONNECT")?;
    match version {
        Version::V3 => match v3::Packet::decode(frame) {
            Ok(Some(v3::Packet::Connect(c))) => Ok(Connect {
                version,
                client_id: c.client_id.to_string(),
                max_packet: MAX_REMAINING_LENGTH + 5,
                problem_info: false,
            }),
            Ok(_) => Err("not a whole CONNECT packet".into()),
            Err(e) => Err(e.to_string()),
        },
        Version::V5 => match v5::Packet::decode(frame) {
            Ok(Some(v5::Packet::Connect(c))) => Ok(Connect {
                version,
                client_id: c.client_id.to_string(),
                max_packet: c
                    .properties
                    .max_packet_size
                    .and_then(|m| usize::try_from(m).ok())
                    .unwrap_or(MAX_REMAINING_LENGTH + 5),
                problem_info: c.properties.request_problem_info.unwrap_or(true),
            }),
            Ok(_) => Err("not a whole CONNECT packet".into()),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// What the proxy reads of a PUBLISH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub qos: u8,
    /// The packet identifier (QoS 1 and 2).
    pub pid: Option<u16>,
    /// The topic name as sent: empty when a v5 client names the topic by its alias alone.
    pub topic: String,
    pub topic_alias: Option<u16>,
    pub user_properties: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub payload: bytes::Bytes,
}

/// Reads a PUBLISH frame.
pub fn decode_publish(frame: &[u8], version: Version) -> Result<Publish, String> {
    let pid_of = |q: QosPid| match q {
        QosPid::Level0 => (0, None),
        QosPid::Level1(p) => (1, Some(p.value())),
        QosPid::Level2(p) => (2, Some(p.value())),
    };
    match version {
        Version::V3 => match v3::Packet::decode(frame) {
            Ok(Some(v3::Packet::Publish(p))) => {
                let (qos, pid) = pid_of(p.qos_pid);
                Ok(Publish {
                    qos,
                    pid,
                    topic: p.topic_name.to_string(),
                    topic_alias: None,
                    user_properties: Vec::new(),
                    content_type: None,
                    payload: p.payload,
                })
            }
            Ok(_) => Err("not a whole PUBLISH packet".into()),
            Err(e) => Err(e.to_string()),
        },
        Version::V5 => match v5::Packet::decode(frame) {
            Ok(Some(v5::Packet::Publish(p))) => {
                let (qos, pid) = pid_of(p.qos_pid);
                Ok(Publish {
                    qos,
                    pid,
                    topic: p.topic_name.to_string(),
                    topic_alias: p.properties.topic_alias,
                    user_properties: p
                        .properties
                        .user_properties
                        .iter()
                        .map(|u| (u.name.to_string(), u.value.to_string()))
                        .collect(),
                    content_type: p.properties.content_type.map(|c| c.to_string()),
                    payload: p.payload,
                })
            }
            Ok(_) => Err("not a whole PUBLISH packet".into()),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// The acknowledgement that refuses a QoS 1 (PUBACK) or QoS 2 (PUBREC) publish. A 3.x client
/// gets the plain (positive) acknowledgement, the only kind it knows; a 5.0 client gets
/// `reason` and, when given and it fits `max_packet`, the reason string.
pub fn refusal(
    version: Version,
    qos: u8,
    pid: u16,
    reason: u8,
    reason_string: Option<&str>,
    max_packet: usize,
) -> Vec<u8> {
    let Ok(pid) = Pid::try_from(pid) else {
        return Vec::new();
    };
    let encode = |with_string: bool| -> Option<Vec<u8>> {
        let text = reason_string.filter(|_| with_string).map(Into::into);
        let packet = match (version, qos) {
            (Version::V3, 2) => v3_bytes(v3::Packet::Pubrec(pid))?,
            (Version::V3, _) => v3_bytes(v3::Packet::Puback(pid))?,
            (Version::V5, 2) => v5_bytes(v5::Packet::Pubrec(v5::Pubrec {
                pid,
                reason_code: v5::PubrecReasonCode::from_u8(reason)?,
                properties: v5::PubrecProperties {
                    reason_string: text,
                    user_properties: Vec::new(),
                },
            }))?,
            (Version::V5, _) => v5_bytes(v5::Packet::Puback(v5::Puback {
                pid,
                reason_code: v5::PubackReasonCode::from_u8(reason)?,
                properties: v5::PubackProperties {
                    reason_string: text,
                    user_properties: Vec::new(),
                },
            }))?,
        };
        Some(packet)
    };
    match encode(true) {
        Some(p) if p.len() <= max_packet => p,
        // Without the reason string it always fits ([MQTT-3.4.2-2]).
        _ => encode(false).unwrap_or_default(),
    }
}

/// A v5 PUBLISH frame again, with `topic` as its topic name (when given; its alias stays) and
/// `extra` user properties added; `None` when it does not decode.
pub fn rewrite_publish_v5(
    frame: &[u8],
    topic: Option<&str>,
    extra: &[(&str, &str)],
) -> Option<Vec<u8>> {
    let Ok(Some(v5::Packet::Publish(mut p))) = v5::Packet::decode(frame) else {
        return None;
    };
    if let Some(t) = topic {
        p.topic_name = mqtt_proto::TopicName::try_from(t).ok()?;
    }
    for (name, value) in extra {
        p.properties.user_properties.push(v5::UserProperty {
            name: (*name).into(),
            value: (*value).into(),
        });
    }
    v5_bytes(v5::Packet::Publish(p))
}

/// A v5 DISCONNECT with `reason` (and the reason string when the client accepts one and it
/// fits `max_packet`).
pub fn disconnect_v5(reason: u8, reason_string: Option<&str>, max_packet: usize) -> Vec<u8> {
    let encode = |with_string: bool| {
        let code = v5::DisconnectReasonCode::from_u8(reason)
            .unwrap_or(v5::DisconnectReasonCode::UnspecifiedError);
        let mut d = v5::Disconnect::new(code);
        d.properties.reason_string = reason_string.filter(|_| with_string).map(Into::into);
        v5_bytes(v5::Packet::Disconnect(d))
    };
    let bytes = match encode(true) {
        Some(p) if p.len() <= max_packet => p,
        _ => encode(false).unwrap_or_default(),
    };
    // The property length may be left out when there are none, but some clients (rumqttc)
    // cannot read that form: write it.
    if bytes.len() == 3 {
        vec![bytes[0], 0x02, bytes[2], 0x00]
    } else {
        bytes
    }
}

/// The packet identifier of an acknowledgement-like frame (PUBACK, PUBREC, PUBREL, PUBCOMP).
pub fn ack_pid(frame: &[u8]) -> Option<u16> {
    let header = 1 + frame.get(1..)?.iter().take(4).position(|b| b & 0x80 == 0)? + 1;
    let body = frame.get(header..header + 2)?;
    Some(u16::from_be_bytes([body[0], body[1]]))
}

/// The reason code of a v5 PUBACK or PUBREC (success when absent).
pub fn ack_reason_v5(frame: &[u8]) -> u8 {
    let Some(header) = frame
        .get(1..)
        .and_then(|f| f.iter().take(4).position(|b| b & 0x80 == 0))
    else {
        return 0;
    };
    frame.get(1 + header + 1 + 2).copied().unwrap_or(0)
}

/// PUBCOMP for a PUBREL the proxy answers itself (the broker never saw that publish).
pub fn pubcomp(version: Version, pid: u16) -> Vec<u8> {
    let Ok(pid) = Pid::try_from(pid) else {
        return Vec::new();
    };
    let packet = match version {
        Version::V3 => v3_bytes(v3::Packet::Pubcomp(pid)),
        Version::V5 => v5_bytes(v5::Packet::Pubcomp(v5::Pubcomp {
            pid,
            reason_code: v5::PubcompReasonCode::Success,
            properties: v5::PubcompProperties::default(),
        })),
    };
    packet.unwrap_or_default()
}

fn v3_bytes(packet: v3::Packet) -> Option<Vec<u8>> {
    packet.encode().ok().map(|b| b.as_ref().to_vec())
}

fn v5_bytes(packet: v5::Packet) -> Option<Vec<u8>> {
    packet.encode().ok().map(|b| b.as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_by_remaining_length() {
        assert_eq!(frame_len(&[0xc0], 100), Ok(None));
        assert_eq!(frame_len(&[0xc0, 0x00], 100), Ok(Some(2)));
        assert_eq!(frame_len(&[0x30, 0x03, 1, 2], 100), Ok(None));
        assert_eq!(frame_len(&[0x30, 0x03, 1, 2, 3, 9], 100), Ok(Some(5)));
        // 128 = 0x80 0x01.
        assert_eq!(frame_len(&[0x30, 0x80, 0x01], 1000), Ok(None));
        assert_eq!(
            frame_len(&[0x30, 0x80, 0x01], 100),
            Err(FrameError::TooLarge(131, 100))
        );
        assert_eq!(
            frame_len(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x7f], usize::MAX),
            Err(FrameError::Malformed)
        );
        assert_eq!(
            frame_len(&[0x30, 0x80, 0x00], 1000),
            Err(FrameError::Malformed)
        );
        assert_eq!(
            frame_len(&[0x30, 0xff, 0xff, 0xff, 0x7f], usize::MAX),
            Ok(None),
            "the largest length is legal, and waits for its bytes"
        );
    }

    #[test]
    fn versions_from_connect() {
        let v4 = [0x10, 0x0c, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 0];
        let v5 = [
            0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0, 0, 0,
        ];
        let v31 = [
            0x10, 0x0e, 0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 3, 2, 0, 60, 0, 0,
        ];
        assert_eq!(connect_version(&v4), Some(Version::V3));
        assert_eq!(connect_version(&v5), Some(Version::V5));
        assert_eq!(connect_version(&v31), Some(Version::V3));
        assert_eq!(connect_version(&[0x10, 0x02, 0, 1]), None);
        assert_eq!(connect_version(&[0x30, 0x00]), None);
    }

    #[test]
    fn publishes() {
        // v3, QoS 1, topic "a/b", pid 7, payload "hi".
        let v3 = [0x32, 0x09, 0, 3, b'a', b'/', b'b', 0, 7, b'h', b'i'];
        let p = decode_publish(&v3, Version::V3).unwrap();
        assert_eq!(
            (p.qos, p.pid, p.topic.as_str(), &p.payload[..]),
            (1, Some(7), "a/b", &b"hi"[..])
        );
        // v5, QoS 0, topic "t", properties: topic alias 3, user property ("schema-id", "5").
        let mut v5 = vec![0x30, 0, 0, 1, b't'];
        let props = [
            vec![0x23, 0, 3],
            vec![0x26, 0, 9],
            b"schema-id".to_vec(),
            vec![0, 1, b'5'],
        ]
        .concat();
        v5.push(props.len() as u8);
        v5.extend_from_slice(&props);
        v5.extend_from_slice(b"{}");
        v5[1] = (v5.len() - 2) as u8;
        let p = decode_publish(&v5, Version::V5).unwrap();
        assert_eq!(p.topic_alias, Some(3));
        assert_eq!(
            p.user_properties,
            [("schema-id".to_owned(), "5".to_owned())]
        );
        assert_eq!(&p.payload[..], b"{}");
        assert!(decode_publish(&[0x32, 0x02, 0, 9], Version::V3).is_err());
    }

    #[test]
    fn connects() {
        let v4 = [
            0x10, 0x0f, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 3, b'd', b'e', b'v',
        ];
        let c = decode_connect(&v4).unwrap();
        assert_eq!((c.version, c.client_id.as_str()), (Version::V3, "dev"));
        assert!(!c.problem_info);
        // v5 with Maximum Packet Size 100 (0x27) and Request Problem Information 0 (0x17).
        let mut v5 = vec![0x10, 0, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60];
        let props = [0x27, 0, 0, 0, 100, 0x17, 0];
        v5.push(props.len() as u8);
        v5.extend_from_slice(&props);
        v5.extend_from_slice(&[0, 1, b'x']);
        v5[1] = (v5.len() - 2) as u8;
        let c = decode_connect(&v5).unwrap();
        assert_eq!(
            (c.version, c.max_packet, c.problem_info),
            (Version::V5, 100, false)
        );
        assert!(decode_connect(&[0x10, 0x02, 0, 1]).is_err());
    }

    #[test]
    fn rewrites_and_acks() {
        // v5 QoS 1 pid 9, alias-only (empty topic, alias 2), payload "x".
        let frame = [0x32, 0x09, 0, 0, 0, 9, 0x03, 0x23, 0, 2, b'x'];
        let out = rewrite_publish_v5(&frame, Some("a/b"), &[("k", "v")]).unwrap();
        let p = decode_publish(&out, Version::V5).unwrap();
        assert_eq!(
            (p.topic.as_str(), p.topic_alias, p.pid, &p.payload[..]),
            ("a/b", Some(2), Some(9), &b"x"[..])
        );
        assert_eq!(p.user_properties, [("k".to_owned(), "v".to_owned())]);
        assert_eq!(ack_pid(&[0x40, 0x02, 1, 2]), Some(258));
        assert_eq!(ack_pid(&[0x40, 0x01, 1]), None);
        assert_eq!(ack_reason_v5(&[0x40, 0x03, 0, 7, 0x99]), 0x99);
        assert_eq!(ack_reason_v5(&[0x40, 0x02, 0, 7]), 0);
        assert_eq!(
            disconnect_v5(0x99, Some("no"), 1000)[..3],
            [0xe0, 0x07, 0x99]
        );
        assert_eq!(disconnect_v5(0x99, Some("no"), 4), [0xe0, 0x02, 0x99, 0]);
    }

    #[test]
    fn refusals() {
        // v5 PUBACK, pid 7, 0x99, reason string "bad".
        assert_eq!(
            refusal(Version::V5, 1, 7, 0x99, Some("bad"), 1000),
            [0x40, 0x0a, 0, 7, 0x99, 0x06, 0x1f, 0, 3, b'b', b'a', b'd']
        );
        // Over the client's maximum packet size: without the string.
        assert_eq!(
            refusal(Version::V5, 1, 7, 0x99, Some("bad"), 8),
            [0x40, 0x03, 0, 7, 0x99]
        );
        assert_eq!(
            refusal(Version::V5, 2, 7, 0x87, None, 1000),
            [0x50, 0x03, 0, 7, 0x87]
        );
        // 3.1.1 knows only the positive acknowledgement.
        assert_eq!(
            refusal(Version::V3, 1, 7, 0x99, Some("bad"), 1000),
            [0x40, 0x02, 0, 7]
        );
        assert_eq!(
            refusal(Version::V3, 2, 7, 0x99, None, 1000),
            [0x50, 0x02, 0, 7]
        );
        assert_eq!(pubcomp(Version::V3, 7), [0x70, 0x02, 0, 7]);
        assert_eq!(pubcomp(Version::V5, 7)[..4], [0x70, 0x02, 0, 7]);
    }
}
