//! Lint: the policy's naming, documentation and hygiene rules applied to a schema. Each format
//! is walked once into a flat list of named [`Element`]s (with a path into the schema, its
//! documentation and nesting depth); the rules then only look at elements, so a rule is written
//! once for every format it concerns.

use std::collections::BTreeMap;

use prost_reflect::MessageDescriptor;
use regex::Regex;
use serde_json::Value;

use super::policy::{RuleConfig, RuleMode};
use super::Violation;
use crate::formats::avro::AvroSchema;
use crate::formats::json::JsonSchema;
use crate::formats::protobuf::ProtobufSchema;
use crate::formats::ParsedSchema;

/// What kind of named thing an element is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    AvroNamespace,
    AvroType,
    AvroField,
    AvroSymbol,
    ProtoPackage,
    ProtoMessage,
    ProtoField,
    ProtoEnum,
    ProtoEnumValue,
    JsonTitle,
    JsonProperty,
}

/// One named element of a schema.
#[derive(Debug, Clone)]
pub struct Element {
    pub kind: Kind,
    pub name: String,
    /// JSON pointer (Avro, JSON Schema) or `#/Message/field` path (Protobuf) into the schema.
    pub path: String,
    pub doc: Option<String>,
    /// 0 for top-level types; one more per enclosing record/message/object.
    pub depth: usize,
    /// The enclosing enum of an enum value.
    pub parent: Option<String>,
    /// The number of a Protobuf enum value.
    pub number: Option<i32>,
    /// Whether a field or property may be absent (JSON: not `required`; Avro: nullable).
    pub optional: bool,
    pub has_default: bool,
}

impl Element {
    fn new(kind: Kind, name: &str, path: String, depth: usize) -> Self {
        Element {
            kind,
            name: name.to_owned(),
            path,
            doc: None,
            depth,
            parent: None,
            number: None,
            optional: false,
            has_default: false,
        }
    }
}

// ---- case styles ---------------------------------------------------------------------------

/// Whether `name` is written in `case`.
pub fn is_case(case: &str, name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    match case {
        "PascalCase" => first.is_ascii_uppercase() && name.chars().all(alnum),
        "camelCase" => first.is_ascii_lowercase() && name.chars().all(alnum),
        "snake_case" => {
            first.is_ascii_lowercase()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && !name.contains("__")
                && !name.ends_with('_')
        }
        "UPPER_SNAKE" => {
            first.is_ascii_uppercase()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && !name.contains("__")
                && !name.ends_with('_')
        }
        "kebab-case" => {
            first.is_ascii_lowercase()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !name.contains("--")
                && !name.ends_with('-')
        }
        _ => true,
    }
}

/// `OrderStatus` → `ORDER_STATUS`.
pub fn upper_snake(name: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase()
            && i > 0
            && (chars[i - 1].is_ascii_lowercase()
                || chars[i - 1].is_ascii_digit()
                || chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase()))
            && chars[i - 1] != '_'
        {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

// ---- walkers -------------------------------------------------------------------------------

/// The elements of a parsed schema, whatever its format.
pub fn elements(schema: &dyn ParsedSchema) -> Vec<Element> {
    let any = schema.as_any();
    let mut out = Vec::new();
    if let Some(a) = any.downcast_ref::<AvroSchema>() {
        avro(a.json(), "", 0, &mut out);
    } else if let Some(p) = any.downcast_ref::<ProtobufSchema>() {
        protobuf(p, &mut out);
    } else if let Some(j) = any.downcast_ref::<JsonSchema>() {
        json(j.value(), &mut out);
    }
    out
}

fn avro(v: &Value, path: &str, depth: usize, out: &mut Vec<Element>) {
    match v {
        Value::Array(branches) => {
            for (i, b) in branches.iter().enumerate() {
                avro(b, &format!("{path}/{i}"), depth, out);
            }
        }
        Value::Object(m) => {
            let t = m.get("type").and_then(Value::as_str).unwrap_or("");
            match t {
                "record" | "error" | "enum" | "fixed" => {
                    let full = m.get("name").and_then(Value::as_str).unwrap_or("");
                    let (ns, name) = match full.rsplit_once('.') {
                        Some((ns, n)) => (Some(ns), n),
                        None => (m.get("namespace").and_then(Value::as_str), full),
                    };
                    if let Some(ns) = ns.filter(|n| !n.is_empty()) {
                        let at = if m.contains_key("namespace") {
                            format!("{path}/namespace")
                        } else {
                            format!("{path}/name")
                        };
                        out.push(Element::new(Kind::AvroNamespace, ns, at, depth));
                    }
                    let mut e = Element::new(Kind::AvroType, name, format!("{path}/name"), depth);
                    e.doc = m.get("doc").and_then(Value::as_str).map(str::to_owned);
                    out.push(e);
                    if t == "enum" {
                        for (i, s) in m
                            .get("symbols")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .enumerate()
                        {
                            let mut e = Element::new(
                                Kind::AvroSymbol,
                                s.as_str().unwrap_or(""),
                                format!("{path}/symbols/{i}"),
                                depth,
                            );
                            e.parent = Some(name.to_owned());
                            out.push(e);
                        }
                    }
                    for (i, f) in m
                        .get("fields")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .enumerate()
                    {
                        let fname = f.get("name").and_then(Value::as_str).unwrap_or("");
                        let mut e = Element::new(
                            Kind::AvroField,
                            fname,
                            format!("{path}/fields/{i}/name"),
                            depth + 1,
                        );
                        e.doc = f.get("doc").and_then(Value::as_str).map(str::to_owned);
                        e.has_default = f.get("default").is_some();
                        e.optional = f
                            .get("type")
                            .and_then(Value::as_array)
                            .is_some_and(|b| b.iter().any(|x| x == "null"));
                        out.push(e);
                        if let Some(ft) = f.get("type") {
                            avro(ft, &format!("{path}/fields/{i}/type"), depth + 1, out);
                        }
                    }
                }
                "array" => {
                    if let Some(items) = m.get("items") {
                        avro(items, &format!("{path}/items"), depth, out);
                    }
                }
                "map" => {
                    if let Some(values) = m.get("values") {
                        avro(values, &format!("{path}/values"), depth, out);
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
}

fn protobuf(p: &ProtobufSchema, out: &mut Vec<Element>) {
    let file = p.file();
    if !file.package_name().is_empty() {
        out.push(Element::new(
            Kind::ProtoPackage,
            file.package_name(),
            "#/".into(),
            0,
        ));
    }
    let package = file.package_name();
    let relative = |full: &str| -> String {
        full.strip_prefix(package)
            .and_then(|r| r.strip_prefix('.'))
            .unwrap_or(full)
            .to_owned()
    };
    fn walk(
        p: &ProtobufSchema,
        m: &MessageDescriptor,
        depth: usize,
        relative: &dyn Fn(&str) -> String,
        out: &mut Vec<Element>,
    ) {
        if m.is_map_entry() {
            return;
        }
        let name = relative(m.full_name());
        let mut e = Element::new(Kind::ProtoMessage, m.name(), format!("#/{name}"), depth);
        e.doc = p.comment(m.path()).map(str::to_owned);
        out.push(e);
        for f in m.fields() {
            let mut e = Element::new(
                Kind::ProtoField,
                f.name(),
                format!("#/{name}/{}", f.number()),
                depth + 1,
            );
            e.doc = p.comment(f.path()).map(str::to_owned);
            e.optional = true;
            e.has_default = true;
            out.push(e);
        }
        for en in m.child_enums() {
            enumeration(p, &en, depth + 1, relative, out);
        }
        for c in m.child_messages() {
            walk(p, &c, depth + 1, relative, out);
        }
    }
    fn enumeration(
        p: &ProtobufSchema,
        en: &prost_reflect::EnumDescriptor,
        depth: usize,
        relative: &dyn Fn(&str) -> String,
        out: &mut Vec<Element>,
    ) {
        let name = relative(en.full_name());
        let mut e = Element::new(Kind::ProtoEnum, en.name(), format!("#/{name}"), depth);
        e.doc = p.comment(en.path()).map(str::to_owned);
        out.push(e);
        for v in en.values() {
            let mut e = Element::new(
                Kind::ProtoEnumValue,
                v.name(),
                format!("#/{name}/{}", v.name()),
                depth,
            );
            e.parent = Some(en.name().to_owned());
            e.number = Some(v.number());
            out.push(e);
        }
    }
    for m in file.messages() {
        walk(p, &m, 0, &relative, out);
    }
    for en in file.enums() {
        enumeration(p, &en, 0, &relative, out);
    }
}

fn json(root: &Value, out: &mut Vec<Element>) {
    if let Some(t) = root.get("title").and_then(Value::as_str) {
        out.push(Element::new(Kind::JsonTitle, t, "#/title".into(), 0));
    } else {
        // A missing title is an element without a name, so `json.title` can report it.
        out.push(Element::new(Kind::JsonTitle, "", "#/title".into(), 0));
    }
    fn walk(v: &Value, path: &str, depth: usize, out: &mut Vec<Element>) {
        let Some(m) = v.as_object() else {
            return;
        };
        let required: Vec<&str> = m
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(props) = m.get("properties").and_then(Value::as_object) {
            for (name, p) in props {
                let at = format!(
                    "{path}/properties/{}",
                    name.replace('~', "~0").replace('/', "~1")
                );
                let mut e = Element::new(Kind::JsonProperty, name, at.clone(), depth + 1);
                e.doc = p
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                e.optional = !required.contains(&name.as_str());
                e.has_default = p.get("default").is_some();
                out.push(e);
                walk(p, &at, depth + 1, out);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(sub) = m.get(key).filter(|s| s.is_object()) {
                walk(sub, &format!("{path}/{key}"), depth, out);
            }
        }
        for key in ["definitions", "$defs"] {
            if let Some(defs) = m.get(key).and_then(Value::as_object) {
                for (name, d) in defs {
                    walk(d, &format!("{path}/{key}/{name}"), 0, out);
                }
            }
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            for (i, b) in m
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                walk(b, &format!("{path}/{key}/{i}"), depth, out);
            }
        }
    }
    walk(root, "#", 0, out);
}

// ---- rules ---------------------------------------------------------------------------------

/// The parts of a subject name the `subject.name` rule extracted (`domain`, `entity`, …).
pub type SubjectParts = BTreeMap<String, String>;

/// Everything a lint run needs besides the schema.
#[derive(Clone, Copy)]
pub struct LintInput<'a> {
    pub subject: &'a str,
    pub schema: &'a dyn ParsedSchema,
    /// The subject's latest version, for rules about what changed.
    pub previous: Option<&'a dyn ParsedSchema>,
    pub rules: &'a BTreeMap<String, RuleConfig>,
    /// The subject's domain as recorded in its governance, used when the subject name does not
    /// yield one.
    pub domain: Option<&'a str>,
}

struct Run<'a> {
    rules: &'a BTreeMap<String, RuleConfig>,
    found: Vec<(RuleMode, Violation)>,
}

impl Run<'_> {
    fn rule(&self, id: &str) -> Option<&RuleConfig> {
        self.rules.get(id).filter(|r| r.mode != RuleMode::Off)
    }

    fn param<'p>(&'p self, id: &str, key: &str) -> Option<&'p Value> {
        self.rule(id).and_then(|r| r.params.get(key))
    }

    fn report(&mut self, id: &str, path: &str, message: String) {
        if let Some(r) = self.rule(id) {
            self.found.push((
                r.mode,
                Violation {
                    rule_id: id.to_owned(),
                    severity: r.severity.clone(),
                    path: path.to_owned(),
                    message,
                    existing: false,
                },
            ));
        }
    }

    fn case(&mut self, id: &str, e: &Element, what: &str) {
        let Some(case) = self
            .param(id, "case")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return;
        };
        if !is_case(&case, &e.name) {
            self.report(id, &e.path, format!("{what} '{}' is not {case}", e.name));
        }
    }
}

/// The record name a subject names under the record strategies: the schema's first type.
fn schema_record_name(elements: &[Element]) -> Option<String> {
    let ns = elements
        .iter()
        .find(|e| e.kind == Kind::AvroNamespace && e.depth == 0)
        .map(|e| e.name.clone());
    let package = elements
        .iter()
        .find(|e| e.kind == Kind::ProtoPackage)
        .map(|e| e.name.clone());
    let first = elements.iter().find(|e| {
        matches!(
            e.kind,
            Kind::AvroType | Kind::ProtoMessage | Kind::JsonTitle
        ) && e.depth == 0
    })?;
    let prefix = ns.or(package);
    Some(match prefix {
        Some(p) if first.kind != Kind::JsonTitle => format!("{p}.{}", first.name),
        _ => first.name.clone(),
    })
}

fn subject_name(run: &mut Run, subject: &str, elements: &[Element]) -> SubjectParts {
    let mut parts = SubjectParts::new();
    let Some(r) = run.rule("subject.name").cloned() else {
        return parts;
    };
    let strategy = r
        .params
        .get("strategy")
        .and_then(Value::as_str)
        .unwrap_or("topic");
    let record = schema_record_name(elements);
    let topic: Option<&str> = match strategy {
        "record" => {
            if record.as_deref() != Some(subject) {
                run.report(
                    "subject.name",
                    "",
                    format!(
                        "under RecordNameStrategy the subject must be the record's full name '{}'",
                        record.unwrap_or_default()
                    ),
                );
            }
            None
        }
        "topic_record" => match record
            .as_deref()
            .and_then(|r| subject.strip_suffix(r))
            .and_then(|t| t.strip_suffix('-'))
        {
            Some(t) => Some(t),
            None => {
                run.report(
                    "subject.name",
                    "",
                    format!(
                        "under TopicRecordNameStrategy the subject must be '<topic>-{}'",
                        record.unwrap_or_default()
                    ),
                );
                None
            }
        },
        _ => match subject
            .strip_suffix("-value")
            .or_else(|| subject.strip_suffix("-key"))
        {
            Some(t) => Some(t),
            None => {
                run.report(
                    "subject.name",
                    "",
                    format!("under TopicNameStrategy the subject '{subject}' must end in -key or -value"),
                );
                None
            }
        },
    };
    let (Some(topic), Some(pattern)) = (topic, r.params.get("pattern").and_then(Value::as_str))
    else {
        return parts;
    };
    let Ok(re) = Regex::new(pattern) else {
        return parts;
    };
    match re.captures(topic) {
        Some(c) if c.get(0).is_some_and(|m| m.as_str() == topic) => {
            for name in re.capture_names().flatten() {
                if let Some(m) = c.name(name) {
                    parts.insert(name.to_owned(), m.as_str().to_owned());
                }
            }
        }
        _ => run.report(
            "subject.name",
            "",
            format!("the topic part '{topic}' of the subject does not match {pattern}"),
        ),
    }
    parts
}

/// Runs the rules in force over a schema; returns the enforced violations and the warnings.
///
/// A finding the previous version already had (same rule, same message: the same element broke
/// the same rule) is *existing*: it is reported as a warning, never enforced, so a rule adopted
/// after a subject's first versions does not freeze it. Only what a version adds or changes is
/// enforced, the way `buf` separates lint from breaking changes.
pub fn lint(input: &LintInput) -> (Vec<Violation>, Vec<Violation>) {
    let found = findings(input);
    let inherited: Vec<(String, String)> = match input.previous {
        Some(previous) if found.iter().any(|(m, _)| *m == RuleMode::Enforce) => {
            findings(&LintInput {
                schema: previous,
                previous: None,
                ..*input
            })
            .into_iter()
            .map(|(_, v)| (v.rule_id, v.message))
            .collect()
        }
        _ => Vec::new(),
    };
    let mut enforced = Vec::new();
    let mut warnings = Vec::new();
    for (mode, mut v) in found {
        if mode == RuleMode::Enforce
            && inherited
                .iter()
                .any(|(rule, message)| *rule == v.rule_id && *message == v.message)
        {
            v.existing = true;
            v.severity = "warning".into();
            warnings.push(v);
        } else if mode == RuleMode::Enforce {
            enforced.push(v);
        } else {
            warnings.push(v);
        }
    }
    (enforced, warnings)
}

/// Every finding of the rules in force, with the mode of the rule that found it.
fn findings(input: &LintInput) -> Vec<(RuleMode, Violation)> {
    let found = elements(input.schema);
    let mut run = Run {
        rules: input.rules,
        found: Vec::new(),
    };
    let mut parts = subject_name(&mut run, input.subject, &found);
    if let Some(d) = input.domain {
        parts.entry("domain".into()).or_insert_with(|| d.to_owned());
    }
    let forbidden: Vec<String> = run
        .param("hygiene.forbidden-names", "names")
        .and_then(Value::as_array)
        .map(|n| {
            n.iter()
                .filter_map(Value::as_str)
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default();
    let max_depth = run
        .param("hygiene.max-depth", "max")
        .and_then(Value::as_u64)
        .map(|m| m as usize);
    let doc_on: Vec<String> = run
        .param("doc.required", "on")
        .and_then(Value::as_array)
        .map(|n| {
            n.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let zero_suffix = run
        .param("protobuf.enum-zero-value", "suffix")
        .and_then(Value::as_str)
        .unwrap_or("_UNSPECIFIED")
        .to_owned();
    let previous: Vec<Element> = input.previous.map(elements).unwrap_or_default();

    for e in &found {
        match e.kind {
            Kind::AvroNamespace => {
                if run.param("avro.namespace", "case").is_some() {
                    let case = run
                        .param("avro.namespace", "case")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    if let Some(bad) = e.name.split('.').find(|s| !is_case(&case, s)) {
                        run.report(
                            "avro.namespace",
                            &e.path,
                            format!(
                                "namespace '{}' has segment '{bad}', which is not {case}",
                                e.name
                            ),
                        );
                    }
                }
                if let Some(domain) = parts.get("domain") {
                    if e.depth == 0 && !e.name.split('.').any(|s| s == domain) {
                        run.report(
                            "avro.namespace-domain",
                            &e.path,
                            format!(
                                "namespace '{}' does not contain the subject's domain '{domain}'",
                                e.name
                            ),
                        );
                    }
                }
            }
            Kind::AvroType => run.case("avro.type-name", e, "Avro type name"),
            Kind::AvroField => run.case("avro.field-name", e, "Avro field name"),
            Kind::AvroSymbol => run.case("avro.enum-symbol", e, "Avro enum symbol"),
            Kind::ProtoPackage => {
                let case = run
                    .param("protobuf.package", "case")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                if let Some(case) = case {
                    if let Some(bad) = e.name.split('.').find(|s| !is_case(&case, s)) {
                        run.report(
                            "protobuf.package",
                            &e.path,
                            format!(
                                "package '{}' has segment '{bad}', which is not {case}",
                                e.name
                            ),
                        );
                    }
                }
            }
            Kind::ProtoMessage => run.case("protobuf.message-name", e, "message name"),
            Kind::ProtoField => run.case("protobuf.field-name", e, "field name"),
            Kind::ProtoEnum => run.case("protobuf.enum-name", e, "enum name"),
            Kind::ProtoEnumValue => {
                run.case("protobuf.enum-value", e, "enum value");
                let prefix = format!("{}_", upper_snake(e.parent.as_deref().unwrap_or("")));
                if !e.name.starts_with(&prefix) {
                    run.report(
                        "protobuf.enum-value-prefix",
                        &e.path,
                        format!("enum value '{}' does not start with '{prefix}'", e.name),
                    );
                }
                if e.number == Some(0) {
                    let want = format!("{}{}", prefix.trim_end_matches('_'), zero_suffix);
                    if e.name != want {
                        run.report(
                            "protobuf.enum-zero-value",
                            &e.path,
                            format!(
                                "the zero value of enum '{}' is '{}', not '{want}'",
                                e.parent.as_deref().unwrap_or(""),
                                e.name
                            ),
                        );
                    }
                }
            }
            Kind::JsonTitle => {
                if run.rule("json.title").is_some() {
                    if e.name.is_empty() {
                        run.report("json.title", &e.path, "the schema has no title".into());
                    } else {
                        run.case("json.title", e, "title");
                    }
                }
            }
            Kind::JsonProperty => run.case("json.property-name", e, "property name"),
        }
        if !e.name.is_empty() && forbidden.contains(&e.name.to_lowercase()) {
            run.report(
                "hygiene.forbidden-names",
                &e.path,
                format!("the name '{}' is forbidden", e.name),
            );
        }
        if let Some(max) = max_depth {
            if e.depth > max {
                run.report(
                    "hygiene.max-depth",
                    &e.path,
                    format!("'{}' is nested {} deep (at most {max})", e.name, e.depth),
                );
            }
        }
        let doc_kind = match e.kind {
            Kind::AvroType | Kind::ProtoMessage => Some("record"),
            Kind::AvroField | Kind::ProtoField | Kind::JsonProperty => Some("field"),
            Kind::ProtoEnum => Some("enum"),
            _ => None,
        };
        if let Some(k) = doc_kind {
            let documented = e.doc.as_deref().is_some_and(|d| !d.trim().is_empty());
            if doc_on.iter().any(|o| o == k) && !documented {
                run.report(
                    "doc.required",
                    &e.path,
                    format!("'{}' has no documentation", e.name),
                );
            }
        }
        let is_field = matches!(e.kind, Kind::AvroField | Kind::JsonProperty);
        if is_field
            && input.previous.is_some()
            && e.optional
            && !e.has_default
            && !previous
                .iter()
                .any(|p| p.kind == e.kind && p.path == e.path)
        {
            run.report(
                "hygiene.new-optional-default",
                &e.path,
                format!("the new optional field '{}' has no default", e.name),
            );
        }
    }
    run.found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_styles() {
        assert!(is_case("PascalCase", "OrderLine"));
        assert!(!is_case("PascalCase", "orderLine"));
        assert!(is_case("camelCase", "orderLine"));
        assert!(!is_case("camelCase", "order_line"));
        assert!(is_case("snake_case", "order_line2"));
        assert!(!is_case("snake_case", "order__line"));
        assert!(is_case("UPPER_SNAKE", "ORDER_LINE"));
        assert!(!is_case("UPPER_SNAKE", "Order_LINE"));
        assert!(is_case("kebab-case", "order-line"));
        assert!(!is_case("kebab-case", "order_line"));
        assert_eq!(upper_snake("OrderStatus"), "ORDER_STATUS");
        assert_eq!(upper_snake("HTTPCode"), "HTTP_CODE");
    }
}
