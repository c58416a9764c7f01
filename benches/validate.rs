//! Payload validation throughput per format, on one core, next to decode-only throughput of the
//! same payload with the same crate in the same run: decoding is the floor validation cannot
//! beat. Payload: a realistic 20-field record encoded to about 1 KiB.
//!
//! Run: `cargo bench --bench validate`. ACCORD_BENCH_SECONDS per measurement (default 2),
//! ACCORD_BENCH_ROUNDS (default 3; measurements interleave, medians are printed).

use std::hint::black_box;
use std::time::{Duration, Instant};

use accord::formats::avro::AvroFormat;
use accord::formats::Format;
use anyhow::{Context, Result};
use apache_avro::types::Value;

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

fn main() -> Result<()> {
    let seconds: f64 = common::env_or("ACCORD_BENCH_SECONDS", 2.0);
    let rounds: usize = common::env_or("ACCORD_BENCH_ROUNDS", 3);

    let parsed = AvroFormat
        .parse(common::ORDER_SCHEMA, &[])
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let schema = apache_avro::Schema::parse_str(common::ORDER_SCHEMA)?;
    let datum = apache_avro::to_avro_datum(&schema, order_value(1))?;
    parsed
        .validate(&datum)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("fixture must be valid")?;

    let (mut validate, mut decode) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        // The same decode call the validator makes, on a plain slice reader.
        decode.push(rate(seconds, || {
            apache_avro::from_avro_datum_schemata(&schema, vec![], &mut &datum[..], None).is_ok()
        }));
        validate.push(rate(seconds, || parsed.validate(&datum).is_ok()));
    }
    let (v, d) = (median(validate), median(decode));
    println!(
        "accord validation bench: one core, {rounds} interleaved rounds of {seconds}s, medians"
    );
    println!(
        "{:<8} {:>8} {:>16} {:>16} {:>10}",
        "format", "payload", "validate msg/s", "decode msg/s", "ratio"
    );
    println!(
        "{:<8} {:>6} B {:>16.0} {:>16.0} {:>9.2}x",
        "avro",
        datum.len(),
        v,
        d,
        d / v
    );
    println!(
        "avro validation costs {:.2}x decode-only (target <= 2x): {}",
        d / v,
        if d / v <= 2.0 { "MET" } else { "NOT MET" }
    );
    Ok(())
}
