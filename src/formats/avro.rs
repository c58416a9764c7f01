//! Avro: parsing and validation with apache-avro, plus what the crate leaves out: the canonical
//! text Confluent stores (compact JSON in a fixed key order), the normalized form, and the
//! specification's schema-resolution rules reported with a path per incompatibility.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use apache_avro::schema::{
    EnumSchema, FixedSchema, Name, RecordField, RecordSchema, Schema, UnionSchema,
};
use serde_json::{Map, Value};

use super::{
    Format, Incompatibility, InvalidPayload, InvalidSchema, ParsedSchema, PayloadOptions,
    ResolvedReference,
};
use crate::types::SchemaType;

mod datum;

pub struct AvroFormat;

/// A parsed Avro schema with every named type it can see (its own and its references').
#[derive(Debug)]
pub struct AvroSchema {
    canonical: String,
    json: Value,
    schema: Schema,
    named: HashMap<String, Schema>,
}

impl AvroSchema {
    /// The schema as JSON, as parsed (before canonical rewriting).
    pub fn json(&self) -> &Value {
        &self.json
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }
}

impl Format for AvroFormat {
    fn schema_type(&self) -> SchemaType {
        SchemaType::Avro
    }

    fn parse(
        &self,
        text: &str,
        references: &[ResolvedReference],
    ) -> Result<Arc<dyn ParsedSchema>, InvalidSchema> {
        java_names();
        let json: Value = serde_json::from_str(text)
            .map_err(|e| InvalidSchema(format!("Invalid schema {text}: not JSON: {e}")))?;
        lint(&json, None, "").map_err(|e| InvalidSchema(format!("Invalid Avro schema: {e}")))?;
        let ref_texts: Vec<&str> = references
            .iter()
            .filter(|r| r.schema_type == SchemaType::Avro)
            .map(|r| r.schema.as_str())
            .collect();
        let (schema, referenced) = Schema::parse_str_with_list(text, &ref_texts)
            .map_err(|e| InvalidSchema(format!("Invalid Avro schema: {e}")))?;
        let mut named = HashMap::new();
        for s in referenced.iter().chain(std::iter::once(&schema)) {
            collect_named(s, &mut named);
        }
        let canonical = to_canonical(&json, None, false).to_string();
        Ok(Arc::new(AvroSchema {
            canonical,
            json,
            schema,
            named,
        }))
    }
}

impl ParsedSchema for AvroSchema {
    fn schema_type(&self) -> SchemaType {
        SchemaType::Avro
    }

    fn canonical(&self) -> &str {
        &self.canonical
    }

    fn normalized(&self) -> String {
        to_canonical(&self.json, None, true).to_string()
    }

    fn field_names(&self) -> Vec<String> {
        match &self.schema {
            Schema::Record(r) => r.fields.iter().map(|f| f.name.clone()).collect(),
            _ => Vec::new(),
        }
    }

    fn read_incompatibilities(&self, writer: &dyn ParsedSchema) -> Vec<Incompatibility> {
        let Some(writer) = writer.as_any().downcast_ref::<AvroSchema>() else {
            return vec![Incompatibility {
                kind: "TYPE_MISMATCH",
                path: "/".into(),
                description: "Incompatible because of different schema type".into(),
                info: String::new(),
            }];
        };
        let mut checker = Checker {
            reader: self,
            writer,
            seen: HashSet::new(),
            found: Vec::new(),
        };
        checker.check(&self.schema, &writer.schema, &mut String::new());
        checker.found
    }

    fn validate(&self, datum: &[u8], options: PayloadOptions) -> Result<(), InvalidPayload> {
        if options.json {
            let value: Value = serde_json::from_slice(datum)
                .map_err(|e| InvalidPayload(format!("not JSON: {e}")))?;
            return datum::check_json(self, &self.schema, &value, !options.allow_unknown_fields)
                .map_err(|e| InvalidPayload(format!("not a datum of this schema: {e}")));
        }
        datum::check(self, &self.schema, datum)
            .map_err(|e| InvalidPayload(format!("not a datum of this schema: {e}")))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Validation apache-avro does not do.

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// Names as Avro Java (and so the Confluent registry) checks them: the simple name must be a
/// valid identifier; the namespace is not checked (`foo-bar-baz.Event` is accepted).
struct JavaNames;

impl apache_avro::validator::SchemaNameValidator for JavaNames {
    fn validate(
        &self,
        full: &str,
    ) -> apache_avro::AvroResult<(String, apache_avro::schema::Namespace)> {
        let (namespace, name) = match full.rsplit_once('.') {
            Some((ns, name)) => (Some(ns.to_owned()).filter(|n| !n.is_empty()), name),
            None => (None, full),
        };
        if !valid_name(name) {
            return Err(apache_avro::error::Details::InvalidSchemaName(
                full.to_owned(),
                "[A-Za-z_][A-Za-z0-9_]*",
            )
            .into());
        }
        Ok((name.to_owned(), namespace))
    }
}

impl apache_avro::validator::SchemaNamespaceValidator for JavaNames {
    fn validate(&self, _namespace: &str) -> apache_avro::AvroResult<()> {
        Ok(())
    }
}

/// Installs [`JavaNames`] as apache-avro's name checks (once per process).
fn java_names() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only when set already, which the `Once` rules out.
        let _ = apache_avro::validator::set_schema_name_validator(Box::new(JavaNames));
        let _ = apache_avro::validator::set_schema_namespace_validator(Box::new(JavaNames));
    });
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks names (the simple name only, as Avro Java does), duplicate fields and symbols. A
/// union field's default may match any branch, as Avro 1.12 and the Confluent registry allow.
fn lint(v: &Value, _ns: Option<&str>, path: &str) -> Result<(), String> {
    match v {
        Value::Array(branches) => {
            for (i, b) in branches.iter().enumerate() {
                lint(b, _ns, &format!("{path}/{i}"))?;
            }
            Ok(())
        }
        Value::Object(map) => {
            let ty = map.get("type").and_then(Value::as_str).unwrap_or("");
            if matches!(ty, "record" | "error" | "enum" | "fixed") {
                let name = map.get("name").and_then(Value::as_str).unwrap_or("");
                let simple = name.rsplit('.').next().unwrap_or(name);
                if !valid_name(simple) {
                    return Err(format!("invalid name '{name}' at '{path}/name'"));
                }
            }
            match ty {
                "record" | "error" => {
                    let fields = map.get("fields").and_then(Value::as_array);
                    let mut seen = HashSet::new();
                    for (i, f) in fields.into_iter().flatten().enumerate() {
                        let fpath = format!("{path}/fields/{i}");
                        let fname = f.get("name").and_then(Value::as_str).unwrap_or("");
                        if !valid_name(fname) {
                            return Err(format!("invalid field name '{fname}' at '{fpath}/name'"));
                        }
                        if !seen.insert(fname) {
                            return Err(format!("duplicate field name '{fname}' at '{fpath}'"));
                        }
                        if let Some(t) = f.get("type") {
                            lint(t, _ns, &format!("{fpath}/type"))?;
                        }
                    }
                }
                "enum" => {
                    let symbols = map.get("symbols").and_then(Value::as_array);
                    let mut seen = HashSet::new();
                    for (i, s) in symbols.into_iter().flatten().enumerate() {
                        let s = s.as_str().unwrap_or("");
                        if !valid_name(s) {
                            return Err(format!(
                                "invalid enum symbol '{s}' at '{path}/symbols/{i}'"
                            ));
                        }
                        if !seen.insert(s) {
                            return Err(format!(
                                "duplicate enum symbol '{s}' at '{path}/symbols/{i}'"
                            ));
                        }
                    }
                }
                "array" => {
                    if let Some(items) = map.get("items") {
                        lint(items, _ns, &format!("{path}/items"))?;
                    }
                }
                "map" => {
                    if let Some(values) = map.get("values") {
                        lint(values, _ns, &format!("{path}/values"))?;
                    }
                }
                _ => {}
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Canonical and normalized text.

const SCHEMA_KEY_ORDER: [&str; 15] = [
    "type",
    "name",
    "namespace",
    "doc",
    "aliases",
    "fields",
    "symbols",
    "items",
    "values",
    "size",
    "default",
    "order",
    "logicalType",
    "precision",
    "scale",
];
/// The attributes Avro Java reserves on a schema (not kept as properties).
const SCHEMA_RESERVED: [&str; 10] = [
    "doc",
    "fields",
    "items",
    "name",
    "namespace",
    "size",
    "symbols",
    "values",
    "type",
    "aliases",
];
const FIELD_KEY_ORDER: [&str; 6] = ["name", "type", "doc", "default", "order", "aliases"];

fn fullname(name: &str, ns: Option<&str>) -> String {
    match ns {
        Some(ns) if !ns.is_empty() && !name.contains('.') => format!("{ns}.{name}"),
        _ => name.to_owned(),
    }
}

/// Rewrites a schema into the stored form: compact, keys in a fixed order, `{"type":"x"}`
/// collapsed to `"x"`. With `normalize`, named types also get their full names and no
/// `namespace`, so differently written but equal schemas compare equal.
fn to_canonical(v: &Value, ns: Option<&str>, normalize: bool) -> Value {
    match v {
        Value::String(s) if normalize && !PRIMITIVES.contains(&s.as_str()) => {
            Value::String(fullname(s, ns))
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| to_canonical(i, ns, normalize))
                .collect(),
        ),
        Value::Object(map) => {
            if let Some(Value::String(t)) = map.get("type") {
                if PRIMITIVES.contains(&t.as_str()) {
                    // A primitive's reserved attributes (`name`, `doc`, `aliases`, …) mean
                    // nothing, as Avro Java reads them: with no other property it is the bare
                    // name; other properties (`logicalType`, custom ones) stay.
                    let kept: Map<String, Value> = map
                        .iter()
                        .filter(|(k, _)| {
                            k.as_str() == "type" || !SCHEMA_RESERVED.contains(&k.as_str())
                        })
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    if kept.len() == 1 {
                        return Value::String(t.clone());
                    }
                    if kept.len() < map.len() {
                        return to_canonical(&Value::Object(kept), ns, normalize);
                    }
                }
            }
            let ty = map.get("type").and_then(Value::as_str).unwrap_or("");
            let named = matches!(ty, "record" | "error" | "enum" | "fixed");
            // The namespace names nested inside this schema resolve against.
            let mut own_ns = ns.map(str::to_owned);
            let mut full = None;
            if named {
                let name = map.get("name").and_then(Value::as_str).unwrap_or("");
                let explicit = map.get("namespace").and_then(Value::as_str);
                let f = fullname(name, explicit.or(ns));
                own_ns = f.rsplit_once('.').map(|(n, _)| n.to_owned());
                full = Some(f);
            }
            let mut out = Map::new();
            let ordered = SCHEMA_KEY_ORDER.iter().copied();
            let rest = map
                .keys()
                .map(String::as_str)
                .filter(|k| !SCHEMA_KEY_ORDER.contains(k));
            for key in ordered.chain(rest) {
                let Some(val) = map.get(key) else { continue };
                let val = match key {
                    "type" if !val.is_string() => to_canonical(val, ns, normalize),
                    "name" if normalize && named => Value::String(full.clone().unwrap_or_default()),
                    "namespace" if normalize && named => continue,
                    "fields" => Value::Array(
                        val.as_array()
                            .into_iter()
                            .flatten()
                            .map(|f| field_canonical(f, own_ns.as_deref(), normalize))
                            .collect(),
                    ),
                    "items" | "values" => to_canonical(val, own_ns.as_deref(), normalize),
                    _ => val.clone(),
                };
                out.insert(key.to_owned(), val);
            }
            Value::Object(out)
        }
        _ => v.clone(),
    }
}

fn field_canonical(f: &Value, ns: Option<&str>, normalize: bool) -> Value {
    let Value::Object(map) = f else {
        return f.clone();
    };
    let mut out = Map::new();
    let rest = map
        .keys()
        .map(String::as_str)
        .filter(|k| !FIELD_KEY_ORDER.contains(k));
    for key in FIELD_KEY_ORDER.iter().copied().chain(rest) {
        if let Some(val) = map.get(key) {
            let val = if key == "type" {
                to_canonical(val, ns, normalize)
            } else {
                val.clone()
            };
            out.insert(key.to_owned(), val);
        }
    }
    Value::Object(out)
}

// ---------------------------------------------------------------------------------------------
// Schema resolution (Avro specification, "Schema Resolution").

fn collect_named(s: &Schema, out: &mut HashMap<String, Schema>) {
    match s {
        Schema::Record(r) => {
            out.insert(r.name.fullname(None), s.clone());
            for f in &r.fields {
                collect_named(&f.schema, out);
            }
        }
        Schema::Enum(e) => {
            out.insert(e.name.fullname(None), s.clone());
        }
        Schema::Fixed(f) => {
            out.insert(f.name.fullname(None), s.clone());
        }
        Schema::Array(a) => collect_named(&a.items, out),
        Schema::Map(m) => collect_named(&m.types, out),
        Schema::Union(u) => u.variants().iter().for_each(|v| collect_named(v, out)),
        Schema::Decimal(d) => collect_named(&d.inner, out),
        _ => {}
    }
}

/// A schema reduced to what resolution looks at: logical types compare as their underlying
/// type, as Avro Java (and so the Confluent registry) does.
enum Shape<'a> {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array(&'a Schema),
    Map(&'a Schema),
    Union(&'a UnionSchema),
    Record(&'a RecordSchema),
    Enum(&'a EnumSchema),
    Fixed(Option<&'a FixedSchema>, usize),
}

impl Shape<'_> {
    fn label(&self) -> &'static str {
        match self {
            Shape::Null => "null",
            Shape::Boolean => "boolean",
            Shape::Int => "int",
            Shape::Long => "long",
            Shape::Float => "float",
            Shape::Double => "double",
            Shape::Bytes => "bytes",
            Shape::String => "string",
            Shape::Array(_) => "array",
            Shape::Map(_) => "map",
            Shape::Union(_) => "union",
            Shape::Record(_) => "record",
            Shape::Enum(_) => "enum",
            Shape::Fixed(..) => "fixed",
        }
    }
}

struct Checker<'a> {
    reader: &'a AvroSchema,
    writer: &'a AvroSchema,
    /// Named (reader, writer) pairs being compared; a recursive type assumes itself compatible.
    seen: HashSet<(String, String)>,
    found: Vec<Incompatibility>,
}

impl<'a> Checker<'a> {
    fn shape(side: &'a AvroSchema, s: &'a Schema) -> Shape<'a> {
        match s {
            Schema::Null => Shape::Null,
            Schema::Boolean => Shape::Boolean,
            Schema::Int | Schema::Date | Schema::TimeMillis => Shape::Int,
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => Shape::Long,
            Schema::Float => Shape::Float,
            Schema::Double => Shape::Double,
            Schema::Bytes | Schema::BigDecimal => Shape::Bytes,
            Schema::String | Schema::Uuid => Shape::String,
            Schema::Array(a) => Shape::Array(&a.items),
            Schema::Map(m) => Shape::Map(&m.types),
            Schema::Union(u) => Shape::Union(u),
            Schema::Record(r) => Shape::Record(r),
            Schema::Enum(e) => Shape::Enum(e),
            Schema::Fixed(f) => Shape::Fixed(Some(f), f.size),
            Schema::Duration => Shape::Fixed(None, 12),
            Schema::Decimal(d) => Self::shape(side, &d.inner),
            Schema::Ref { name } => match side.named.get(&name.fullname(None)) {
                Some(s) => Self::shape(side, s),
                None => Shape::Null,
            },
        }
    }

    fn report(&mut self, kind: &'static str, path: &str, description: String, info: String) {
        let path = if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        };
        self.found.push(Incompatibility {
            kind,
            path,
            description,
            info,
        });
    }

    /// Can data written with `w` be read with `r`? Problems are recorded, not returned.
    fn check(&mut self, r: &'a Schema, w: &'a Schema, path: &mut String) {
        let shown = if path.is_empty() {
            "/".to_owned()
        } else {
            path.clone()
        };
        let rs = Self::shape(self.reader, r);
        let ws = Self::shape(self.writer, w);
        match (&rs, &ws) {
            (Shape::Union(ru), Shape::Union(wu)) => {
                for (i, wb) in wu.variants().iter().enumerate() {
                    if !self.union_reads(ru, wb) {
                        let len = path.len();
                        path.push_str(&format!("/{i}"));
                        self.report(
                            "MISSING_UNION_BRANCH",
                            path,
                            format!(
                                "The {{reader}} schema is missing a type inside a union field at path '{path}' in the {{writer}} schema"
                            ),
                            format!("reader union lacking writer type: {}", Self::shape(self.writer, wb).label()),
                        );
                        path.truncate(len);
                    }
                }
            }
            (_, Shape::Union(wu)) => {
                for (i, wb) in wu.variants().iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    self.check(r, wb, path);
                    path.truncate(len);
                }
            }
            (Shape::Union(ru), _) => {
                if !self.union_reads(ru, w) {
                    self.report(
                        "MISSING_UNION_BRANCH",
                        path,
                        format!("The {{reader}} schema is missing a type inside a union field at path '{shown}' in the {{writer}} schema"),
                        format!("reader union lacking writer type: {}", ws.label()),
                    );
                }
            }
            (Shape::Array(ri), Shape::Array(wi)) => {
                let len = path.len();
                path.push_str("/items");
                self.check(ri, wi, path);
                path.truncate(len);
            }
            (Shape::Map(rv), Shape::Map(wv)) => {
                let len = path.len();
                path.push_str("/values");
                self.check(rv, wv, path);
                path.truncate(len);
            }
            (Shape::Record(rr), Shape::Record(wr)) => self.records(rr, wr, path),
            (Shape::Enum(re), Shape::Enum(we)) => {
                if self.names_match(&re.name, re.aliases.as_deref(), &we.name, path) {
                    // Linear in the symbol counts: a large enum must not cost its square.
                    let known: HashSet<&str> = re.symbols.iter().map(String::as_str).collect();
                    let missing: Vec<&str> = we
                        .symbols
                        .iter()
                        .map(String::as_str)
                        .filter(|s| !known.contains(s))
                        .collect();
                    if !missing.is_empty() && re.default.is_none() {
                        let list = format!("[{}]", missing.join(", "));
                        self.report(
                            "MISSING_ENUM_SYMBOLS",
                            &format!("{path}/symbols"),
                            format!(
                                "The {{reader}} schema is missing enum symbols '{list}' at path '{path}/symbols' in the {{writer}} schema"
                            ),
                            list.clone(),
                        );
                    }
                }
            }
            (Shape::Fixed(rf, rsize), Shape::Fixed(wf, wsize)) => {
                let named = match (rf, wf) {
                    (Some(rf), Some(wf)) => {
                        self.names_match(&rf.name, rf.aliases.as_deref(), &wf.name, path)
                    }
                    _ => true,
                };
                if named && rsize != wsize {
                    self.report(
                        "FIXED_SIZE_MISMATCH",
                        &format!("{path}/size"),
                        format!(
                            "The size of FIXED type field at path '{path}/size' in the {{reader}} schema does not match with the {{writer}} schema"
                        ),
                        format!("expected: {wsize}, found: {rsize}"),
                    );
                }
            }
            _ => {
                if !promotes(&ws, &rs) {
                    self.report(
                        "TYPE_MISMATCH",
                        path,
                        format!(
                            "The type (path '{shown}') of a field in the {{reader}} schema does not match with the {{writer}} schema"
                        ),
                        format!("reader type: {} not compatible with writer type: {}", rs.label(), ws.label()),
                    );
                }
            }
        }
    }

    /// Whether some branch of the reader union reads the writer schema, without recording.
    fn union_reads(&mut self, ru: &'a UnionSchema, w: &'a Schema) -> bool {
        ru.variants().iter().any(|rb| {
            let saved = std::mem::take(&mut self.found);
            self.check(rb, w, &mut String::new());
            let ok = self.found.is_empty();
            self.found = saved;
            ok
        })
    }

    /// Named types match on unqualified name, or when the reader lists the writer's full name
    /// among its aliases (Avro Java's rule).
    fn names_match(
        &mut self,
        r: &Name,
        r_aliases: Option<&[apache_avro::schema::Alias]>,
        w: &Name,
        path: &str,
    ) -> bool {
        let w_full = w.fullname(None);
        let ok = r.name == w.name
            || r_aliases
                .into_iter()
                .flatten()
                .any(|a| a.fullname(r.namespace.clone()) == w_full || a.name() == w.name);
        if !ok {
            self.report(
                "NAME_MISMATCH",
                &format!("{path}/name"),
                format!("The name of the schema has changed (path '{path}/name')"),
                format!("expected: {w_full}"),
            );
        }
        ok
    }

    fn records(&mut self, rr: &'a RecordSchema, wr: &'a RecordSchema, path: &mut String) {
        if !self.names_match(&rr.name, rr.aliases.as_deref(), &wr.name, path) {
            return;
        }
        let key = (rr.name.fullname(None), wr.name.fullname(None));
        if !self.seen.insert(key.clone()) {
            return;
        }
        for (i, rf) in rr.fields.iter().enumerate() {
            let len = path.len();
            path.push_str(&format!("/fields/{i}"));
            match writer_field(rf, wr) {
                Some(wf) => {
                    path.push_str("/type");
                    self.check(&rf.schema, &wf.schema, path);
                }
                None if rf.default.is_none() => {
                    self.report(
                        "READER_FIELD_MISSING_DEFAULT_VALUE",
                        path,
                        format!(
                            "The field '{}' at path '{path}' in the {{reader}} schema has no default value and is missing in the {{writer}} schema",
                            rf.name
                        ),
                        rf.name.clone(),
                    );
                }
                None => {}
            }
            path.truncate(len);
        }
        self.seen.remove(&key);
    }
}

/// The writer's field a reader field reads: same name, or one of the reader field's aliases.
fn writer_field<'w>(rf: &RecordField, wr: &'w RecordSchema) -> Option<&'w RecordField> {
    // Not `wr.lookup`: apache-avro indexes the writer's aliases there too, and resolution
    // consults only the reader's.
    let by_name = |n: &str| wr.fields.iter().find(|f| f.name == n);
    by_name(&rf.name).or_else(|| rf.aliases.iter().flatten().find_map(|a| by_name(a)))
}

/// The specification's promotions: the writer's type may be read as the reader's.
fn promotes(w: &Shape, r: &Shape) -> bool {
    use Shape::*;
    matches!(
        (w, r),
        (Null, Null)
            | (Boolean, Boolean)
            | (Int, Int | Long | Float | Double)
            | (Long, Long | Float | Double)
            | (Float, Float | Double)
            | (Double, Double)
            | (Bytes, Bytes | String)
            | (String, String | Bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Arc<dyn ParsedSchema> {
        AvroFormat.parse(s, &[]).unwrap()
    }

    #[test]
    fn canonical_is_compact_and_ordered() {
        let p = parse(
            r#"{ "fields": [{"type": {"type": "string"}, "name": "a"}], "name": "R", "type": "record" }"#,
        );
        assert_eq!(
            p.canonical(),
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}"#
        );
        assert_eq!(parse(r#"{"type": "string"}"#).canonical(), r#""string""#);
    }

    #[test]
    fn normalized_uses_full_names() {
        let a = parse(
            r#"{"type":"record","name":"R","namespace":"x.y","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}},{"name":"f","type":"E"}]}"#,
        );
        let b = parse(
            r#"{"type":"record","name":"x.y.R","fields":[{"name":"e","type":{"type":"enum","name":"x.y.E","symbols":["A"]}},{"name":"f","type":"x.y.E"}]}"#,
        );
        assert_ne!(a.canonical(), b.canonical());
        assert_eq!(a.normalized(), b.normalized());
    }

    #[test]
    fn validates_datums() {
        let p = parse(
            r#"{"type":"record","name":"R","fields":[{"name":"id","type":"long"},{"name":"tag","type":["null","string"]}]}"#,
        );
        let schema = p
            .as_any()
            .downcast_ref::<AvroSchema>()
            .unwrap()
            .schema()
            .clone();
        let value = apache_avro::types::Value::Record(vec![
            ("id".into(), apache_avro::types::Value::Long(42)),
            (
                "tag".into(),
                apache_avro::types::Value::Union(
                    1,
                    Box::new(apache_avro::types::Value::String("x".into())),
                ),
            ),
        ]);
        let good = apache_avro::to_avro_datum(&schema, value).unwrap();
        assert_eq!(p.validate(&good, PayloadOptions::default()), Ok(()));
        let mut long = good.clone();
        long.push(0);
        assert!(p
            .validate(&long, PayloadOptions::default())
            .unwrap_err()
            .0
            .contains("1 bytes left over"));
        assert!(
            p.validate(&good[..good.len() - 1], PayloadOptions::default())
                .is_err(),
            "truncated"
        );
        assert!(
            p.validate(&[0x54, 0x04], PayloadOptions::default())
                .is_err(),
            "union index 2 does not exist"
        );
        assert!(
            p.validate(&[0x54, 0x02, 0x02, 0xff], PayloadOptions::default())
                .is_err(),
            "string is not UTF-8"
        );
    }

    #[test]
    fn validates_json_datums() {
        let p = parse(
            r#"{"type":"record","name":"Order","namespace":"shop","fields":[
                {"name":"id","type":"long"},
                {"name":"note","type":["null","string"],"default":null},
                {"name":"state","type":{"type":"enum","name":"State","symbols":["NEW","PAID"]}},
                {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[
                    {"name":"sku","type":"string"},{"name":"qty","type":"int"}]}}},
                {"name":"tags","type":{"type":"map","values":"string"},"default":{}},
                {"name":"hash","type":["null",{"type":"fixed","name":"Hash","size":2}],"default":null},
                {"name":"paid","type":["null","Line","double"],"default":null}]}"#,
        );
        let json = PayloadOptions {
            json: true,
            ..PayloadOptions::default()
        };
        let strict = PayloadOptions {
            json: true,
            allow_unknown_fields: false,
        };
        let check = |text: &str, o: PayloadOptions| p.validate(text.as_bytes(), o).map_err(|e| e.0);
        let base = r#""id":1,"state":"NEW","lines":[{"sku":"a","qty":2}]"#;
        // Plain JSON: defaults may be left out, union values bare.
        assert_eq!(check(&format!("{{{base}}}"), json), Ok(()));
        assert_eq!(
            check(&format!(r#"{{{base},"note":"hi","paid":2.5}}"#), json),
            Ok(())
        );
        assert_eq!(
            check(&format!(r#"{{{base},"paid":{{"sku":"b","qty":1}}}}"#), json),
            Ok(())
        );
        // The JSON encoding: union values wrapped in their branch's name (full or simple).
        assert_eq!(
            check(
                &format!(r#"{{{base},"note":{{"string":"hi"}},"hash":{{"shop.Hash":"ab"}}}}"#),
                json
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &format!(r#"{{{base},"paid":{{"Line":{{"sku":"b","qty":1}}}}}}"#),
                json
            ),
            Ok(())
        );
        // What is not a datum of it, and where.
        let e = check(r#"{"id":1,"state":"NEW"}"#, json).unwrap_err();
        assert!(e.contains("/lines is missing and has no default"), "{e}");
        let e = check(
            &format!(r#"{{{base},"state":"LOST"}}"#).replace(r#""state":"NEW","#, ""),
            json,
        )
        .unwrap_err();
        assert!(e.contains("'LOST', not a symbol of shop.State"), "{e}");
        let e = check(
            r#"{"id":1,"state":"NEW","lines":[{"sku":"a","qty":3000000000}]}"#,
            json,
        )
        .unwrap_err();
        assert!(
            e.contains("/lines/0/qty is 3000000000, which does not fit an int"),
            "{e}"
        );
        let e = check(&format!(r#"{{{base},"hash":"abc"}}"#), json).unwrap_err();
        assert!(e.contains("/hash matches no branch"), "{e}");
        let e = check(
            &format!(r#"{{{base},"id":"1"}}"#).replace(r#""id":1,"#, ""),
            json,
        )
        .unwrap_err();
        assert!(e.contains("/id is a string, not long"), "{e}");
        // Fields it does not declare: ignored, or refused when asked.
        let extra = format!(r#"{{{base},"coupon":"X"}}"#);
        assert_eq!(check(&extra, json), Ok(()));
        assert!(check(&extra, strict)
            .unwrap_err()
            .contains("/coupon is no field of shop.Order"));
        assert!(check("{not json", json).unwrap_err().contains("not JSON"));
    }

    #[test]
    fn json_datums_of_nested_unions_are_checked_within_a_budget() {
        // Each level's value fits two branches (the record and the map), and the bottom fits
        // none: bare values tried branch after branch would take 2^40 steps; the budget stops
        // the walk.
        let p = parse(
            r#"{"type":"record","name":"N","fields":[{"name":"a","type":["null","N",{"type":"map","values":["null","N"]}]}]}"#,
        );
        let json = PayloadOptions {
            json: true,
            ..PayloadOptions::default()
        };
        let mut deep = String::from("5");
        for _ in 0..40 {
            deep = format!(r#"{{"a":{deep}}}"#);
        }
        let started = std::time::Instant::now();
        let e = p.validate(deep.as_bytes(), json).unwrap_err().0;
        assert!(e.contains("too complex"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // The same shape a few levels deep is simply judged.
        let shallow = r#"{"a":{"a":{"a":null}}}"#;
        assert_eq!(p.validate(shallow.as_bytes(), json), Ok(()));
    }

    #[test]
    fn rejects_what_the_spec_forbids() {
        for bad in [
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"long"}]}"#,
            r#"{"type":"record","name":"1R","fields":[]}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"a-b","type":"int"}]}"#,
            r#"{"type":"enum","name":"E","symbols":["A","A"]}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":["null","string"],"default":5}]}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"Missing"}]}"#,
            r#"{"type":"nope"}"#,
            r#"not json"#,
        ] {
            assert!(AvroFormat.parse(bad, &[]).is_err(), "accepted {bad}");
        }
    }

    /// A zig-zag varint.
    fn long(v: i64) -> Vec<u8> {
        let mut n = ((v << 1) ^ (v >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    fn check(p: &Arc<dyn ParsedSchema>, datum: &[u8]) -> Result<(), InvalidPayload> {
        p.validate(datum, PayloadOptions::default())
    }

    /// Issue 9, items 2, 3, 4 and 12, at the layer the proxy calls.
    #[test]
    fn hostile_datums_are_answered_without_exhausting_anything() {
        // 3: a map declaring 2^29 entries in six bytes: refused, nothing reserved.
        let map = parse(r#"{"type":"map","values":"int"}"#);
        let bomb = [0x80, 0x80, 0x80, 0x80, 0x04, 0x02, 0x61, 0x02];
        assert!(check(&map, &bomb).unwrap_err().0.contains("declares"));
        let array = parse(r#"{"type":"array","items":"long"}"#);
        assert!(check(&array, &[0x80, 0x80, 0x80, 0x80, 0x04, 0x02]).is_err());
        // 4: twenty million zero-byte items in five bytes are valid, read a block at a time.
        let nulls = parse(r#"{"type":"array","items":"null"}"#);
        let mut twenty_million = long(20_000_000);
        twenty_million.push(0);
        assert_eq!(check(&nulls, &twenty_million), Ok(()));
        // 12: a type recursing through itself validates.
        let list = parse(
            r#"{"type":"record","name":"L","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"]}]}"#,
        );
        let mut deep = Vec::new();
        for _ in 0..100_000 {
            deep.extend(long(7));
            deep.extend(long(1));
        }
        deep.extend(long(7));
        deep.extend(long(0));
        assert_eq!(check(&list, &deep), Ok(()));
        assert!(check(&list, &deep[..deep.len() - 1]).is_err());
        // 2: recursion through a reference, far deeper than any stack.
        let node =
            r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#;
        let holder = AvroFormat
            .parse(
                r#"{"type":"record","name":"Holder","fields":[{"name":"head","type":"Node"}]}"#,
                &[ResolvedReference {
                    name: "Node".into(),
                    schema_type: SchemaType::Avro,
                    schema: node.into(),
                }],
            )
            .unwrap();
        let mut chain = vec![2u8; 1_000_000];
        chain.push(0);
        assert_eq!(check(&holder, &chain), Ok(()));
        assert!(check(&holder, &chain[..chain.len() - 1]).is_err());
    }

    /// Issue 9, item 5: a 100,000-symbol enum compared with itself minus one symbol (linear:
    /// this took half a minute when the comparison was quadratic).
    #[test]
    fn large_enums_compare_in_linear_time() {
        let symbols: Vec<String> = (0..100_000).map(|i| format!("S{i}")).collect();
        let all = parse(
            &serde_json::json!({"type": "enum", "name": "E", "symbols": symbols}).to_string(),
        );
        let fewer = parse(
            &serde_json::json!({"type": "enum", "name": "E", "symbols": symbols[1..]}).to_string(),
        );
        assert!(fewer.read_incompatibilities(all.as_ref()).len() == 1);
        assert!(all.read_incompatibilities(fewer.as_ref()).is_empty());
    }
}
