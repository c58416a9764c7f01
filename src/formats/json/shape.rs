//! What kind of schema a JSON-Schema value is, in the terms the compatibility walk compares.
//!
//! The Confluent registry compares JSON schemas by the kind each one loads as: a schema with
//! one type and its keywords is that type's schema; one with several independent parts (a type
//! plus an `enum`, a `oneOf` beside `properties`, …) is the conjunction of those parts; a
//! `type` list is the union of one schema per type. Two schemas of different kinds are a type
//! change, whatever they would admit. [`Shape::of`] reproduces that classification, splitting a
//! schema object into the parts it stands for (each part a small schema value of its own), so
//! the walk in `compat.rs` can follow the reference registry's verdicts case by case.

use serde_json::{Map, Value};

/// The kind of a (dereferenced) schema value.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Accepts anything: `true`, or an object with no constraining keyword.
    Empty,
    /// Accepts nothing: `false`.
    False,
    Null,
    Boolean,
    String,
    /// `integer` or `number`; `integer` says whether only integers pass.
    Number {
        integer: bool,
    },
    Object,
    Array,
    Enum,
    Const,
    Not,
    /// `if`/`then`/`else`, which the comparison treats as opaque.
    Conditional,
    /// `allOf`/`anyOf`/`oneOf`, written or implied; `parts` are the subschemas.
    Combined {
        criterion: Criterion,
        parts: Vec<Value>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    All,
    Any,
    One,
}

impl Criterion {
    pub fn keyword(self) -> &'static str {
        match self {
            Criterion::All => "allOf",
            Criterion::Any => "anyOf",
            Criterion::One => "oneOf",
        }
    }
}

/// Keywords that make a schema an object schema even without `"type": "object"`.
const OBJECT_KEYWORDS: &[&str] = &[
    "properties",
    "required",
    "additionalProperties",
    "minProperties",
    "maxProperties",
    "dependencies",
    "dependentRequired",
    "dependentSchemas",
    "patternProperties",
    "propertyNames",
    "unevaluatedProperties",
];
const ARRAY_KEYWORDS: &[&str] = &[
    "items",
    "additionalItems",
    "prefixItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "minContains",
    "maxContains",
    "unevaluatedItems",
];
const STRING_KEYWORDS: &[&str] = &["minLength", "maxLength", "pattern", "format"];
const NUMBER_KEYWORDS: &[&str] = &[
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
];

/// The keywords of each type, in the order the parts of an untyped schema are listed.
const FAMILIES: &[(&str, &[&str])] = &[
    ("object", OBJECT_KEYWORDS),
    ("array", ARRAY_KEYWORDS),
    ("string", STRING_KEYWORDS),
    ("number", NUMBER_KEYWORDS),
];

impl Shape {
    /// Classifies a schema value that carries no `$ref` (the walk dereferences first).
    pub fn of(v: &Value) -> Shape {
        let m = match v {
            Value::Bool(true) => return Shape::Empty,
            Value::Bool(false) => return Shape::False,
            Value::Object(m) => m,
            _ => return Shape::Empty,
        };
        let mut parts: Vec<Value> = Vec::new();
        for criterion in [Criterion::All, Criterion::Any, Criterion::One] {
            if let Some(Value::Array(_)) = m.get(criterion.keyword()) {
                parts.push(only(m, &[criterion.keyword()]));
            }
        }
        for k in ["not", "enum", "const"] {
            if m.contains_key(k) {
                parts.push(only(m, &[k]));
            }
        }
        if m.contains_key("if") {
            parts.push(only(m, &["if", "then", "else"]));
        }
        match m.get("type") {
            Some(Value::String(t)) => parts.push(typed(m, t)),
            Some(Value::Array(ts)) => {
                let union: Vec<Value> = ts
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|t| typed(m, t))
                    .collect();
                parts.push(combined(Criterion::Any, union));
            }
            _ => {
                for (_, keywords) in FAMILIES {
                    if keywords.iter().any(|k| m.contains_key(*k)) {
                        parts.push(family(m, keywords));
                    }
                }
            }
        }
        match parts.len() {
            0 => Shape::Empty,
            1 => Shape::single(m, &parts[0]),
            _ => Shape::Combined {
                criterion: Criterion::All,
                parts,
            },
        }
    }

    /// The shape of a schema that stands for exactly one part.
    fn single(m: &Map<String, Value>, part: &Value) -> Shape {
        let p = part.as_object().unwrap_or(m);
        for criterion in [Criterion::All, Criterion::Any, Criterion::One] {
            if let Some(Value::Array(items)) = p.get(criterion.keyword()) {
                return Shape::Combined {
                    criterion,
                    parts: items.clone(),
                };
            }
        }
        if p.contains_key("not") {
            return Shape::Not;
        }
        if p.contains_key("enum") {
            return Shape::Enum;
        }
        if p.contains_key("const") {
            return Shape::Const;
        }
        if p.contains_key("if") {
            return Shape::Conditional;
        }
        match p.get("type").and_then(Value::as_str) {
            Some("null") => Shape::Null,
            Some("boolean") => Shape::Boolean,
            Some("string") => Shape::String,
            Some("integer") => Shape::Number { integer: true },
            Some("number") => Shape::Number { integer: false },
            Some("object") => Shape::Object,
            Some("array") => Shape::Array,
            _ => {
                for (t, keywords) in FAMILIES {
                    if keywords.iter().any(|k| p.contains_key(*k)) {
                        return match *t {
                            "object" => Shape::Object,
                            "array" => Shape::Array,
                            "string" => Shape::String,
                            _ => Shape::Number { integer: false },
                        };
                    }
                }
                Shape::Empty
            }
        }
    }

    /// Whether two shapes are of the same kind (`integer` and `number` are one kind).
    pub fn same_kind(&self, other: &Shape) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// The schema of one part: `m`'s keywords named in `keys`, plus its annotations.
fn only(m: &Map<String, Value>, keys: &[&str]) -> Value {
    let mut out = Map::new();
    for k in keys {
        if let Some(v) = m.get(*k) {
            out.insert((*k).to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

/// The part of `m` that constrains values of type `t`, typed.
fn typed(m: &Map<String, Value>, t: &str) -> Value {
    let keywords: &[&str] = match t {
        "object" => OBJECT_KEYWORDS,
        "array" => ARRAY_KEYWORDS,
        "string" => STRING_KEYWORDS,
        "number" | "integer" => NUMBER_KEYWORDS,
        _ => &[],
    };
    let mut part = family(m, keywords);
    if let Value::Object(p) = &mut part {
        p.insert("type".into(), Value::String(t.to_owned()));
    }
    part
}

/// The keywords of one type family of `m`, untyped.
fn family(m: &Map<String, Value>, keywords: &[&str]) -> Value {
    let mut out = Map::new();
    for k in keywords {
        if let Some(v) = m.get(*k) {
            out.insert((*k).to_owned(), v.clone());
        }
    }
    for k in ["default", "title", "description"] {
        if let Some(v) = m.get(k) {
            out.insert(k.to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

fn combined(criterion: Criterion, parts: Vec<Value>) -> Value {
    let mut out = Map::new();
    out.insert(criterion.keyword().to_owned(), Value::Array(parts));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds() {
        assert_eq!(Shape::of(&json!({})), Shape::Empty);
        assert_eq!(Shape::of(&json!({"title": "x"})), Shape::Empty);
        assert_eq!(Shape::of(&json!(false)), Shape::False);
        assert_eq!(Shape::of(&json!({"properties": {}})), Shape::Object);
        assert_eq!(Shape::of(&json!({"maxLength": 3})), Shape::String);
        assert_eq!(
            Shape::of(&json!({"type": "integer"})),
            Shape::Number { integer: true }
        );
        match Shape::of(&json!({"type": "string", "enum": ["a"]})) {
            Shape::Combined {
                criterion: Criterion::All,
                parts,
            } => assert_eq!(parts.len(), 2),
            other => panic!("{other:?}"),
        }
        match Shape::of(&json!({"type": ["string", "null"]})) {
            Shape::Combined {
                criterion: Criterion::Any,
                parts,
            } => assert_eq!(
                parts,
                vec![json!({"type": "string"}), json!({"type": "null"})]
            ),
            other => panic!("{other:?}"),
        }
        match Shape::of(&json!({"oneOf": [{"type": "string"}]})) {
            Shape::Combined {
                criterion: Criterion::One,
                parts,
            } => assert_eq!(parts.len(), 1),
            other => panic!("{other:?}"),
        }
    }
}
