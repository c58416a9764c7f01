//! Payload validation throughput per format, on one core, next to decode-only throughput of the
//! same payload with the same crate in the same run: decoding is the floor validation cannot
//! beat. Payload: a realistic 20-field order encoded to about 1 KiB in each format (Avro
//! binary, Protobuf with its message-index byte, JSON text).
//!
//! Run: `cargo bench --bench validate`. ACCORD_BENCH_SECONDS per measurement (default 2),
//! ACCORD_BENCH_ROUNDS (default 3; measurements interleave, medians are printed).

use std::hint::black_box;
use std::time::{Duration, Instant};

use accord::formats::avro::AvroFormat;
use accord::formats::json::JsonFormat;
use accord::formats::protobuf::{ProtobufFormat, ProtobufSchema};
use accord::formats::{Format, PayloadOptions};
use anyhow::{Context, Result};
use apache_avro::types::Value;
use prost::Message;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, Value as PValue};

mod common;

/// Messages per second of `f` over about `seconds`.
fn rate(seconds: f64, mut f: impl FnMut() -> bool) -> f64 {
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < budget {
        for _ in 0..256 {
            assert!(black_box(f()));
        }
        n += 256;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn order_value(i: usize) -> Value {
    let s = |t: &str| Value::String(format!("{t}-{i:06}-{}", "x".repeat(40)));
    let nullable = |v: Value| Value::Union(1, Box::new(v));
    Value::Record(vec![
        ("id".into(), s("order")),
        ("customer_id".into(), s("customer")),
        (
            "created_at".into(),
            Value::TimestampMillis(1_700_000_000_000 + i as i64),
        ),
        ("status".into(), Value::Enum(1, "PAID".into())),
        ("amount".into(), Value::Double(123.45)),
        ("currency".into(), Value::String("EUR".into())),
        (
            "items".into(),
            Value::Array((0..8).map(|k| s(&format!("sku{k}"))).collect()),
        ),
        ("note".into(), nullable(s("note"))),
        ("street".into(), s("street")),
        ("city".into(), s("city")),
        ("zip".into(), Value::String("0150".into())),
        ("country".into(), Value::String("NO".into())),
        ("email".into(), nullable(s("mail"))),
        (
            "phone".into(),
            nullable(Value::String("+47 555 01234".into())),
        ),
        ("discount".into(), Value::Double(0.0)),
        ("tax".into(), Value::Double(25.0)),
        ("channel".into(), Value::String("web".into())),
        ("priority".into(), Value::Int(3)),
        ("gift".into(), Value::Boolean(false)),
        (
            "tags".into(),
            Value::Map((0..4).map(|k| (format!("k{k}"), s("tag"))).collect()),
        ),
    ])
}

/// The order as JSON, field for field.
fn order_json(i: usize) -> serde_json::Value {
    let s = |t: &str| format!("{t}-{i:06}-{}", "x".repeat(40));
    serde_json::json!({
        "id": s("order"), "customer_id": s("customer"), "created_at": 1_700_000_000_000_i64 + i as i64,
        "status": "PAID", "amount": 123.45, "currency": "EUR",
        "items": (0..8).map(|k| s(&format!("sku{k}"))).collect::<Vec<_>>(),
        "note": s("note"), "street": s("street"), "city": s("city"), "zip": "0150", "country": "NO",
        "email": s("mail"), "phone": "+47 555 01234", "discount": 0.0, "tax": 25.0, "channel": "web",
        "priority": 3, "gift": false,
        "tags": (0..4).map(|k| (format!("k{k}"), serde_json::Value::String(s("tag")))).collect::<serde_json::Map<_, _>>(),
    })
}

/// The order as a Protobuf message, encoded, from the JSON form.
fn order_protobuf(desc: MessageDescriptor, json: &serde_json::Value) -> Result<Vec<u8>> {
    let mut m = DynamicMessage::new(desc.clone());
    let obj = json.as_object().context("object")?;
    for f in desc.fields() {
        let Some(v) = obj.get(f.name()) else { continue };
        let value = match (f.kind(), v) {
            _ if f.is_map() => PValue::Map(
                v.as_object()
                    .context("map")?
                    .iter()
                    .map(|(k, v)| {
                        (
                            prost_reflect::MapKey::String(k.clone()),
                            PValue::String(v.as_str().unwrap_or_default().to_owned()),
                        )
                    })
                    .collect(),
            ),
            _ if f.is_list() => PValue::List(
                v.as_array()
                    .context("list")?
                    .iter()
                    .map(|x| PValue::String(x.as_str().unwrap_or_default().to_owned()))
                    .collect(),
            ),
            (Kind::String, v) => PValue::String(v.as_str().unwrap_or_default().to_owned()),
            (Kind::Int64, v) => PValue::I64(v.as_i64().unwrap_or_default()),
            (Kind::Int32, v) => PValue::I32(v.as_i64().unwrap_or_default() as i32),
            (Kind::Double, v) => PValue::F64(v.as_f64().unwrap_or_default()),
            (Kind::Bool, v) => PValue::Bool(v.as_bool().unwrap_or_default()),
            (Kind::Enum(_), _) => PValue::EnumNumber(1),
            (k, _) => anyhow::bail!("unexpected kind {k:?}"),
        };
        m.set_field(&f, value);
    }
    Ok(m.encode_to_vec())
}

struct Row {
    format: &'static str,
    payload: usize,
    validate: Vec<f64>,
    decode: Vec<f64>,
}

fn main() -> Result<()> {
    let seconds: f64 = common::env_or("ACCORD_BENCH_SECONDS", 2.0);
    let rounds: usize = common::env_or("ACCORD_BENCH_ROUNDS", 3);
    let fail = |e: accord::formats::InvalidSchema| anyhow::anyhow!("{e}");
    let lenient = PayloadOptions::default();
    let strict = PayloadOptions {
        allow_unknown_fields: false,
        json: false,
    };

    // Avro.
    let avro = AvroFormat.parse(common::ORDER_SCHEMA, &[]).map_err(fail)?;
    let schema = apache_avro::Schema::parse_str(common::ORDER_SCHEMA)?;
    let avro_datum = apache_avro::to_avro_datum(&schema, order_value(1))?;

    // Protobuf: the Confluent message-index byte, then the message.
    let proto = ProtobufFormat
        .parse(common::ORDER_PROTO, &[])
        .map_err(fail)?;
    let proto_schema = proto
        .as_any()
        .downcast_ref::<ProtobufSchema>()
        .context("protobuf schema")?;
    let desc = proto_schema.message_at(&[0]).context("Order")?;
    let body = order_protobuf(desc.clone(), &order_json(1))?;
    let proto_payload = [&[0u8][..], &body].concat();

    // JSON.
    let json = JsonFormat
        .parse(common::ORDER_JSON_SCHEMA, &[])
        .map_err(fail)?;
    let json_payload = serde_json::to_vec(&order_json(1))?;

    for (name, p, payload, options) in [
        ("avro", &avro, &avro_datum, lenient),
        ("protobuf", &proto, &proto_payload, lenient),
        ("protobuf", &proto, &proto_payload, strict),
        ("json", &json, &json_payload, lenient),
    ] {
        p.validate(payload, options)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("{name} fixture must be valid"))?;
    }

    let mut rows = vec![
        Row {
            format: "avro",
            payload: avro_datum.len(),
            validate: vec![],
            decode: vec![],
        },
        Row {
            format: "protobuf",
            payload: proto_payload.len(),
            validate: vec![],
            decode: vec![],
        },
        Row {
            format: "protobuf (no unknown fields)",
            payload: proto_payload.len(),
            validate: vec![],
            decode: vec![],
        },
        Row {
            format: "json",
            payload: json_payload.len(),
            validate: vec![],
            decode: vec![],
        },
    ];
    for _ in 0..rounds {
        // Each floor is the decode call the validator itself makes, with the same crate.
        rows[0].decode.push(rate(seconds, || {
            apache_avro::from_avro_datum_schemata(&schema, vec![], &mut &avro_datum[..], None)
                .is_ok()
        }));
        rows[0].validate.push(rate(seconds, || {
            avro.validate(&avro_datum, lenient).is_ok()
        }));
        let proto_decode = rate(seconds, || {
            DynamicMessage::decode(desc.clone(), &body[..]).is_ok()
        });
        rows[1].decode.push(proto_decode);
        rows[1].validate.push(rate(seconds, || {
            proto.validate(&proto_payload, lenient).is_ok()
        }));
        rows[2].decode.push(proto_decode);
        rows[2].validate.push(rate(seconds, || {
            proto.validate(&proto_payload, strict).is_ok()
        }));
        rows[3].decode.push(rate(seconds, || {
            serde_json::from_slice::<serde_json::Value>(&json_payload).is_ok()
        }));
        rows[3].validate.push(rate(seconds, || {
            json.validate(&json_payload, lenient).is_ok()
        }));
    }

    println!(
        "accord validation bench: one core, {rounds} interleaved rounds of {seconds}s, medians"
    );
    println!(
        "{:<30} {:>8} {:>16} {:>16} {:>8}",
        "format", "payload", "validate msg/s", "decode msg/s", "ratio"
    );
    let mut all_met = true;
    for r in rows {
        let (v, d) = (median(r.validate), median(r.decode));
        let ratio = d / v;
        all_met &= ratio <= 2.0;
        println!(
            "{:<30} {:>6} B {:>16.0} {:>16.0} {:>7.2}x",
            r.format, r.payload, v, d, ratio
        );
    }
    println!(
        "validation within 2x of decode-only for every format: {}",
        if all_met { "MET" } else { "NOT MET" }
    );
    Ok(())
}
