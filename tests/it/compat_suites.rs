//! The data-driven compatibility suites, one data file per format (`tests/compat/avro.json`,
//! `protobuf.json`, `json.json`). A pair case gives an old
//! and a new schema and whether the new one reads old data (backward) and the old one reads new
//! data (forward); the verdict at each of the seven levels follows, and a failing direction must
//! name the expected path. A history case gives several registered versions and the verdict per
//! level explicitly, so the transitive levels are told apart.

use std::sync::Arc;

use accord::compat::{check_with_metadata, Previous};
use accord::formats::avro::AvroFormat;
use accord::formats::json::JsonFormat;
use accord::formats::protobuf::ProtobufFormat;
use accord::formats::{Format, ParsedSchema, ResolvedReference};
use accord::types::CompatibilityLevel;
use serde_json::Value;

/// A schema of a case: Protobuf cases give `.proto` text; Avro and JSON cases the schema
/// itself as JSON. `refs` names the files it imports (name → text).
fn parse_with(format: &dyn Format, v: &Value, refs: &Value, case: &str) -> Arc<dyn ParsedSchema> {
    let references: Vec<ResolvedReference> = refs
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(name, text)| ResolvedReference {
                    name: name.clone(),
                    schema_type: format.schema_type(),
                    schema: text.as_str().unwrap_or_default().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    parse_refs(format, v, &references, case)
}

fn parse(format: &dyn Format, v: &Value, case: &str) -> Arc<dyn ParsedSchema> {
    parse_refs(format, v, &[], case)
}

fn parse_refs(
    format: &dyn Format,
    v: &Value,
    references: &[ResolvedReference],
    case: &str,
) -> Arc<dyn ParsedSchema> {
    let text = match v {
        Value::String(s) if format.schema_type() == accord::types::SchemaType::Protobuf => {
            s.clone()
        }
        other => other.to_string(),
    };
    format
        .parse(&text, references)
        .unwrap_or_else(|e| panic!("case '{case}': schema does not parse: {e}: {v}"))
}

fn verdict(
    level: CompatibilityLevel,
    new: &dyn ParsedSchema,
    history: &[Arc<dyn ParsedSchema>],
) -> Vec<String> {
    verdict_with(level, (new, None), history, None)
}

/// A verdict with metadata (a case's `old_metadata` / `new_metadata`) on both sides.
fn verdict_with(
    level: CompatibilityLevel,
    new: (&dyn ParsedSchema, Option<&Value>),
    history: &[Arc<dyn ParsedSchema>],
    old_metadata: Option<&Value>,
) -> Vec<String> {
    let previous: Vec<Previous> = history
        .iter()
        .enumerate()
        .map(|(i, s)| Previous {
            version: i as i32 + 1,
            schema: s.as_ref(),
            metadata: old_metadata,
        })
        .collect();
    check_with_metadata(level, new.0, new.1, &previous)
}

/// A case's metadata, when it gives one.
fn meta(v: &Value) -> Option<&Value> {
    (!v.is_null()).then_some(v)
}

#[test]
fn avro_compatibility_cases() {
    run(&AvroFormat, include_str!("../compat/avro.json"), 80);
}

#[test]
fn protobuf_compatibility_cases() {
    run(&ProtobufFormat, include_str!("../compat/protobuf.json"), 60);
}

#[test]
fn json_schema_compatibility_cases() {
    run(&JsonFormat, include_str!("../compat/json.json"), 80);
}

fn run(format: &dyn Format, data: &str, at_least: usize) {
    let cases: Vec<Value> = serde_json::from_str(data).expect("the suite parses");
    assert!(
        cases.len() >= at_least,
        "the suite must keep at least {at_least} cases"
    );
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        if let Some(history) = case["history"].as_array() {
            let history: Vec<_> = history.iter().map(|s| parse(format, s, name)).collect();
            let new = parse(format, &case["new"], name);
            for level in CompatibilityLevel::ALL {
                let expected = case["levels"][level.as_str()].as_bool().unwrap();
                let messages = verdict(level, new.as_ref(), &history);
                if messages.is_empty() != expected {
                    failures.push(format!(
                        "{name} @ {}: expected {expected}, got {messages:?}",
                        level.as_str()
                    ));
                }
                if let (false, Some(p)) = (expected, case["path"].as_str()) {
                    if !messages.iter().any(|m| m.contains(p)) {
                        failures.push(format!(
                            "{name} @ {}: no '{p}' in {messages:?}",
                            level.as_str()
                        ));
                    }
                }
            }
            continue;
        }
        let old = parse_with(format, &case["old"], &case["old_refs"], name);
        let new = parse_with(format, &case["new"], &case["new_refs"], name);
        let pair_verdict = |level| {
            verdict_with(
                level,
                (new.as_ref(), meta(&case["new_metadata"])),
                std::slice::from_ref(&old),
                meta(&case["old_metadata"]),
            )
        };
        // A verdict may be left out (null): the reference tables give only the backward one.
        let backward = case["backward"].as_bool();
        let forward = case["forward"].as_bool();
        for level in CompatibilityLevel::ALL {
            use CompatibilityLevel::*;
            let expected = match level {
                None => Some(true),
                Backward | BackwardTransitive => backward,
                Forward | ForwardTransitive => forward,
                Full | FullTransitive => backward.zip(forward).map(|(b, f)| b && f),
            };
            let Some(expected) = expected else {
                continue;
            };
            let messages = pair_verdict(level);
            if messages.is_empty() != expected {
                failures.push(format!(
                    "{name} @ {}: expected {expected}, got {messages:?}",
                    level.as_str()
                ));
            }
        }
        for (direction, level, ok) in [
            ("backward", CompatibilityLevel::Backward, backward),
            ("forward", CompatibilityLevel::Forward, forward),
        ] {
            if ok != Some(false) {
                continue;
            }
            let Some(path) = case[format!("{direction}_path")].as_str() else {
                failures.push(format!(
                    "{name}: a failing {direction} case must name its path"
                ));
                continue;
            };
            let messages = pair_verdict(level);
            let quoted = format!("'{path}'");
            if !messages.iter().any(|m| m.contains(&quoted)) {
                failures.push(format!(
                    "{name} ({direction}): expected path {quoted} in {messages:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
