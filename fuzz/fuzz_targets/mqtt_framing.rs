#![no_main]
//! The proxy's MQTT framing and the packets it reads or rewrites: whatever a client sends,
//! framing never reads past the buffer or panics, and a PUBLISH the proxy writes again reads
//! back as the same message.

use accord::proxy::mqtt::codec::{self, Version};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The first byte picks the size limit, so both "too large" and "wait for more" are reached.
    let Some((&limit, mut rest)) = data.split_first() else {
        return;
    };
    let max = 16usize << (limit % 20);
    let _ = codec::connect_version(rest);
    let _ = codec::decode_connect(rest);
    while let Ok(Some(n)) = codec::frame_len(rest, max) {
        assert!(n >= 2 && n <= rest.len() && n <= max);
        let (frame, tail) = rest.split_at(n);
        let _ = codec::packet_type(frame);
        let _ = codec::ack_pid(frame);
        let _ = codec::ack_reason_v5(frame);
        let _ = codec::decode_connect(frame);
        let _ = codec::decode_publish(frame, Version::V3);
        if let Ok(p) = codec::decode_publish(frame, Version::V5) {
            let again = codec::rewrite_publish_v5(frame, Some("a/b"), &[("k", "v")])
                .expect("a PUBLISH that decodes is written again");
            let q = codec::decode_publish(&again, Version::V5).expect("and reads back");
            assert_eq!((q.qos, q.pid, &q.payload), (p.qos, p.pid, &p.payload));
            assert_eq!(q.topic, "a/b");
            assert_eq!(q.user_properties.last().map(|(k, _)| k.as_str()), Some("k"));
        }
        if let (Some(pid), 1..=2) = (codec::ack_pid(frame), limit % 3) {
            let _ = codec::refusal(Version::V5, limit % 3, pid, 0x99, Some("why"), max);
            let _ = codec::pubcomp(Version::V3, pid);
        }
        rest = tail;
    }
});
