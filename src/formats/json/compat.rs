//! What breaks when a reader validates with one JSON schema the documents written against
//! another: the Confluent JSON-Schema rules (STRICT policy), walked over both schemas at once.
//! `original` is the writer's schema, `update` the reader's; every verdict names the JSON
//! path (`#/properties/x/type`) where it was found. `$ref`s are followed on both sides (local
//! pointers and anchors, and other subjects' documents by reference name); a pair of targets
//! already being compared counts as compatible, which makes recursion terminate.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::formats::Incompatibility;

/// A schema document and the documents its references name.
#[derive(Clone, Copy)]
pub struct Document<'a> {
    pub root: &'a Value,
    pub references: &'a HashMap<String, Value>,
}

/// Differences that break `update` reading data valid under `original`.
pub fn diff(original: Document, update: Document) -> Vec<Incompatibility> {
    let mut d = Diff {
        found: Vec::new(),
        seen: HashSet::new(),
        budget: 100_000,
    };
    d.compare(
        Side {
            doc: original,
            root: original.root,
        },
        original.root,
        Side {
            doc: update,
            root: update.root,
        },
        update.root,
        "#",
    );
    d.found
}

/// The two object schemas being compared, each with its side.
#[derive(Clone, Copy)]
struct Pair<'a> {
    os: Side<'a>,
    om: &'a Map<String, Value>,
    us: Side<'a>,
    um: &'a Map<String, Value>,
}

/// One side of the walk: its document set and the document the current schema sits in.
#[derive(Clone, Copy)]
struct Side<'a> {
    doc: Document<'a>,
    root: &'a Value,
}

impl<'a> Side<'a> {
    /// Follows `$ref` (and the recursive forms) until a schema without one.
    fn resolve(mut self, mut v: &'a Value) -> (Side<'a>, &'a Value) {
        for _ in 0..32 {
            let Some(r) = v
                .get("$ref")
                .or_else(|| v.get("$dynamicRef"))
                .or_else(|| v.get("$recursiveRef"))
                .and_then(Value::as_str)
            else {
                break;
            };
            match self.lookup(r) {
                Some((side, target)) => {
                    self = side;
                    v = target;
                }
                None => break,
            }
        }
        (self, v)
    }

    fn lookup(self, r: &str) -> Option<(Side<'a>, &'a Value)> {
        let (doc_part, fragment) = match r.split_once('#') {
            Some((d, f)) => (d, f),
            None => (r, ""),
        };
        let root = if doc_part.is_empty()
            || self.root.get("$id").and_then(Value::as_str) == Some(doc_part)
        {
            self.root
        } else {
            self.doc
                .references
                .iter()
                .find(|(name, _)| {
                    name.as_str() == doc_part
                        || doc_part.ends_with(&format!("/{name}"))
                        || name.ends_with(&format!("/{doc_part}"))
                })
                .map(|(_, v)| v)
                .or_else(|| {
                    self.doc
                        .references
                        .values()
                        .find(|v| v.get("$id").and_then(Value::as_str) == Some(doc_part))
                })?
        };
        let side = Side {
            doc: self.doc,
            root,
        };
        if fragment.is_empty() {
            return Some((side, root));
        }
        if fragment.starts_with('/') {
            return root.pointer(fragment).map(|t| (side, t));
        }
        find_anchor(root, fragment).map(|t| (side, t))
    }
}

fn find_anchor<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    match v {
        Value::Object(m) => {
            let hit = m.get("$anchor").and_then(Value::as_str) == Some(name)
                || m.get("$id").and_then(Value::as_str) == Some(&format!("#{name}"));
            if hit {
                return Some(v);
            }
            m.values().find_map(|c| find_anchor(c, name))
        }
        Value::Array(items) => items.iter().find_map(|c| find_anchor(c, name)),
        _ => None,
    }
}

/// The schema as an object: `true` is `{}`, `false` is `{"not": {}}`.
fn as_object(v: &Value) -> Option<&Map<String, Value>> {
    v.as_object()
}

fn is_false(v: &Value) -> bool {
    v == &Value::Bool(false)
}

/// Accepts everything: `true`, or an object with only annotation keywords.
fn is_empty_schema(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Object(m) => m.keys().all(|k| ANNOTATIONS.contains(&k.as_str())),
        _ => false,
    }
}

const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "definitions",
    "$defs",
    "$anchor",
];

static ANYTHING: Value = Value::Bool(true);
static NOTHING: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

/// The object under `key` (`properties`, `patternProperties`, …), empty when absent.
fn members<'m>(m: &'m Map<String, Value>, key: &str) -> &'m Map<String, Value> {
    m.get(key).and_then(Value::as_object).unwrap_or(&NOTHING)
}

const TYPES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "integer", "string",
];

/// The types a schema admits (`None`: any). `integer` is within `number`.
fn types(m: &Map<String, Value>) -> Option<Vec<&str>> {
    match m.get("type")? {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

fn admits(types: &Option<Vec<&str>>, t: &str) -> bool {
    match types {
        None => true,
        Some(ts) => ts.contains(&t) || (t == "integer" && ts.contains(&"number")),
    }
}

/// How open an object schema is to properties it does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContentModel {
    Open,
    Closed,
    PartiallyOpen,
}

fn content_model(m: &Map<String, Value>) -> ContentModel {
    let extra = m
        .get("additionalProperties")
        .or_else(|| m.get("unevaluatedProperties"));
    match extra {
        Some(v) if is_false(v) => ContentModel::Closed,
        Some(v) if !is_empty_schema(v) => ContentModel::PartiallyOpen,
        _ if m
            .get("patternProperties")
            .and_then(Value::as_object)
            .is_some_and(|p| !p.is_empty()) =>
        {
            ContentModel::PartiallyOpen
        }
        _ => ContentModel::Open,
    }
}

fn required(m: &Map<String, Value>) -> Vec<&str> {
    m.get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn has_default(v: &Value) -> bool {
    v.get("default").is_some()
}

fn num(m: &Map<String, Value>, k: &str) -> Option<f64> {
    m.get(k).and_then(Value::as_f64)
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

struct Diff {
    found: Vec<Incompatibility>,
    /// Pairs of `$ref` targets being compared (by address): assumed compatible on revisit.
    seen: HashSet<(usize, usize)>,
    /// Comparisons left: a guard against exponential `oneOf`/`anyOf` blow-up.
    budget: usize,
}

impl Diff {
    fn push(&mut self, kind: &'static str, path: &str, description: String) {
        self.found.push(Incompatibility {
            kind,
            path: path.to_owned(),
            description,
            info: path.to_owned(),
        });
    }

    /// Whether `u` reads everything `o` admits, without recording anything.
    fn accepts(&mut self, os: Side, o: &Value, us: Side, u: &Value, path: &str) -> bool {
        let saved = std::mem::take(&mut self.found);
        self.compare(os, o, us, u, path);
        let ok = self.found.is_empty();
        self.found = saved;
        ok
    }

    fn compare(&mut self, os: Side, o: &Value, us: Side, u: &Value, path: &str) {
        if self.budget == 0 {
            self.push(
                "COMPARISON_BUDGET_EXCEEDED",
                path,
                "The schemas are too complex to compare; treated as incompatible".into(),
            );
            return;
        }
        self.budget -= 1;
        let followed = o.get("$ref").is_some() || u.get("$ref").is_some();
        let (os, o) = os.resolve(o);
        let (us, u) = us.resolve(u);
        if followed
            && !self
                .seen
                .insert((o as *const Value as usize, u as *const Value as usize))
        {
            return;
        }
        if o == u && os.root == us.root {
            return;
        }
        if is_empty_schema(u) || is_false(o) {
            return; // the reader takes anything, or the writer wrote nothing
        }
        if is_false(u) {
            self.push(
                "SCHEMA_NARROWED_TO_FALSE",
                path,
                format!("The schema at path '{path}' accepts nothing in the {{reader}} schema"),
            );
            return;
        }
        let om = as_object(o).unwrap_or(&NOTHING);
        let um = as_object(u).unwrap_or(&NOTHING);
        let pair = Pair { os, om, us, um };

        if self.combined(pair, path) {
            return;
        }
        let ot = types(om);
        let ut = types(um);
        self.type_change(&ot, &ut, path);
        let both = |t: &str| admits(&ot, t) && admits(&ut, t);
        if both("object") {
            self.object(pair, path);
        }
        if both("array") {
            self.array(pair, path);
        }
        if both("string") {
            self.bound(
                om,
                um,
                "maxLength",
                "minLength",
                path,
                "MAX_LENGTH",
                "MIN_LENGTH",
            );
            self.pattern(om, um, path);
        }
        if both("number") || both("integer") {
            self.bound(om, um, "maximum", "minimum", path, "MAXIMUM", "MINIMUM");
            self.bound(
                om,
                um,
                "exclusiveMaximum",
                "exclusiveMinimum",
                path,
                "EXCLUSIVE_MAXIMUM",
                "EXCLUSIVE_MINIMUM",
            );
            self.multiple_of(om, um, path);
        }
        self.enumeration(om, um, path);
        self.not(pair, path);
        for k in ["if", "then", "else"] {
            if om.get(k) != um.get(k) {
                self.push(
                    "CONDITIONAL_CHANGED",
                    &format!("{path}/{k}"),
                    format!("The '{k}' schema at path '{path}' differs between the {{reader}} and the {{writer}} schema"),
                );
            }
        }
    }

    /// `oneOf`/`anyOf`/`allOf`; true when the pair was fully handled here.
    fn combined(&mut self, pair: Pair, path: &str) -> bool {
        let Pair { os, om, us, um } = pair;
        let combiner = |m: &Map<String, Value>| {
            ["oneOf", "anyOf", "allOf"]
                .into_iter()
                .find(|k| m.get(*k).is_some_and(Value::is_array))
        };
        let (oc, uc) = (combiner(om), combiner(um));
        let branches = |m: &Map<String, Value>, k: &str| -> Vec<Value> {
            m.get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        match (oc, uc) {
            (None, None) => false,
            (Some(k), Some(j)) if k == j => {
                let ob = branches(om, k);
                let ub = branches(um, k);
                let at = format!("{path}/{k}");
                if k == "allOf" {
                    // Every reader constraint must already hold for the writer.
                    for (i, u) in ub.iter().enumerate() {
                        let covered = ob
                            .iter()
                            .any(|o| self.accepts(os, o, us, u, &format!("{at}/{i}")));
                        if !covered {
                            self.push(
                                "PRODUCT_TYPE_EXTENDED",
                                &format!("{at}/{i}"),
                                format!("The {{reader}} schema adds or changes the allOf branch at path '{at}/{i}'"),
                            );
                        }
                    }
                } else {
                    let mut used = vec![false; ub.len()];
                    for (i, o) in ob.iter().enumerate() {
                        let hit = (0..ub.len()).find(|&j| {
                            !used[j] && self.accepts(os, o, us, &ub[j], &format!("{at}/{j}"))
                        });
                        match hit {
                            Some(j) => used[j] = true,
                            None => self.push(
                                "SUM_TYPE_NARROWED",
                                &format!("{at}/{i}"),
                                format!("The {k} branch at path '{at}/{i}' of the {{writer}} schema has no compatible branch in the {{reader}} schema"),
                            ),
                        }
                    }
                }
                true
            }
            (None, Some(k)) if k != "allOf" => {
                // A single schema widened to a union: fine when one branch reads it.
                let o = Value::Object(om.clone());
                let ub = branches(um, k);
                let ok = ub
                    .iter()
                    .enumerate()
                    .any(|(j, u)| self.accepts(os, &o, us, u, &format!("{path}/{k}/{j}")));
                if !ok {
                    self.push(
                        "SUM_TYPE_NARROWED",
                        &format!("{path}/{k}"),
                        format!("No {k} branch at path '{path}/{k}' of the {{reader}} schema reads the {{writer}} schema"),
                    );
                }
                true
            }
            (Some(k), None) if k != "allOf" => {
                let u = Value::Object(um.clone());
                for (i, o) in branches(om, k).iter().enumerate() {
                    if !self.accepts(os, o, us, &u, path) {
                        self.push(
                            "SUM_TYPE_NARROWED",
                            &format!("{path}/{k}/{i}"),
                            format!("The {k} branch at path '{path}/{k}/{i}' of the {{writer}} schema is not read by the {{reader}} schema"),
                        );
                    }
                }
                true
            }
            (Some("allOf"), None) => {
                // Dropping allOf drops constraints: the reader must read each branch's data,
                // which holds when it reads their conjunction; compare against each branch.
                let u = Value::Object(um.clone());
                let ob = branches(om, "allOf");
                let ok = ob.iter().any(|o| self.accepts(os, o, us, &u, path));
                if !ok {
                    self.push(
                        "PRODUCT_TYPE_NARROWED",
                        &format!("{path}/allOf"),
                        format!("The {{reader}} schema at path '{path}' does not read what the allOf of the {{writer}} schema admits"),
                    );
                }
                true
            }
            (None, Some(_)) => {
                self.push(
                    "PRODUCT_TYPE_EXTENDED",
                    &format!("{path}/allOf"),
                    format!("The {{reader}} schema adds an allOf at path '{path}'"),
                );
                true
            }
            (Some(k), Some(j)) => {
                self.push(
                    "COMBINED_TYPE_CHANGED",
                    &format!("{path}/{j}"),
                    format!("The combination at path '{path}' is {j} in the {{reader}} schema and {k} in the {{writer}} schema"),
                );
                true
            }
            (Some(_), None) => false,
        }
    }

    fn type_change(&mut self, ot: &Option<Vec<&str>>, ut: &Option<Vec<&str>>, path: &str) {
        let o_all: Vec<&str> = match ot {
            Some(ts) => ts.clone(),
            None => TYPES.to_vec(),
        };
        let missing: Vec<&str> = o_all.iter().copied().filter(|t| !admits(ut, t)).collect();
        if missing.is_empty() {
            return;
        }
        let narrowed = match ut {
            Some(uts) => uts.iter().all(|t| admits(ot, t)),
            None => false,
        };
        let at = format!("{path}/type");
        if narrowed {
            self.push(
                "TYPE_NARROWED",
                &at,
                format!(
                    "The type at path '{at}' in the {{reader}} schema no longer admits {} of the {{writer}} schema",
                    missing.join(", ")
                ),
            );
        } else {
            self.push(
                "TYPE_CHANGED",
                &at,
                format!(
                    "The type at path '{at}' in the {{reader}} schema does not admit {} of the {{writer}} schema",
                    missing.join(", ")
                ),
            );
        }
    }

    /// The schema a property name falls under when the object does not name it: a matching
    /// pattern property, else `additionalProperties`, else anything.
    fn cover<'v>(m: &'v Map<String, Value>, name: &str) -> &'v Value {
        if let Some(patterns) = m.get("patternProperties").and_then(Value::as_object) {
            for (p, s) in patterns {
                if pattern_matches(p, name) {
                    return s;
                }
            }
        }
        m.get("additionalProperties")
            .or_else(|| m.get("unevaluatedProperties"))
            .unwrap_or(&ANYTHING)
    }

    fn object(&mut self, pair: Pair, path: &str) {
        let Pair { os, om, us, um } = pair;
        let op = members(om, "properties");
        let up = members(um, "properties");
        let (omodel, umodel) = (content_model(om), content_model(um));
        let (oreq, ureq) = (required(om), required(um));
        for (name, o) in op {
            let at = format!("{path}/properties/{}", escape(name));
            match up.get(name) {
                Some(u) => self.compare(os, o, us, u, &at),
                None => match umodel {
                    ContentModel::Open => {}
                    ContentModel::Closed => {
                        if !is_false(o) {
                            self.push(
                                "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
                                &at,
                                format!("The property '{name}' at path '{at}' of the {{writer}} schema is missing in the closed {{reader}} schema"),
                            );
                        }
                    }
                    ContentModel::PartiallyOpen => {
                        let covered = self.accepts(os, o, us, Self::cover(um, name), &at);
                        if !covered {
                            self.push(
                                "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                                &at,
                                format!("The property '{name}' at path '{at}' of the {{writer}} schema is not covered by the partially open {{reader}} schema"),
                            );
                        }
                    }
                },
            }
        }
        for (name, u) in up {
            if op.contains_key(name) {
                continue;
            }
            let at = format!("{path}/properties/{}", escape(name));
            let is_required = ureq.contains(&name.as_str());
            let with_default = has_default(u);
            match omodel {
                ContentModel::Open => {
                    if !is_empty_schema(u) {
                        let (kind, what) = match (is_required, with_default) {
                            (false, _) => ("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", "optional"),
                            (true, true) => (
                                "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL",
                                "required (with default)",
                            ),
                            (true, false) => {
                                ("REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", "required")
                            }
                        };
                        self.push(
                            kind,
                            &at,
                            format!("The {what} property '{name}' at path '{at}' was added to the {{reader}} schema, but the open {{writer}} schema may have written it with any value"),
                        );
                    }
                }
                ContentModel::Closed => {
                    if is_required && !with_default {
                        self.push(
                            "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
                            &at,
                            format!("The required property '{name}' at path '{at}' of the {{reader}} schema has no default and is missing in the {{writer}} schema"),
                        );
                    }
                }
                ContentModel::PartiallyOpen => {
                    let covered = self.accepts(os, Self::cover(om, name), us, u, &at);
                    if !covered {
                        self.push(
                            "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                            &at,
                            format!("The property '{name}' at path '{at}' of the {{reader}} schema does not read what the partially open {{writer}} schema allowed under that name"),
                        );
                    } else if is_required && !with_default {
                        self.push(
                            "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
                            &at,
                            format!("The required property '{name}' at path '{at}' of the {{reader}} schema has no default and is missing in the {{writer}} schema"),
                        );
                    }
                }
            }
        }
        for name in &ureq {
            if oreq.contains(name) || !op.contains_key(*name) {
                continue; // unchanged, or a new property (judged above)
            }
            let with_default = up.get(*name).is_some_and(has_default);
            if !with_default {
                let at = format!("{path}/required");
                self.push(
                    "REQUIRED_ATTRIBUTE_ADDED",
                    &at,
                    format!("The property '{name}' is required at path '{at}' in the {{reader}} schema but optional in the {{writer}} schema"),
                );
            }
        }
        self.additional(pair, path);
        self.pattern_properties(pair, path);
        self.bound(
            om,
            um,
            "maxProperties",
            "minProperties",
            path,
            "MAX_PROPERTIES",
            "MIN_PROPERTIES",
        );
        self.dependencies(om, um, path);
        match (om.get("propertyNames"), um.get("propertyNames")) {
            (Some(o), Some(u)) => self.compare(os, o, us, u, &format!("{path}/propertyNames")),
            (None, Some(u)) if !is_empty_schema(u) => self.push(
                "PROPERTY_NAMES_ADDED",
                &format!("{path}/propertyNames"),
                format!(
                    "The {{reader}} schema restricts property names at path '{path}/propertyNames'"
                ),
            ),
            _ => {}
        }
    }

    fn additional(&mut self, pair: Pair, path: &str) {
        let Pair { os, om, us, um } = pair;
        for key in ["additionalProperties", "unevaluatedProperties"] {
            let at = format!("{path}/{key}");
            let o = om.get(key).filter(|v| !is_empty_schema(v));
            let u = um.get(key).filter(|v| !is_empty_schema(v));
            match (o, u) {
                (_, None) => {}
                (None, Some(u)) if is_false(u) => self.push(
                    "ADDITIONAL_PROPERTIES_REMOVED",
                    &at,
                    format!("The {{reader}} schema closes the content model at path '{at}' that the {{writer}} schema left open"),
                ),
                (None, Some(_)) => self.push(
                    "ADDITIONAL_PROPERTIES_NARROWED",
                    &at,
                    format!("The {{reader}} schema constrains additional properties at path '{at}' that the {{writer}} schema left open"),
                ),
                (Some(o), Some(u)) => {
                    if !self.accepts(os, o, us, u, &at) {
                        self.push(
                            "ADDITIONAL_PROPERTIES_NARROWED",
                            &at,
                            format!("The additional properties schema at path '{at}' of the {{reader}} schema does not read that of the {{writer}} schema"),
                        );
                    }
                }
            }
        }
    }

    fn pattern_properties(&mut self, pair: Pair, path: &str) {
        let Pair { os, om, us, um } = pair;
        let op = members(om, "patternProperties");
        let up = members(um, "patternProperties");
        for (p, u) in up {
            let at = format!("{path}/patternProperties/{}", escape(p));
            match op.get(p) {
                Some(o) => self.compare(os, o, us, u, &at),
                None if content_model(om) != ContentModel::Closed && !is_empty_schema(u) => {
                    self.push(
                        "PATTERN_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
                        &at,
                        format!("The {{reader}} schema constrains properties matching '{p}' at path '{at}', which the {{writer}} schema admitted freely"),
                    )
                }
                None => {}
            }
        }
        if content_model(um) == ContentModel::Closed {
            for p in op.keys() {
                if !up.contains_key(p) {
                    let at = format!("{path}/patternProperties/{}", escape(p));
                    self.push(
                        "PATTERN_PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
                        &at,
                        format!("The pattern '{p}' at path '{at}' of the {{writer}} schema is missing in the closed {{reader}} schema"),
                    );
                }
            }
        }
    }

    fn dependencies(&mut self, om: &Map<String, Value>, um: &Map<String, Value>, path: &str) {
        for key in ["dependencies", "dependentRequired"] {
            let od = members(om, key);
            let ud = members(um, key);
            for (name, u) in ud {
                let at = format!("{path}/{key}/{}", escape(name));
                let Some(u_list) = u.as_array() else {
                    if od.get(name) != Some(u) {
                        self.push(
                            "DEPENDENCY_SCHEMA_CHANGED",
                            &at,
                            format!("The dependency schema at path '{at}' differs in the {{reader}} schema"),
                        );
                    }
                    continue;
                };
                let o_list = od.get(name).and_then(Value::as_array);
                let extended = match o_list {
                    None => !u_list.is_empty(),
                    Some(o_list) => u_list.iter().any(|x| !o_list.contains(x)),
                };
                if extended {
                    self.push(
                        "DEPENDENCY_ARRAY_EXTENDED",
                        &at,
                        format!("The {{reader}} schema requires more properties alongside '{name}' at path '{at}'"),
                    );
                }
            }
        }
    }

    fn array(&mut self, pair: Pair, path: &str) {
        let Pair { os, om, us, um } = pair;
        let (otuple, oextra_key) = tuple(om);
        let (utuple, uextra_key) = tuple(um);
        let oextra = om.get(oextra_key);
        let uextra = um.get(uextra_key);
        if otuple.is_none() && utuple.is_none() {
            match (oextra, uextra) {
                (Some(o), Some(u)) => self.compare(os, o, us, u, &format!("{path}/items")),
                (None, Some(u)) if !is_empty_schema(u) => self.push(
                    "ITEMS_ADDED",
                    &format!("{path}/items"),
                    format!("The {{reader}} schema constrains the items at path '{path}/items', which the {{writer}} schema left free"),
                ),
                _ => {}
            }
        } else {
            let ot = otuple.unwrap_or(&[]);
            let ut = utuple.unwrap_or(&[]);
            let (tuple_key, _) = if um.contains_key("prefixItems") {
                ("prefixItems", ())
            } else {
                ("items", ())
            };
            let o_closed = oextra.is_some_and(is_false);
            let u_closed = uextra.is_some_and(is_false);
            for i in 0..ot.len().max(ut.len()) {
                let at = format!("{path}/{tuple_key}/{i}");
                match (ot.get(i), ut.get(i)) {
                    (Some(o), Some(u)) => self.compare(os, o, us, u, &at),
                    (None, Some(u)) => {
                        if o_closed {
                            continue;
                        }
                        let ok = match oextra {
                            Some(extra) => self.accepts(os, extra, us, u, &at),
                            None => is_empty_schema(u),
                        };
                        if !ok {
                            self.push(
                                "ITEM_ADDED_TO_OPEN_CONTENT_MODEL",
                                &at,
                                format!("The tuple item at path '{at}' was added to the {{reader}} schema, but the {{writer}} schema may have written any value there"),
                            );
                        }
                    }
                    (Some(o), None) => {
                        if u_closed {
                            self.push(
                                "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL",
                                &at,
                                format!("The tuple item at path '{at}' of the {{writer}} schema is missing in the closed {{reader}} schema"),
                            );
                        } else if let Some(extra) = uextra {
                            if !self.accepts(os, o, us, extra, &at) {
                                self.push(
                                    "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                                    &at,
                                    format!("The tuple item at path '{at}' of the {{writer}} schema is not read by the additional items of the {{reader}} schema"),
                                );
                            }
                        }
                    }
                    (None, None) => {}
                }
            }
            match (oextra, uextra) {
                (Some(o), Some(u)) if !is_false(o) && !self.accepts(os, o, us, u, path) => self
                    .push(
                        "ADDITIONAL_ITEMS_NARROWED",
                        &format!("{path}/{uextra_key}"),
                        format!("The additional items at path '{path}/{uextra_key}' of the {{reader}} schema do not read those of the {{writer}} schema"),
                    ),
                (None, Some(u)) if !is_empty_schema(u) && ot.len() >= ut.len() => self.push(
                    "ADDITIONAL_ITEMS_REMOVED",
                    &format!("{path}/{uextra_key}"),
                    format!("The {{reader}} schema constrains additional items at path '{path}/{uextra_key}', which the {{writer}} schema left free"),
                ),
                _ => {}
            }
        }
        self.bound(
            om,
            um,
            "maxItems",
            "minItems",
            path,
            "MAX_ITEMS",
            "MIN_ITEMS",
        );
        let unique = |m: &Map<String, Value>| m.get("uniqueItems") == Some(&Value::Bool(true));
        if unique(um) && !unique(om) {
            self.push(
                "UNIQUE_ITEMS_ADDED",
                &format!("{path}/uniqueItems"),
                format!("The {{reader}} schema requires unique items at path '{path}/uniqueItems'"),
            );
        }
        match (om.get("contains"), um.get("contains")) {
            (Some(o), Some(u)) => self.compare(os, o, us, u, &format!("{path}/contains")),
            (None, Some(_)) => self.push(
                "CONTAINS_ADDED",
                &format!("{path}/contains"),
                format!(
                    "The {{reader}} schema adds a 'contains' constraint at path '{path}/contains'"
                ),
            ),
            _ => {}
        }
        self.bound(
            om,
            um,
            "maxContains",
            "minContains",
            path,
            "MAX_CONTAINS",
            "MIN_CONTAINS",
        );
    }

    /// An upper bound may grow or go; a lower bound may shrink or go. Anything added or
    /// tightened is reported as `<NAME>_ADDED`, `<MAX>_DECREASED` or `<MIN>_INCREASED`.
    #[allow(clippy::too_many_arguments)]
    fn bound(
        &mut self,
        om: &Map<String, Value>,
        um: &Map<String, Value>,
        max_key: &str,
        min_key: &str,
        path: &str,
        max_name: &'static str,
        min_name: &'static str,
    ) {
        let (kinds_max, kinds_min) = bound_kinds(max_name, min_name);
        for (key, upper, (added, tightened)) in
            [(max_key, true, kinds_max), (min_key, false, kinds_min)]
        {
            // Draft 4's boolean exclusive flags tighten the plain bound they modify.
            if um.get(key).is_some_and(Value::is_boolean)
                || om.get(key).is_some_and(Value::is_boolean)
            {
                let flag = |m: &Map<String, Value>| m.get(key) == Some(&Value::Bool(true));
                if flag(um) && !flag(om) {
                    let at = format!("{path}/{key}");
                    self.push(
                        added,
                        &at,
                        format!("The {{reader}} schema makes the bound at path '{at}' exclusive"),
                    );
                }
                continue;
            }
            let at = format!("{path}/{key}");
            match (num(om, key), num(um, key)) {
                (None, Some(u)) => self.push(
                    added,
                    &at,
                    format!("The {{reader}} schema adds {key} {u} at path '{at}'"),
                ),
                (Some(o), Some(u)) if (upper && u < o) || (!upper && u > o) => self.push(
                    tightened,
                    &at,
                    format!("{key} at path '{at}' is {u} in the {{reader}} schema and {o} in the {{writer}} schema"),
                ),
                _ => {}
            }
        }
    }

    fn pattern(&mut self, om: &Map<String, Value>, um: &Map<String, Value>, path: &str) {
        let at = format!("{path}/pattern");
        match (om.get("pattern"), um.get("pattern")) {
            (None, Some(_)) => self.push(
                "PATTERN_ADDED",
                &at,
                format!("The {{reader}} schema adds a pattern at path '{at}'"),
            ),
            (Some(o), Some(u)) if o != u => self.push(
                "PATTERN_CHANGED",
                &at,
                format!("The pattern at path '{at}' differs between the {{reader}} and the {{writer}} schema"),
            ),
            _ => {}
        }
    }

    fn multiple_of(&mut self, om: &Map<String, Value>, um: &Map<String, Value>, path: &str) {
        let at = format!("{path}/multipleOf");
        match (num(om, "multipleOf"), num(um, "multipleOf")) {
            (None, Some(_)) => self.push(
                "MULTIPLE_OF_ADDED",
                &at,
                format!("The {{reader}} schema adds multipleOf at path '{at}'"),
            ),
            (Some(o), Some(u)) if o != u => {
                let ratio = o / u;
                if (ratio - ratio.round()).abs() > 1e-9 {
                    let kind = if u > o {
                        "MULTIPLE_OF_EXPANDED"
                    } else {
                        "MULTIPLE_OF_CHANGED"
                    };
                    self.push(
                        kind,
                        &at,
                        format!("multipleOf at path '{at}' is {u} in the {{reader}} schema, which does not divide {o} of the {{writer}} schema"),
                    );
                }
            }
            _ => {}
        }
    }

    fn enumeration(&mut self, om: &Map<String, Value>, um: &Map<String, Value>, path: &str) {
        let values = |m: &Map<String, Value>| -> Option<Vec<Value>> {
            if let Some(c) = m.get("const") {
                return Some(vec![c.clone()]);
            }
            m.get("enum").and_then(Value::as_array).cloned()
        };
        let Some(u) = values(um) else {
            return;
        };
        let key = if um.contains_key("const") {
            "const"
        } else {
            "enum"
        };
        let at = format!("{path}/{key}");
        match values(om) {
            None => self.push(
                "ENUM_ARRAY_NARROWED",
                &at,
                format!("The {{reader}} schema limits the values at path '{at}'"),
            ),
            Some(o) => {
                let missing: Vec<&Value> = o.iter().filter(|v| !u.contains(v)).collect();
                if missing.is_empty() {
                    return;
                }
                let kind = if u.iter().all(|v| o.contains(v)) {
                    "ENUM_ARRAY_NARROWED"
                } else {
                    "ENUM_ARRAY_CHANGED"
                };
                let list: Vec<String> = missing.iter().map(|v| v.to_string()).collect();
                self.push(
                    kind,
                    &at,
                    format!(
                        "The values {} at path '{at}' of the {{writer}} schema are missing in the {{reader}} schema",
                        list.join(", ")
                    ),
                );
            }
        }
    }

    fn not(&mut self, pair: Pair, path: &str) {
        let Pair { os, om, us, um } = pair;
        let at = format!("{path}/not");
        match (om.get("not"), um.get("not")) {
            (None, Some(_)) => self.push(
                "NOT_TYPE_ADDED",
                &at,
                format!("The {{reader}} schema adds a 'not' at path '{at}'"),
            ),
            // The reader may reject less than the writer did, never more.
            (Some(o), Some(u)) if !self.accepts(us, u, os, o, &at) => self.push(
                "NOT_TYPE_EXTENDED",
                &at,
                format!("The 'not' at path '{at}' of the {{reader}} schema rejects values the {{writer}} schema admitted"),
            ),
            _ => {}
        }
    }
}

/// The tuple part of an array schema and the keyword holding what follows it.
fn tuple(m: &Map<String, Value>) -> (Option<&[Value]>, &'static str) {
    if let Some(p) = m.get("prefixItems").and_then(Value::as_array) {
        return (Some(p.as_slice()), "items");
    }
    match m.get("items") {
        Some(Value::Array(items)) => (Some(items.as_slice()), "additionalItems"),
        _ => (None, "items"),
    }
}

fn bound_kinds(
    max_name: &'static str,
    min_name: &'static str,
) -> ((&'static str, &'static str), (&'static str, &'static str)) {
    let pick = |name: &'static str, max: bool| -> (&'static str, &'static str) {
        match (name, max) {
            ("MAX_LENGTH", _) => ("MAX_LENGTH_ADDED", "MAX_LENGTH_DECREASED"),
            ("MIN_LENGTH", _) => ("MIN_LENGTH_ADDED", "MIN_LENGTH_INCREASED"),
            ("MAXIMUM", _) => ("MAXIMUM_ADDED", "MAXIMUM_DECREASED"),
            ("MINIMUM", _) => ("MINIMUM_ADDED", "MINIMUM_INCREASED"),
            ("EXCLUSIVE_MAXIMUM", _) => ("EXCLUSIVE_MAXIMUM_ADDED", "EXCLUSIVE_MAXIMUM_DECREASED"),
            ("EXCLUSIVE_MINIMUM", _) => ("EXCLUSIVE_MINIMUM_ADDED", "EXCLUSIVE_MINIMUM_INCREASED"),
            ("MAX_PROPERTIES", _) => ("MAX_PROPERTIES_ADDED", "MAX_PROPERTIES_DECREASED"),
            ("MIN_PROPERTIES", _) => ("MIN_PROPERTIES_ADDED", "MIN_PROPERTIES_INCREASED"),
            ("MAX_ITEMS", _) => ("MAX_ITEMS_ADDED", "MAX_ITEMS_DECREASED"),
            ("MIN_ITEMS", _) => ("MIN_ITEMS_ADDED", "MIN_ITEMS_INCREASED"),
            ("MAX_CONTAINS", _) => ("MAX_CONTAINS_ADDED", "MAX_CONTAINS_DECREASED"),
            ("MIN_CONTAINS", _) => ("MIN_CONTAINS_ADDED", "MIN_CONTAINS_INCREASED"),
            (_, true) => ("BOUND_ADDED", "BOUND_DECREASED"),
            (_, false) => ("BOUND_ADDED", "BOUND_INCREASED"),
        }
    };
    (pick(max_name, true), pick(min_name, false))
}

/// Whether a `patternProperties` pattern matches a property name. Patterns the regex crate
/// cannot compile match nothing (the property then counts as not covered).
fn pattern_matches(pattern: &str, name: &str) -> bool {
    regex::Regex::new(pattern).is_ok_and(|r| r.is_match(name))
}
