//! The data-driven lint suite (`tests/lint/cases.json`): every rule id, for every format it
//! concerns, with the exact findings expected. Each case runs twice: with its rules enforced
//! (the findings must be violations, nothing a warning) and in warn mode (the other way round).
//! All other rules are off, so a case sees only the rules it names.

use std::collections::BTreeMap;
use std::sync::Arc;

use accord::formats::{Formats, ParsedSchema};
use accord::governance::lint::{lint, LintInput};
use accord::governance::policy::{Policy, RuleConfig, RuleMode, RULES};
use accord::types::SchemaType;
use serde_json::Value;

fn parse(formats: &Formats, t: SchemaType, v: &Value, case: &str) -> Arc<dyn ParsedSchema> {
    let text = match v {
        Value::String(s) if t == SchemaType::Protobuf => s.clone(),
        other => other.to_string(),
    };
    formats
        .parse(t, &text, &[])
        .unwrap_or_else(|e| panic!("case '{case}': schema does not parse: {e}"))
}

fn rules(case: &Value, mode: RuleMode) -> BTreeMap<String, RuleConfig> {
    let mut all: BTreeMap<String, RuleConfig> = Policy::default()
        .rules
        .into_iter()
        .map(|(id, mut r)| {
            r.mode = RuleMode::Off;
            (id, r)
        })
        .collect();
    for (id, params) in case["rules"].as_object().unwrap() {
        all.insert(
            id.clone(),
            RuleConfig {
                mode,
                severity: "error".into(),
                params: params.as_object().cloned().unwrap_or_default(),
            },
        );
    }
    all
}

#[test]
fn lint_rule_cases() {
    let cases: Vec<Value> =
        serde_json::from_str(include_str!("../lint/cases.json")).expect("cases.json parses");
    let formats = Formats::default();
    let mut covered: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let t: SchemaType = case["format"].as_str().unwrap().parse().unwrap();
        let schema = parse(&formats, t, &case["schema"], name);
        let previous = case.get("previous").map(|p| parse(&formats, t, p, name));
        let findings = |key: &str| {
            let mut found: Vec<(String, String)> = case[key]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|e| {
                    (
                        e["ruleId"].as_str().unwrap().to_owned(),
                        e["path"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            found.sort();
            found
        };
        let expected = findings("expect");
        // Findings the previous version already had: warnings even when the rule is enforced.
        let existing = findings("existing");
        for id in case["rules"].as_object().unwrap().keys() {
            if let Some((known, _)) = RULES.iter().find(|(k, _)| k == id) {
                *covered.entry(known).or_default() += 1;
            }
        }
        for mode in [RuleMode::Enforce, RuleMode::Warn] {
            let rules = rules(case, mode);
            let (enforced, warned) = lint(&LintInput {
                subject: case["subject"].as_str().unwrap(),
                schema: schema.as_ref(),
                previous: previous.as_deref(),
                rules: &rules,
                domain: case["domain"].as_str(),
            });
            let ids = |found: &[accord::governance::Violation]| {
                let mut ids: Vec<(String, String)> = found
                    .iter()
                    .map(|v| (v.rule_id.clone(), v.path.clone()))
                    .collect();
                ids.sort();
                ids
            };
            let (want_enforced, want_warned) = match mode {
                RuleMode::Enforce => (expected.clone(), existing.clone()),
                _ => {
                    let mut all = [expected.clone(), existing.clone()].concat();
                    all.sort();
                    (Vec::new(), all)
                }
            };
            let (got_enforced, got_warned) = (ids(&enforced), ids(&warned));
            if got_enforced != want_enforced || got_warned != want_warned {
                failures.push(format!(
                    "{name} ({mode:?}): expected enforced {want_enforced:?} and warned {want_warned:?}, got {got_enforced:?} and {got_warned:?}"
                ));
            }
            let flagged = ids(&[&enforced[..], &warned[..]]
                .concat()
                .into_iter()
                .filter(|v| v.existing)
                .collect::<Vec<_>>());
            let want_flagged = if mode == RuleMode::Enforce {
                existing.clone()
            } else {
                Vec::new()
            };
            if flagged != want_flagged {
                failures.push(format!(
                    "{name} ({mode:?}): marked existing {flagged:?}, expected {want_flagged:?}"
                ));
            }
            let hit = [&enforced[..], &warned[..]].concat();
            if hit.iter().any(|v| v.message.is_empty()) {
                failures.push(format!("{name}: a finding without a message"));
            }
        }
    }
    for (id, _) in RULES {
        if !covered.contains_key(id) {
            failures.push(format!("rule '{id}' has no case"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} lint failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
