//! What breaks when a reader validates with one JSON schema the documents written against
//! another, by the Confluent registry's rules: both schemas are walked at once, every
//! difference found is recorded with its kind and JSON path (`#/properties/x`), and the pair is
//! compatible when every difference is of a kind in [`COMPATIBLE`]. `original` is the writer's
//! schema, `update` the reader's.
//!
//! The rules follow the reference registry's published diff tables (see
//! `tests/compat/gen/json_schema.py`), including where they are looser or stricter than what
//! the two schemas admit: schemas are compared by kind ([`Shape`]) and keyword, not by the set
//! of documents they accept. `$ref`s are followed on both sides (local pointers and anchors,
//! and other subjects' documents by reference name); a pair of targets already being compared
//! counts as compatible, which makes recursion terminate.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::shape::{Criterion, Shape};
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
        in_progress: HashSet::new(),
        budget: 100_000,
    };
    d.compare(
        Side::new(original),
        original.root,
        Side::new(update),
        update.root,
        "#",
    );
    d.found
        .into_iter()
        .filter(|f| !COMPATIBLE.contains(&f.kind))
        .map(|f| {
            let path = if f.path == "#" {
                "#/".to_owned()
            } else {
                f.path
            };
            Incompatibility {
                kind: f.kind,
                description: describe(f.kind, &path),
                info: path.clone(),
                path,
            }
        })
        .collect()
}

/// The kinds of difference that do not break a reader.
const COMPATIBLE: &[&str] = &[
    "ID_CHANGED",
    "DESCRIPTION_CHANGED",
    "TITLE_CHANGED",
    "DEFAULT_CHANGED",
    "SCHEMA_REMOVED",
    "TYPE_EXTENDED",
    "MAX_LENGTH_INCREASED",
    "MAX_LENGTH_REMOVED",
    "MIN_LENGTH_DECREASED",
    "MIN_LENGTH_REMOVED",
    "PATTERN_REMOVED",
    "MAXIMUM_INCREASED",
    "MAXIMUM_REMOVED",
    "MINIMUM_DECREASED",
    "MINIMUM_REMOVED",
    "EXCLUSIVE_MAXIMUM_INCREASED",
    "EXCLUSIVE_MAXIMUM_REMOVED",
    "EXCLUSIVE_MINIMUM_DECREASED",
    "EXCLUSIVE_MINIMUM_REMOVED",
    "MULTIPLE_OF_REDUCED",
    "MULTIPLE_OF_REMOVED",
    "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED",
    "REQUIRED_ATTRIBUTE_REMOVED",
    "DEPENDENCY_ARRAY_NARROWED",
    "DEPENDENCY_ARRAY_REMOVED",
    "DEPENDENCY_SCHEMA_REMOVED",
    "MAX_PROPERTIES_INCREASED",
    "MAX_PROPERTIES_REMOVED",
    "MIN_PROPERTIES_DECREASED",
    "MIN_PROPERTIES_REMOVED",
    "ADDITIONAL_PROPERTIES_ADDED",
    "ADDITIONAL_PROPERTIES_EXTENDED",
    "UNEVALUATED_PROPERTIES_ADDED",
    "UNEVALUATED_PROPERTIES_EXTENDED",
    "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
    "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "MAX_ITEMS_INCREASED",
    "MAX_ITEMS_REMOVED",
    "MIN_ITEMS_DECREASED",
    "MIN_ITEMS_REMOVED",
    "MAX_CONTAINS_INCREASED",
    "MAX_CONTAINS_REMOVED",
    "MIN_CONTAINS_DECREASED",
    "MIN_CONTAINS_REMOVED",
    "UNIQUE_ITEMS_REMOVED",
    "ADDITIONAL_ITEMS_ADDED",
    "ADDITIONAL_ITEMS_EXTENDED",
    "UNEVALUATED_ITEMS_ADDED",
    "UNEVALUATED_ITEMS_EXTENDED",
    "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL",
    "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
    "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "ENUM_ARRAY_EXTENDED",
    "COMBINED_TYPE_EXTENDED",
    "PRODUCT_TYPE_NARROWED",
    "SUM_TYPE_EXTENDED",
    "NOT_TYPE_NARROWED",
];

/// The reference registry's sentence for a kind of difference; `{reader}` is the schema
/// checked, `{writer}` the one it is checked against.
fn describe(kind: &str, path: &str) -> String {
    let group = |kinds: &[&str]| kinds.contains(&kind);
    if group(&[
        "MAXIMUM_ADDED",
        "MINIMUM_ADDED",
        "EXCLUSIVE_MAXIMUM_ADDED",
        "EXCLUSIVE_MINIMUM_ADDED",
        "MULTIPLE_OF_ADDED",
        "MAX_LENGTH_ADDED",
        "MIN_LENGTH_ADDED",
        "PATTERN_ADDED",
        "REQUIRED_ATTRIBUTE_ADDED",
        "MAX_PROPERTIES_ADDED",
        "MIN_PROPERTIES_ADDED",
        "DEPENDENCY_ARRAY_ADDED",
        "DEPENDENCY_SCHEMA_ADDED",
        "MAX_ITEMS_ADDED",
        "MIN_ITEMS_ADDED",
        "MAX_CONTAINS_ADDED",
        "MIN_CONTAINS_ADDED",
        "UNIQUE_ITEMS_ADDED",
        "ADDITIONAL_ITEMS_REMOVED",
        "ADDITIONAL_PROPERTIES_REMOVED",
        "UNEVALUATED_PROPERTIES_REMOVED",
        "UNEVALUATED_ITEMS_REMOVED",
    ]) {
        format!("The keyword at path '{path}' in the {{reader}} schema is not present in the {{writer}} schema")
    } else if group(&[
        "MIN_LENGTH_INCREASED",
        "MINIMUM_INCREASED",
        "EXCLUSIVE_MINIMUM_INCREASED",
        "MIN_PROPERTIES_INCREASED",
        "MULTIPLE_OF_EXPANDED",
        "MIN_ITEMS_INCREASED",
        "MIN_CONTAINS_INCREASED",
    ]) {
        format!("The value at path '{path}' in the {{reader}} schema is more than its value in the {{writer}} schema")
    } else if group(&[
        "MAX_LENGTH_DECREASED",
        "MAXIMUM_DECREASED",
        "MAX_ITEMS_DECREASED",
        "MAX_CONTAINS_DECREASED",
        "EXCLUSIVE_MAXIMUM_DECREASED",
        "MAX_PROPERTIES_DECREASED",
    ]) {
        format!("The value at path '{path}' in the {{reader}} schema is less than its value in the {{writer}} schema")
    } else if group(&[
        "PATTERN_CHANGED",
        "MULTIPLE_OF_CHANGED",
        "DEPENDENCY_ARRAY_CHANGED",
    ]) {
        format!(
            "The value at path '{path}' is different between the {{reader}} and {{writer}} schema"
        )
    } else if group(&[
        "ADDITIONAL_ITEMS_NARROWED",
        "ENUM_ARRAY_NARROWED",
        "SUM_TYPE_NARROWED",
        "ADDITIONAL_PROPERTIES_NARROWED",
        "UNEVALUATED_PROPERTIES_NARROWED",
        "UNEVALUATED_ITEMS_NARROWED",
    ]) {
        format!("An array or combined type at path '{path}' has fewer elements in the {{reader}} schema than the {{writer}} schema")
    } else if group(&[
        "DEPENDENCY_ARRAY_EXTENDED",
        "PRODUCT_TYPE_EXTENDED",
        "SUM_TYPE_EXTENDED",
        "NOT_TYPE_EXTENDED",
    ]) {
        format!("An array or combined type at path '{path}' has more elements in the {{reader}} schema than the {{writer}} schema")
    } else if group(&[
        "TYPE_CHANGED",
        "TYPE_NARROWED",
        "COMBINED_TYPE_CHANGED",
        "COMBINED_TYPE_SUBSCHEMAS_CHANGED",
        "ENUM_ARRAY_CHANGED",
    ]) {
        format!("A type at path '{path}' is different between the {{reader}} schema and the {{writer}} schema")
    } else if group(&[
        "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
        "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
        "ITEM_ADDED_TO_OPEN_CONTENT_MODEL",
    ]) {
        format!("The {{reader}} schema has an open content model and has a property or item at path '{path}' which is missing in the {{writer}} schema")
    } else if kind == "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL" {
        format!("The {{reader}} schema has an unopen content model and has a required property at path '{path}' which is missing in the {{writer}} schema")
    } else if group(&[
        "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    ]) {
        format!("The {{reader}} schema has a closed content model and is missing a property or item present at path '{path}' in the {{writer}} schema")
    } else if group(&[
        "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    ]) {
        format!("A property or item is missing in the {{reader}} schema but present at path '{path}' in the {{writer}} schema and is not covered by its partially open content model")
    } else if group(&[
        "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    ]) {
        format!("The {{reader}} schema has a property or item at path '{path}' which is missing in the {{writer}} schema and is not covered by its partially open content model")
    } else if kind == "SCHEMA_ADDED" {
        format!("The {{reader}} schema constrains the value at path '{path}', which the {{writer}} schema left free")
    } else {
        format!("The schemas differ at path '{path}' ({kind})")
    }
}

/// One difference found on the walk (compatible or not).
struct Found {
    kind: &'static str,
    path: String,
}

/// One side of the walk: its document set and the document the current schema sits in.
#[derive(Clone, Copy)]
struct Side<'a> {
    doc: Document<'a>,
    root: &'a Value,
}

impl<'a> Side<'a> {
    fn new(doc: Document<'a>) -> Self {
        Side {
            doc,
            root: doc.root,
        }
    }

    /// Follows `$ref` (and the recursive forms) until a schema without one.
    fn resolve<'v>(mut self, mut v: &'v Value) -> (Side<'a>, &'v Value)
    where
        'a: 'v,
    {
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

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

fn object(v: &Value) -> &Map<String, Value> {
    v.as_object().unwrap_or(&EMPTY)
}

fn members<'m>(m: &'m Map<String, Value>, key: &str) -> &'m Map<String, Value> {
    m.get(key).and_then(Value::as_object).unwrap_or(&EMPTY)
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A dereferenced schema accepting anything (`true`, `{}`, annotations only).
fn is_empty(side: Side, v: &Value) -> bool {
    let (_, v) = side.resolve(v);
    Shape::of(v) == Shape::Empty
}

fn is_false(side: Side, v: &Value) -> bool {
    let (_, v) = side.resolve(v);
    v == &Value::Bool(false)
}

/// How an object or array schema treats members it does not list: `additional` is the
/// keyword's value (`additionalProperties` / `additionalItems`, or 2020-12 `items` after a
/// tuple), `unevaluated` the `unevaluated*` keyword.
#[derive(Clone, Copy)]
struct Extra<'v> {
    additional: Option<&'v Value>,
    unevaluated: Option<&'v Value>,
}

impl<'v> Extra<'v> {
    fn permits(self) -> bool {
        self.additional != Some(&Value::Bool(false))
    }

    /// The schema members not listed must satisfy (`None` for a boolean or absent keyword).
    fn schema(self) -> Option<&'v Value> {
        self.additional.filter(|v| !v.is_boolean())
    }

    /// Open: anything may follow, so members may be added or dropped freely.
    fn is_open(self, side: Side, patterns: bool) -> bool {
        if patterns || !self.permits() || self.schema().is_some() {
            return false;
        }
        match (self.additional, self.unevaluated) {
            (Some(_), _) | (None, None) => true,
            (None, Some(u)) => is_empty(side, u),
        }
    }

    /// The schema a member not listed falls under in a partially open model.
    fn partial(self, side: Side) -> Option<&'v Value> {
        if let Some(s) = self.schema() {
            return Some(s);
        }
        if self.additional.is_none() {
            if let Some(u) = self.unevaluated {
                if !is_false(side, u) && !is_empty(side, u) {
                    return Some(u);
                }
            }
        }
        None
    }
}

fn object_extra(m: &Map<String, Value>) -> Extra<'_> {
    Extra {
        additional: m.get("additionalProperties"),
        unevaluated: m.get("unevaluatedProperties"),
    }
}

/// The parts of an array schema: the schema every item must satisfy, the tuple, and what
/// follows the tuple. 2020-12's `prefixItems` is the tuple and its `items` what follows.
fn array_parts(m: &Map<String, Value>) -> (Option<&Value>, &[Value], Extra<'_>) {
    let unevaluated = m.get("unevaluatedItems");
    if let Some(Value::Array(tuple)) = m.get("prefixItems") {
        let extra = Extra {
            additional: m.get("items"),
            unevaluated,
        };
        return (None, tuple.as_slice(), extra);
    }
    match m.get("items") {
        Some(Value::Array(tuple)) => (
            None,
            tuple.as_slice(),
            Extra {
                additional: m.get("additionalItems"),
                unevaluated,
            },
        ),
        Some(b @ Value::Bool(_)) => (
            None,
            &[],
            Extra {
                additional: Some(b),
                unevaluated,
            },
        ),
        all => (
            all,
            &[],
            Extra {
                additional: m.get("additionalItems"),
                unevaluated,
            },
        ),
    }
}

struct Diff {
    found: Vec<Found>,
    /// Pairs of `$ref` targets being compared (by address): compatible when met again.
    in_progress: HashSet<(usize, usize)>,
    /// Comparisons left: a guard against exponential `oneOf`/`anyOf` blow-up.
    budget: usize,
}

impl Diff {
    fn push(&mut self, kind: &'static str, path: &str) {
        self.found.push(Found {
            kind,
            path: path.to_owned(),
        });
    }

    fn push_at(&mut self, kind: &'static str, path: &str, keyword: &str) {
        self.push(kind, &format!("{path}/{keyword}"));
    }

    /// Compares in a context of its own: the differences found and whether all are compatible.
    fn sub(&mut self, os: Side, o: &Value, us: Side, u: &Value, path: &str) -> (Vec<Found>, bool) {
        let saved = std::mem::take(&mut self.found);
        self.compare(os, o, us, u, path);
        let found = std::mem::replace(&mut self.found, saved);
        let ok = found.iter().all(|f| COMPATIBLE.contains(&f.kind));
        (found, ok)
    }

    /// Compares in a context of its own and keeps the differences when they are compatible.
    fn try_compatible(&mut self, os: Side, o: &Value, us: Side, u: &Value, path: &str) -> bool {
        let (found, ok) = self.sub(os, o, us, u, path);
        if ok {
            self.found.extend(found);
        }
        ok
    }

    fn compare(&mut self, os: Side, o: &Value, us: Side, u: &Value, path: &str) {
        if self.budget == 0 {
            self.push("COMPARISON_BUDGET_EXCEEDED", path);
            return;
        }
        self.budget -= 1;
        let followed = o.get("$ref").is_some() || u.get("$ref").is_some();
        let (os, o) = os.resolve(o);
        let (us, u) = us.resolve(u);
        let key = (o as *const Value as usize, u as *const Value as usize);
        if followed && !self.in_progress.insert(key) {
            return; // a recursive pair already being compared
        }
        self.compare_resolved(os, o, us, u, path);
        if followed {
            self.in_progress.remove(&key);
        }
    }

    fn compare_resolved(&mut self, os: Side, o: &Value, us: Side, u: &Value, path: &str) {
        let (oshape, ushape) = (Shape::of(o), Shape::of(u));
        match (&oshape, &ushape) {
            (Shape::Combined { .. }, Shape::Combined { .. }) => {}
            (_, Shape::Combined { criterion, parts }) => {
                // A schema widened to a union: fine when one branch reads it.
                if parts.len() == 1 {
                    if self.try_compatible(os, o, us, &parts[0], path) {
                        return;
                    }
                } else if *criterion != Criterion::All {
                    for part in parts {
                        if self.try_compatible(os, o, us, part, path) {
                            self.push("SUM_TYPE_EXTENDED", path);
                            return;
                        }
                    }
                }
            }
            (Shape::Combined { criterion, parts }, _) => {
                // A combination collapsed to one schema: fine when its sole branch, or one
                // of the conjuncts, is read by it.
                if parts.len() == 1 {
                    if self.try_compatible(os, &parts[0], us, u, path) {
                        return;
                    }
                } else if *criterion == Criterion::All {
                    for part in parts {
                        if self.try_compatible(os, part, us, u, path) {
                            self.push("PRODUCT_TYPE_NARROWED", path);
                            return;
                        }
                    }
                }
            }
            _ => {}
        }
        if !oshape.same_kind(&ushape) {
            if oshape != Shape::False && ushape != Shape::Empty {
                self.push("TYPE_CHANGED", path);
            }
            return;
        }
        let (om, um) = (object(o), object(u));
        for (key, kind) in [
            ("$id", "ID_CHANGED"),
            ("id", "ID_CHANGED"),
            ("title", "TITLE_CHANGED"),
            ("description", "DESCRIPTION_CHANGED"),
            ("default", "DEFAULT_CHANGED"),
        ] {
            if om.get(key) != um.get(key) {
                self.push(kind, path);
            }
        }
        match (oshape, ushape) {
            (Shape::String, _) => self.string(om, um, path),
            (Shape::Number { integer: oi }, Shape::Number { integer: ui }) => {
                self.number(om, um, path);
                if oi && !ui {
                    self.push("TYPE_EXTENDED", path);
                } else if !oi && ui {
                    self.push("TYPE_NARROWED", path);
                }
            }
            (Shape::Enum, _) => self.enumeration(om, um, path),
            (Shape::Const, _) if om.get("const") != um.get("const") => {
                self.push_at("ENUM_ARRAY_CHANGED", path, "const");
            }
            (Shape::Not, _) => {
                let at = format!("{path}/not");
                let (on, un) = (&om["not"], &um["not"]);
                // The reader may reject less than the writer did, never more.
                let (_, ok) = self.sub(us, un, os, on, &at);
                let kind = if ok {
                    "NOT_TYPE_NARROWED"
                } else {
                    "NOT_TYPE_EXTENDED"
                };
                self.push(kind, &at);
            }
            (
                Shape::Combined {
                    criterion: oc,
                    parts: op,
                },
                Shape::Combined {
                    criterion: uc,
                    parts: up,
                },
            ) => self.combined((os, oc, &op), (us, uc, &up), path),
            (Shape::Object, _) => self.object(os, om, us, um, path),
            (Shape::Array, _) => self.array(os, om, us, um, path),
            _ => {}
        }
    }

    fn combined(
        &mut self,
        (os, oc, op): (Side, Criterion, &[Value]),
        (us, uc, up): (Side, Criterion, &[Value]),
        path: &str,
    ) {
        let changed = if oc == uc {
            false
        } else {
            // anyOf reads whatever allOf/oneOf did; a single-branch combination is its
            // branch, so it may become a oneOf, or a single-branch allOf.
            let extended = uc == Criterion::Any
                || (uc == Criterion::One && op.len() == 1)
                || (uc == Criterion::All && op.len() == 1 && up.len() == 1);
            if extended {
                self.push("COMBINED_TYPE_EXTENDED", path);
                false
            } else {
                self.push("COMBINED_TYPE_CHANGED", path);
                true
            }
        };
        if changed {
            return;
        }
        let dedup = |parts: &[Value]| -> Vec<Value> {
            let mut seen = HashSet::new();
            parts
                .iter()
                .filter(|p| seen.insert(value_key(p)))
                .cloned()
                .collect()
        };
        let (op, up) = (dedup(op), dedup(up));
        let product = uc == Criterion::All;
        if op.len() < up.len() {
            let kind = if product {
                "PRODUCT_TYPE_EXTENDED"
            } else {
                "SUM_TYPE_EXTENDED"
            };
            self.push(kind, path);
        } else if op.len() > up.len() {
            let kind = if product {
                "PRODUCT_TYPE_NARROWED"
            } else {
                "SUM_TYPE_NARROWED"
            };
            self.push(kind, path);
        }
        // Which original branch each updated branch could stand for, then the largest
        // one-to-one pairing of them.
        let mut edges: Vec<Vec<(usize, Vec<Found>)>> = Vec::with_capacity(op.len());
        for (i, o) in op.iter().enumerate() {
            let at = format!("{path}/{}/{i}", oc.keyword());
            let mut row = Vec::new();
            for (j, u) in up.iter().enumerate() {
                let (found, ok) = self.sub(os, o, us, u, &at);
                if ok {
                    row.push((j, found));
                }
            }
            edges.push(row);
        }
        let adjacency: Vec<Vec<usize>> = edges
            .iter()
            .map(|row| row.iter().map(|(j, _)| *j).collect())
            .collect();
        let matched = max_matching(&adjacency, up.len());
        let pairs = matched.iter().filter(|m| m.is_some()).count();
        for (j, i) in matched.iter().enumerate() {
            if let Some(i) = i {
                if let Some((_, found)) = edges[*i].iter_mut().find(|(k, _)| *k == j) {
                    self.found.append(found);
                }
            }
        }
        if pairs < op.len().min(up.len()) {
            self.push("COMBINED_TYPE_SUBSCHEMAS_CHANGED", path);
        }
    }

    fn string(&mut self, om: &Map<String, Value>, um: &Map<String, Value>, path: &str) {
        self.bound(om, um, path, "maxLength", "MAX_LENGTH");
        self.bound(om, um, path, "minLength", "MIN_LENGTH");
        match (om.get("pattern"), um.get("pattern")) {
            (None, Some(_)) => self.push_at("PATTERN_ADDED", path, "pattern"),
            (Some(_), None) => self.push_at("PATTERN_REMOVED", path, "pattern"),
            (Some(o), Some(u)) if o != u => self.push_at("PATTERN_CHANGED", path, "pattern"),
            _ => {}
        }
    }

    fn number(&mut self, om: &Map<String, Value>, um: &Map<String, Value>, path: &str) {
        self.bound(om, um, path, "maximum", "MAXIMUM");
        self.bound(om, um, path, "minimum", "MINIMUM");
        // Draft 4's boolean exclusive flags are not compared (as the reference does not).
        let limit = |m: &Map<String, Value>, k: &str| m.get(k).filter(|v| v.is_number()).cloned();
        let mut om2 = Map::new();
        let mut um2 = Map::new();
        for k in ["exclusiveMaximum", "exclusiveMinimum"] {
            if let Some(v) = limit(om, k) {
                om2.insert(k.into(), v);
            }
            if let Some(v) = limit(um, k) {
                um2.insert(k.into(), v);
            }
        }
        self.bound(&om2, &um2, path, "exclusiveMaximum", "EXCLUSIVE_MAXIMUM");
        self.bound(&om2, &um2, path, "exclusiveMinimum", "EXCLUSIVE_MINIMUM");
        let (o, u) = (
            om.get("multipleOf").and_then(Value::as_f64),
            um.get("multipleOf").and_then(Value::as_f64),
        );
        let divides = |a: f64, b: f64| b != 0.0 && ((a / b) - (a / b).round()).abs() < 1e-9;
        match (o, u) {
            (None, Some(_)) => self.push_at("MULTIPLE_OF_ADDED", path, "multipleOf"),
            (Some(_), None) => self.push_at("MULTIPLE_OF_REMOVED", path, "multipleOf"),
            (Some(o), Some(u)) if o != u => {
                let kind = if divides(u, o) {
                    "MULTIPLE_OF_EXPANDED"
                } else if divides(o, u) {
                    "MULTIPLE_OF_REDUCED"
                } else {
                    "MULTIPLE_OF_CHANGED"
                };
                self.push_at(kind, path, "multipleOf");
            }
            _ => {}
        }
    }

    /// An upper bound may grow or go; a lower bound may shrink or go.
    fn bound(
        &mut self,
        om: &Map<String, Value>,
        um: &Map<String, Value>,
        path: &str,
        key: &str,
        name: &'static str,
    ) {
        let (o, u) = (
            om.get(key).and_then(Value::as_f64),
            um.get(key).and_then(Value::as_f64),
        );
        let kind = match (o, u) {
            (None, Some(_)) => "ADDED",
            (Some(_), None) => "REMOVED",
            (Some(o), Some(u)) if u > o => "INCREASED",
            (Some(o), Some(u)) if u < o => "DECREASED",
            _ => return,
        };
        self.push_at(bound_kind(name, kind), path, key);
    }

    fn enumeration(&mut self, om: &Map<String, Value>, um: &Map<String, Value>, path: &str) {
        let values = |m: &Map<String, Value>| -> Vec<Value> {
            m.get("enum")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let Some(change) = set_change(&values(om), &values(um)) else {
            return;
        };
        let kind = [
            "ENUM_ARRAY_EXTENDED",
            "ENUM_ARRAY_NARROWED",
            "ENUM_ARRAY_CHANGED",
        ][change];
        self.push_at(kind, path, "enum");
    }

    fn object(
        &mut self,
        os: Side,
        om: &Map<String, Value>,
        us: Side,
        um: &Map<String, Value>,
        path: &str,
    ) {
        let (op, up) = (members(om, "properties"), members(um, "properties"));
        let required = |m: &Map<String, Value>| -> HashSet<String> {
            m.get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let (oreq, ureq) = (required(om), required(um));
        let has_default = |v: &Value| v.get("default").is_some();
        for (name, _) in op {
            if let Some(u) = up.get(name) {
                let (o_r, u_r) = (oreq.contains(name), ureq.contains(name));
                let at = format!("{path}/required/{}", escape(name));
                if o_r && !u_r {
                    self.push("REQUIRED_ATTRIBUTE_REMOVED", &at);
                } else if !o_r && u_r {
                    let kind = if has_default(u) {
                        "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"
                    } else {
                        "REQUIRED_ATTRIBUTE_ADDED"
                    };
                    self.push(kind, &at);
                }
            }
        }
        let (oextra, uextra) = (object_extra(om), object_extra(um));
        let patterns = |m: &Map<String, Value>| !members(m, "patternProperties").is_empty();
        let o_open = oextra.is_open(os, patterns(om));
        let u_open = uextra.is_open(us, patterns(um));
        let mut names: Vec<&String> = op.keys().chain(up.keys()).collect();
        names.sort();
        names.dedup();
        for name in names {
            let at = format!("{path}/properties/{}", escape(name));
            match (op.get(name), up.get(name)) {
                (Some(o), Some(u)) => self.compare(os, o, us, u, &at),
                (Some(o), None) => {
                    let cover = cover(um, name, uextra, us);
                    self.member_removed(&PROPERTIES, (os, o), (us, u_open, cover), &at);
                }
                (None, Some(u)) => {
                    let cover = cover(om, name, oextra, os);
                    if self.member_added(&PROPERTIES, (os, o_open, cover), (us, u), &at) {
                        continue;
                    }
                    let kind = match (ureq.contains(name), has_default(u)) {
                        (false, _) => "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
                        (true, true) => {
                            "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
                        }
                        (true, false) => "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
                    };
                    self.push(kind, &at);
                }
                (None, None) => {}
            }
        }
        self.dependencies(os, om, us, um, path);
        self.extra(
            (os, oextra),
            (us, uextra),
            path,
            ("additionalProperties", "unevaluatedProperties"),
            "PROPERTIES",
        );
        self.bound(om, um, path, "maxProperties", "MAX_PROPERTIES");
        self.bound(om, um, path, "minProperties", "MIN_PROPERTIES");
    }

    /// A member (property or tuple item) of the writer's schema the reader does not list: fine
    /// in an open model, or where the reader's partially open model covers it, or where the
    /// writer's schema for it was `false`.
    fn member_removed(
        &mut self,
        k: &Members,
        (os, o): (Side, &Value),
        (us, open, cover): (Side, bool, Option<&Value>),
        at: &str,
    ) {
        if open {
            self.push(k.removed_open, at);
        } else if let Some(cover) = cover {
            let kinds = (k.removed_covered, k.removed_not_covered);
            self.covered((os, o), (us, cover), kinds, at);
        } else if is_false(os, o) {
            self.push(k.removed_false, at);
        } else {
            self.push(k.removed_closed, at);
        }
    }

    /// A member the reader lists and the writer did not: in an open writer model it may have
    /// been written with any value (true: nothing more to say); in a partially open one, what
    /// covered it must be readable.
    fn member_added(
        &mut self,
        k: &Members,
        (os, open, cover): (Side, bool, Option<&Value>),
        (us, u): (Side, &Value),
        at: &str,
    ) -> bool {
        if open {
            let kind = if is_empty(us, u) {
                k.added_empty_open
            } else {
                k.added_open
            };
            self.push(kind, at);
            return true;
        }
        if let Some(cover) = cover {
            let kinds = (k.added_covered, k.added_not_covered);
            self.covered((os, cover), (us, u), kinds, at);
        }
        false
    }

    /// A member one side lists, read against what the other side's partially open model
    /// covers it with: the differences are kept, and `kinds.0` (covered) or `kinds.1` (not)
    /// says how it went.
    fn covered(
        &mut self,
        (os, o): (Side, &Value),
        (us, u): (Side, &Value),
        kinds: (&'static str, &'static str),
        at: &str,
    ) {
        let (found, ok) = self.sub(os, o, us, u, at);
        self.found.extend(found);
        self.push(if ok { kinds.0 } else { kinds.1 }, at);
    }

    /// `dependencies` (and 2019-09's `dependentRequired` / `dependentSchemas`), all reported
    /// under `#/dependencies`.
    fn dependencies(
        &mut self,
        os: Side,
        om: &Map<String, Value>,
        us: Side,
        um: &Map<String, Value>,
        path: &str,
    ) {
        let split = |m: &Map<String, Value>| {
            let mut arrays: Vec<(String, Vec<Value>)> = Vec::new();
            let mut schemas: Vec<(String, Value)> = Vec::new();
            for key in ["dependencies", "dependentRequired", "dependentSchemas"] {
                for (name, v) in members(m, key) {
                    match v {
                        Value::Array(a) => arrays.push((name.clone(), a.clone())),
                        other => schemas.push((name.clone(), other.clone())),
                    }
                }
            }
            (arrays, schemas)
        };
        let (oa, osch) = split(om);
        let (ua, usch) = split(um);
        let get = |list: &[(String, Vec<Value>)], n: &str| {
            list.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
        };
        let mut names: Vec<String> = oa.iter().chain(ua.iter()).map(|(k, _)| k.clone()).collect();
        names.sort();
        names.dedup();
        for name in names {
            let at = format!("{path}/dependencies/{}", escape(&name));
            match (get(&oa, &name), get(&ua, &name)) {
                (Some(_), None) => self.push("DEPENDENCY_ARRAY_REMOVED", &at),
                (None, Some(_)) => self.push("DEPENDENCY_ARRAY_ADDED", &at),
                (Some(o), Some(u)) => {
                    if let Some(change) = set_change(&o, &u) {
                        let kinds = [
                            "DEPENDENCY_ARRAY_EXTENDED",
                            "DEPENDENCY_ARRAY_NARROWED",
                            "DEPENDENCY_ARRAY_CHANGED",
                        ];
                        self.push(kinds[change], &at);
                    }
                }
                (None, None) => {}
            }
        }
        let mut names: Vec<String> = osch
            .iter()
            .chain(usch.iter())
            .map(|(k, _)| k.clone())
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let at = format!("{path}/dependencies/{}", escape(&name));
            let o = osch.iter().find(|(k, _)| *k == name).map(|(_, v)| v);
            let u = usch.iter().find(|(k, _)| *k == name).map(|(_, v)| v);
            match (o, u) {
                (Some(_), None) => self.push("DEPENDENCY_SCHEMA_REMOVED", &at),
                (None, Some(_)) => self.push("DEPENDENCY_SCHEMA_ADDED", &at),
                (Some(o), Some(u)) => self.compare(os, o, us, u, &at),
                (None, None) => {}
            }
        }
    }

    /// What the two schemas allow beyond the members they list: `additional*` first, then
    /// `unevaluated*`.
    fn extra(
        &mut self,
        (os, o): (Side, Extra),
        (us, u): (Side, Extra),
        path: &str,
        (additional_key, unevaluated_key): (&str, &str),
        noun: &str,
    ) {
        let at = format!("{path}/{additional_key}");
        let kind = |what: &str| -> &'static str { extra_kind(noun, "ADDITIONAL", what) };
        if o.permits() != u.permits() {
            self.push(kind(if u.permits() { "ADDED" } else { "REMOVED" }), &at);
        } else {
            match (o.schema(), u.schema()) {
                (None, Some(_)) => self.push(kind("NARROWED"), &at),
                (Some(_), None) => self.push(kind("EXTENDED"), &at),
                (Some(a), Some(b)) => self.compare(os, a, us, b, &at),
                (None, None) => {}
            }
        }
        let (ou, uu) = (o.unevaluated, u.unevaluated);
        if ou.is_none() && uu.is_none() {
            return;
        }
        let at = format!("{path}/{unevaluated_key}");
        let kind = |what: &str| -> &'static str { extra_kind(noun, "UNEVALUATED", what) };
        let is_f = |side: Side, v: Option<&Value>| v.is_some_and(|v| is_false(side, v));
        let is_e = |side: Side, v: Option<&Value>| v.is_some_and(|v| is_empty(side, v));
        let what = match (ou, uu) {
            (None, _) if is_f(us, uu) => "REMOVED",
            (None, _) => "NARROWED",
            (_, None) if is_f(os, ou) => "ADDED",
            (_, None) => "EXTENDED",
            _ if is_f(os, ou) && !is_f(us, uu) => "ADDED",
            _ if !is_f(os, ou) && is_f(us, uu) => "REMOVED",
            _ if is_e(os, ou) && !is_e(us, uu) => "NARROWED",
            _ if !is_e(os, ou) && is_e(us, uu) => "EXTENDED",
            (Some(a), Some(b)) => {
                self.compare(os, a, us, b, &at);
                return;
            }
        };
        self.push(kind(what), &at);
    }

    fn array(
        &mut self,
        os: Side,
        om: &Map<String, Value>,
        us: Side,
        um: &Map<String, Value>,
        path: &str,
    ) {
        let (oall, otuple, oextra) = array_parts(om);
        let (uall, utuple, uextra) = array_parts(um);
        let at = format!("{path}/items");
        match (oall, uall) {
            (None, Some(_)) => self.push("SCHEMA_ADDED", &at),
            (Some(_), None) => self.push("SCHEMA_REMOVED", &at),
            (Some(o), Some(u)) => self.compare(os, o, us, u, &at),
            (None, None) => {}
        }
        let o_open = oextra.is_open(os, false);
        let u_open = uextra.is_open(us, false);
        for i in 0..otuple.len().max(utuple.len()) {
            let at = format!("{path}/items/{i}");
            match (otuple.get(i), utuple.get(i)) {
                (Some(o), Some(u)) => self.compare(os, o, us, u, &at),
                (Some(o), None) => {
                    let cover = uextra.partial(us);
                    self.member_removed(&ITEMS, (os, o), (us, u_open, cover), &at);
                }
                (None, Some(u)) => {
                    let cover = oextra.partial(os);
                    let open = self.member_added(&ITEMS, (os, o_open, cover), (us, u), &at);
                    if !open && cover.is_none() {
                        self.push("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL", &at);
                    }
                }
                (None, None) => {}
            }
        }
        self.extra(
            (os, oextra),
            (us, uextra),
            path,
            ("additionalItems", "unevaluatedItems"),
            "ITEMS",
        );
        self.bound(om, um, path, "maxItems", "MAX_ITEMS");
        self.bound(om, um, path, "minItems", "MIN_ITEMS");
        let unique = |m: &Map<String, Value>| m.get("uniqueItems") == Some(&Value::Bool(true));
        match (unique(om), unique(um)) {
            (true, false) => self.push_at("UNIQUE_ITEMS_REMOVED", path, "uniqueItems"),
            (false, true) => self.push_at("UNIQUE_ITEMS_ADDED", path, "uniqueItems"),
            _ => {}
        }
        self.bound(om, um, path, "maxContains", "MAX_CONTAINS");
        self.bound(om, um, path, "minContains", "MIN_CONTAINS");
    }
}

/// How a set of values (an `enum`, a dependency list) changed: `None` when it did not, else
/// 0 when the update has every original value (extended), 1 when the original has every update
/// value (narrowed), 2 otherwise (changed).
fn set_change(o: &[Value], u: &[Value]) -> Option<usize> {
    // Linear in the sizes: a large enum must not cost its square on a request.
    let (ok, uk): (HashSet<String>, HashSet<String>) = (
        o.iter().map(value_key).collect(),
        u.iter().map(value_key).collect(),
    );
    let all_in = |a: &HashSet<String>, b: &HashSet<String>| a.is_subset(b);
    match (all_in(&ok, &uk), all_in(&uk, &ok)) {
        (true, true) => None,
        (true, false) => Some(0),
        (false, true) => Some(1),
        (false, false) => Some(2),
    }
}

/// A value as a hashable key that equal JSON values share (object keys sorted).
fn value_key(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for k in keys {
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(&m[k], out);
                    out.push(',');
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for i in items {
                    write(i, out);
                    out.push(',');
                }
                out.push(']');
            }
            // Numbers compare by value: 1 and 1.0 are one JSON number.
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    out.push_str(&format!("{}", f as i64))
                }
                _ => out.push_str(&n.to_string()),
            },
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// The kinds of difference for one family of members.
struct Members {
    removed_open: &'static str,
    removed_covered: &'static str,
    removed_not_covered: &'static str,
    removed_false: &'static str,
    removed_closed: &'static str,
    added_empty_open: &'static str,
    added_open: &'static str,
    added_covered: &'static str,
    added_not_covered: &'static str,
}

const PROPERTIES: Members = Members {
    removed_open: "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
    removed_covered: "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    removed_not_covered: "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    removed_false: "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    removed_closed: "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    added_empty_open: "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    added_open: "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
    added_covered: "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    added_not_covered: "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
};

const ITEMS: Members = Members {
    removed_open: "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
    removed_covered: "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    removed_not_covered: "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    removed_false: "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    removed_closed: "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    added_empty_open: "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    added_open: "ITEM_ADDED_TO_OPEN_CONTENT_MODEL",
    added_covered: "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    added_not_covered: "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
};

/// The schema a property not listed falls under: the first matching pattern property, else
/// the schema of additional (or unevaluated) properties.
fn cover<'v>(
    m: &'v Map<String, Value>,
    name: &str,
    extra: Extra<'v>,
    side: Side,
) -> Option<&'v Value> {
    for (p, s) in members(m, "patternProperties") {
        if regex::Regex::new(p).is_ok_and(|r| r.is_match(name)) {
            return Some(s);
        }
    }
    extra.partial(side)
}

/// The kinds of difference whose names are put together from parts (a bound and how it
/// changed; a content-model keyword and how it changed), so they can be handed out as static
/// names.
const COMPOSED_KINDS: &[&str] = &[
    "MAX_LENGTH_ADDED",
    "MAX_LENGTH_REMOVED",
    "MAX_LENGTH_INCREASED",
    "MAX_LENGTH_DECREASED",
    "MIN_LENGTH_ADDED",
    "MIN_LENGTH_REMOVED",
    "MIN_LENGTH_INCREASED",
    "MIN_LENGTH_DECREASED",
    "MAXIMUM_ADDED",
    "MAXIMUM_REMOVED",
    "MAXIMUM_INCREASED",
    "MAXIMUM_DECREASED",
    "MINIMUM_ADDED",
    "MINIMUM_REMOVED",
    "MINIMUM_INCREASED",
    "MINIMUM_DECREASED",
    "EXCLUSIVE_MAXIMUM_ADDED",
    "EXCLUSIVE_MAXIMUM_REMOVED",
    "EXCLUSIVE_MAXIMUM_INCREASED",
    "EXCLUSIVE_MAXIMUM_DECREASED",
    "EXCLUSIVE_MINIMUM_ADDED",
    "EXCLUSIVE_MINIMUM_REMOVED",
    "EXCLUSIVE_MINIMUM_INCREASED",
    "EXCLUSIVE_MINIMUM_DECREASED",
    "MAX_PROPERTIES_ADDED",
    "MAX_PROPERTIES_REMOVED",
    "MAX_PROPERTIES_INCREASED",
    "MAX_PROPERTIES_DECREASED",
    "MIN_PROPERTIES_ADDED",
    "MIN_PROPERTIES_REMOVED",
    "MIN_PROPERTIES_INCREASED",
    "MIN_PROPERTIES_DECREASED",
    "MAX_ITEMS_ADDED",
    "MAX_ITEMS_REMOVED",
    "MAX_ITEMS_INCREASED",
    "MAX_ITEMS_DECREASED",
    "MIN_ITEMS_ADDED",
    "MIN_ITEMS_REMOVED",
    "MIN_ITEMS_INCREASED",
    "MIN_ITEMS_DECREASED",
    "MAX_CONTAINS_ADDED",
    "MAX_CONTAINS_REMOVED",
    "MAX_CONTAINS_INCREASED",
    "MAX_CONTAINS_DECREASED",
    "MIN_CONTAINS_ADDED",
    "MIN_CONTAINS_REMOVED",
    "MIN_CONTAINS_INCREASED",
    "MIN_CONTAINS_DECREASED",
    "ADDITIONAL_PROPERTIES_ADDED",
    "ADDITIONAL_PROPERTIES_REMOVED",
    "ADDITIONAL_PROPERTIES_EXTENDED",
    "ADDITIONAL_PROPERTIES_NARROWED",
    "UNEVALUATED_PROPERTIES_ADDED",
    "UNEVALUATED_PROPERTIES_REMOVED",
    "UNEVALUATED_PROPERTIES_EXTENDED",
    "UNEVALUATED_PROPERTIES_NARROWED",
    "ADDITIONAL_ITEMS_ADDED",
    "ADDITIONAL_ITEMS_REMOVED",
    "ADDITIONAL_ITEMS_EXTENDED",
    "ADDITIONAL_ITEMS_NARROWED",
    "UNEVALUATED_ITEMS_ADDED",
    "UNEVALUATED_ITEMS_REMOVED",
    "UNEVALUATED_ITEMS_EXTENDED",
    "UNEVALUATED_ITEMS_NARROWED",
];

/// A composed kind's static name (`fallback` when the parts name none).
fn composed_kind(wanted: &str, fallback: &'static str) -> &'static str {
    COMPOSED_KINDS
        .iter()
        .find(|k| **k == wanted)
        .copied()
        .unwrap_or(fallback)
}

/// The `<NAME>_<CHANGE>` kind of a bound.
fn bound_kind(name: &str, change: &str) -> &'static str {
    composed_kind(&format!("{name}_{change}"), "BOUND_CHANGED")
}

/// `ADDITIONAL_PROPERTIES_ADDED`, `UNEVALUATED_ITEMS_NARROWED`, ….
fn extra_kind(noun: &str, which: &str, change: &str) -> &'static str {
    composed_kind(&format!("{which}_{noun}_{change}"), "CONTENT_MODEL_CHANGED")
}

/// The largest one-to-one pairing in a bipartite graph (`adjacency[i]`: the right-hand nodes
/// left node `i` may pair with), as the left node each right node is paired with.
fn max_matching(adjacency: &[Vec<usize>], right: usize) -> Vec<Option<usize>> {
    fn augment(
        i: usize,
        adjacency: &[Vec<usize>],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for &j in &adjacency[i] {
            if seen[j] {
                continue;
            }
            seen[j] = true;
            if owner[j].is_none_or(|k| augment(k, adjacency, seen, owner)) {
                owner[j] = Some(i);
                return true;
            }
        }
        false
    }
    let mut owner = vec![None; right];
    for i in 0..adjacency.len() {
        let mut seen = vec![false; right];
        augment(i, adjacency, &mut seen, &mut owner);
    }
    owner
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_changes_compare_values_not_spelling() {
        let v = |x: Value| x.as_array().cloned().unwrap_or_default();
        assert_eq!(
            set_change(
                &v(json!([1, "a", {"k": 1, "j": 2}])),
                &v(json!([{"j": 2, "k": 1}, "a", 1.0]))
            ),
            None
        );
        assert_eq!(set_change(&v(json!(["a"])), &v(json!(["a", "b"]))), Some(0));
        assert_eq!(set_change(&v(json!(["a", "b"])), &v(json!(["b"]))), Some(1));
        assert_eq!(set_change(&v(json!(["a"])), &v(json!(["b"]))), Some(2));
        // Large sets are compared in linear time (a quadratic check of these would take minutes).
        let big: Vec<Value> = (0..200_000).map(|i| json!(format!("S{i}"))).collect();
        let mut bigger = big.clone();
        bigger.push(json!("extra"));
        assert_eq!(set_change(&big, &bigger), Some(0));
    }
}
