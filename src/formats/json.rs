//! JSON Schema: drafts 4, 6, 7 (the default), 2019-09 and 2020-12, chosen by `$schema`. The
//! jsonschema crate checks a schema against its meta-schema and compiles the validator payloads
//! are checked with; references are other subjects' schemas, registered under the reference's
//! name (the `$ref` URL). Compatibility follows the Confluent JSON-Schema rules ([`compat`]).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use jsonschema::{Draft, Registry, Resource, Validator};
use serde_json::{Map, Value};

use super::{
    Format, Incompatibility, InvalidPayload, InvalidSchema, ParsedSchema, PayloadOptions,
    ResolvedReference,
};
use crate::types::SchemaType;

mod compat;
mod shape;

/// Where relative `$ref`s resolve when a schema has no `$id` (the jsonschema crate's default).
const DEFAULT_BASE: &str = "json-schema:///";

pub struct JsonFormat;

/// A JSON schema that passed its meta-schema and compiled. The compiled validator keeps two
/// more copies of large keywords (an enum's values), so it is dropped after the parse's check
/// and compiled again on the first payload: registration and compatibility never need it.
pub struct JsonSchema {
    value: Value,
    canonical: String,
    draft: Draft,
    /// Referenced documents by reference name, for the compatibility walk and the validator.
    references: Arc<HashMap<String, Value>>,
    validator: OnceLock<Result<Validator, InvalidSchema>>,
}

/// Compiles the validator of a schema with its referenced documents (by reference name).
fn compile(
    value: &Value,
    draft: Draft,
    documents: &HashMap<String, Value>,
) -> Result<Validator, InvalidSchema> {
    let base = value.get("$id").and_then(Value::as_str);
    let mut resources = Vec::new();
    for (name, doc) in documents {
        for uri in reference_uris(name, base) {
            resources.push((uri, Resource::from_contents(doc.clone())));
        }
    }
    let registry = Registry::new()
        .draft(draft)
        .extend(resources)
        .and_then(|b| b.prepare())
        .map_err(|e| InvalidSchema(format!("references: {e}")))?;
    jsonschema::options()
        .with_draft(draft)
        .with_registry(&registry)
        .build(value)
        .map_err(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                InvalidSchema(format!("Invalid schema: {e}"))
            } else {
                InvalidSchema(format!("Invalid schema at {at}: {e}"))
            }
        })
}

impl std::fmt::Debug for JsonSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonSchema")
            .field("schema", &self.canonical)
            .finish_non_exhaustive()
    }
}

impl JsonSchema {
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The compiled validator, compiled on first use.
    fn validator(&self) -> &Result<Validator, InvalidSchema> {
        self.validator
            .get_or_init(|| compile(&self.value, self.draft, &self.references))
    }

    /// Checks a parsed JSON value; the bench uses this to time validation without parsing.
    pub fn validate_value(&self, value: &Value) -> Result<(), InvalidPayload> {
        let validator = self
            .validator()
            .as_ref()
            // It compiled when the schema was parsed: only a bug brings this.
            .map_err(|e| InvalidPayload(format!("the schema does not compile: {}", e.0)))?;
        validator.validate(value).map_err(|e| {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() { "/".to_owned() } else { at };
            InvalidPayload(format!("{e} (at {at})"))
        })
    }
}

/// The draft a schema declares with `$schema`; draft 7 when it declares none.
fn draft_of(schema: &Value) -> Result<Draft, InvalidSchema> {
    let Some(declared) = schema.get("$schema") else {
        return Ok(Draft::Draft7);
    };
    let Some(uri) = declared.as_str() else {
        return Err(InvalidSchema("$schema must be a string".into()));
    };
    let bare = uri
        .trim_end_matches('#')
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    match bare {
        "json-schema.org/draft-04/schema" => Ok(Draft::Draft4),
        "json-schema.org/draft-06/schema" => Ok(Draft::Draft6),
        "json-schema.org/draft-07/schema" => Ok(Draft::Draft7),
        "json-schema.org/draft/2019-09/schema" => Ok(Draft::Draft201909),
        "json-schema.org/draft/2020-12/schema" => Ok(Draft::Draft202012),
        _ => Err(InvalidSchema(format!(
            "unknown $schema '{uri}': supported are drafts 4, 6, 7, 2019-09 and 2020-12"
        ))),
    }
}

fn parse_json(name: &str, text: &str) -> Result<Value, InvalidSchema> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| InvalidSchema(format!("{name}: invalid JSON: {e}")))?;
    if !value.is_object() && !value.is_boolean() {
        return Err(InvalidSchema(format!(
            "{name}: a JSON schema must be an object or a boolean"
        )));
    }
    Ok(value)
}

/// The URIs a reference is known by: its name as an absolute URI, or resolved against the
/// default base and the referring schema's `$id`.
fn reference_uris(name: &str, base: Option<&str>) -> Vec<String> {
    if name.contains("://") || name.starts_with("urn:") {
        return vec![name.to_owned()];
    }
    let mut out = vec![format!("{DEFAULT_BASE}{}", name.trim_start_matches('/'))];
    if let Some(base) = base {
        if let Some(cut) = base.rfind('/') {
            out.push(format!("{}/{}", &base[..cut], name.trim_start_matches('/')));
        }
    }
    out
}

impl Format for JsonFormat {
    fn schema_type(&self) -> SchemaType {
        SchemaType::Json
    }

    fn parse(
        &self,
        schema: &str,
        references: &[ResolvedReference],
    ) -> Result<Arc<dyn ParsedSchema>, InvalidSchema> {
        let value = parse_json("schema", schema)?;
        let draft = draft_of(&value)?;
        let mut documents = HashMap::new();
        for r in references {
            if r.schema_type != SchemaType::Json {
                return Err(InvalidSchema(format!(
                    "reference '{}' is a {} schema; a JSON schema can only reference JSON schemas",
                    r.name, r.schema_type
                )));
            }
            let doc = parse_json(&r.name, &r.schema)?;
            draft_of(&doc)?;
            documents.insert(r.name.clone(), doc);
        }
        // Compiled to check the schema, then dropped (see [`JsonSchema`]).
        compile(&value, draft, &documents)?;
        Ok(Arc::new(JsonSchema {
            canonical: value.to_string(),
            value,
            draft,
            references: Arc::new(documents),
            validator: OnceLock::new(),
        }))
    }
}

/// Keys sorted at every level; arrays keep their order.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::with_capacity(m.len());
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

impl ParsedSchema for JsonSchema {
    fn schema_type(&self) -> SchemaType {
        SchemaType::Json
    }

    fn canonical(&self) -> &str {
        &self.canonical
    }

    fn normalized(&self) -> String {
        sorted(&self.value).to_string()
    }

    fn field_names(&self) -> Vec<String> {
        self.value
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn read_incompatibilities(&self, writer: &dyn ParsedSchema) -> Vec<Incompatibility> {
        let Some(writer) = writer.as_any().downcast_ref::<JsonSchema>() else {
            return vec![Incompatibility {
                kind: "TYPE_CHANGED",
                path: "#/".into(),
                description: "Incompatible because of different schema type".into(),
                info: String::new(),
            }];
        };
        compat::diff(
            compat::Document {
                root: &writer.value,
                references: &writer.references,
            },
            compat::Document {
                root: &self.value,
                references: &self.references,
            },
        )
    }

    fn validate(&self, datum: &[u8], _options: PayloadOptions) -> Result<(), InvalidPayload> {
        let value: Value =
            serde_json::from_slice(datum).map_err(|e| InvalidPayload(format!("not JSON: {e}")))?;
        self.validate_value(&value)
    }

    fn needs_preparation(&self) -> bool {
        self.validator.get().is_none()
    }

    fn prepare_validation(&self) {
        self.validator();
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Arc<dyn ParsedSchema>, InvalidSchema> {
        JsonFormat.parse(s, &[])
    }

    #[test]
    fn drafts_and_meta_schema() {
        for uri in [
            "http://json-schema.org/draft-04/schema#",
            "http://json-schema.org/draft-06/schema#",
            "http://json-schema.org/draft-07/schema#",
            "https://json-schema.org/draft/2019-09/schema",
            "https://json-schema.org/draft/2020-12/schema",
        ] {
            parse(&format!(r#"{{"$schema":"{uri}","type":"object"}}"#)).unwrap();
        }
        let e = parse(r#"{"$schema":"http://example.com/x","type":"object"}"#).unwrap_err();
        assert!(e.0.contains("unknown $schema"), "{e}");
        let e = parse(r#"{"type":"objekt"}"#).unwrap_err();
        assert!(e.0.starts_with("Invalid schema"), "{e}");
        let e = parse(r#"{"type":"string","minLength":-1}"#).unwrap_err();
        assert!(e.0.contains("minLength"), "{e}");
        assert!(
            parse(r#"{"$ref":"other.json"}"#).is_err(),
            "unresolved $ref"
        );
        assert!(parse("[1]").is_err());
        assert!(parse("{").is_err());
    }

    #[test]
    fn references_resolve_by_name() {
        let addr = ResolvedReference {
            name: "address.json".into(),
            schema_type: SchemaType::Json,
            schema:
                r#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#
                    .into(),
        };
        let p = JsonFormat
            .parse(
                r#"{"type":"object","properties":{"home":{"$ref":"address.json"}}}"#,
                &[addr],
            )
            .unwrap();
        let opts = PayloadOptions::default();
        assert_eq!(p.validate(br#"{"home":{"city":"Oslo"}}"#, opts), Ok(()));
        let e = p.validate(br#"{"home":{}}"#, opts).unwrap_err();
        assert!(e.0.contains("/home"), "{e}");
        assert!(p.validate(b"{", opts).is_err());
    }

    #[test]
    fn normalized_sorts_keys() {
        let a = parse(r#"{"type":"object","properties":{"b":{"type":"string"},"a":{}}}"#).unwrap();
        let b = parse(r#"{"properties":{"a":{},"b":{"type":"string"}},"type":"object"}"#).unwrap();
        assert_ne!(a.canonical(), b.canonical());
        assert_eq!(a.normalized(), b.normalized());
    }
}
