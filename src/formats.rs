//! Schema formats behind one trait. A format parses text into a [`ParsedSchema`], which knows its
//! canonical and normalized text and answers the one question compatibility is built on: what
//! breaks when it reads data written with another schema.

use std::any::Any;
use std::borrow::Cow;
use std::sync::Arc;

use crate::types::SchemaType;

pub mod avro;
pub mod json;
pub mod protobuf;

/// A referenced schema, resolved to its text. Lists of these are in dependency order: a
/// schema comes after the schemas it references.
#[derive(Debug, Clone)]
pub struct ResolvedReference {
    /// The name the referring schema uses for it.
    pub name: String,
    pub schema_type: SchemaType,
    pub schema: String,
}

/// Why a schema was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSchema(pub String);

/// Why a payload does not match its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPayload(pub String);

/// One reason a reader schema cannot read data written with a writer schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incompatibility {
    /// A stable name for the kind of problem, e.g. `READER_FIELD_MISSING_DEFAULT_VALUE`.
    pub kind: &'static str,
    /// JSON-pointer-like location in the reader schema, e.g. `/fields/2/type`.
    pub path: String,
    /// Human text; `{reader}` and `{writer}` stand for the two schemas' roles, which the
    /// compatibility layer names (`new` / `old`) per direction.
    pub description: String,
    /// Extra detail, such as the field or symbol concerned.
    pub info: String,
}

/// How strictly a payload is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadOptions {
    /// Accept fields the schema does not declare (written by a newer producer): Protobuf, and
    /// Avro records given as JSON.
    pub allow_unknown_fields: bool,
    /// The datum is the format's JSON form rather than its binary encoding: Avro's JSON
    /// encoding (a union's value may also be given bare), Protobuf's JSON mapping of the
    /// schema's first message. (A JSON Schema datum is JSON either way.)
    pub json: bool,
}

impl Default for PayloadOptions {
    fn default() -> Self {
        Self {
            allow_unknown_fields: true,
            json: false,
        }
    }
}

/// A schema that parsed and validated.
pub trait ParsedSchema: Send + Sync + std::fmt::Debug + 'static {
    fn schema_type(&self) -> SchemaType;
    /// The text stored and served back.
    fn canonical(&self) -> &str;
    /// The text identity is hashed from: two inputs with the same identity are the same schema
    /// (one id). Usually the canonical text; Protobuf renders its descriptor, so that `.proto`
    /// text and a serialized descriptor of one file are one schema.
    fn identity(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.canonical())
    }
    /// The schema rendered in a named alternative form (`format=` on reads), when this format
    /// has it: Protobuf `serialized` is the base64 `FileDescriptorProto`.
    fn render(&self, _format: &str) -> Option<String> {
        None
    }
    /// The text compared and stored when `normalize=true`.
    fn normalized(&self) -> String;
    /// What breaks when `self` reads data written with `writer` (of the same type).
    fn read_incompatibilities(&self, writer: &dyn ParsedSchema) -> Vec<Incompatibility>;

    /// The field names a `confluent:reserved` metadata property is checked against: an Avro
    /// record's fields, a JSON schema's top-level properties, the fields of every Protobuf
    /// message.
    fn field_names(&self) -> Vec<String> {
        Vec::new()
    }
    /// Checks one encoded datum (without the Confluent framing) against this schema: it must
    /// decode completely, with nothing left over. The proxy calls this per message. Protobuf
    /// payloads start with the Confluent message-index path.
    fn validate(&self, datum: &[u8], options: PayloadOptions) -> Result<(), InvalidPayload>;
    /// Whether [`ParsedSchema::validate`] would first do work of the size of a parse (a JSON
    /// schema compiles its validator on first use, so schemas kept for registration and
    /// compatibility do not hold it); then [`ParsedSchema::prepare_validation`] does it ahead,
    /// where heavy work belongs.
    fn needs_preparation(&self) -> bool {
        false
    }
    fn prepare_validation(&self) {}
    fn as_any(&self) -> &dyn Any;
}

/// A schema format.
pub trait Format: Send + Sync {
    fn schema_type(&self) -> SchemaType;
    /// Parses and validates `schema` given its references (transitively resolved).
    fn parse(
        &self,
        schema: &str,
        references: &[ResolvedReference],
    ) -> Result<Arc<dyn ParsedSchema>, InvalidSchema>;
}

/// The formats this build supports.
pub struct Formats {
    formats: Vec<Box<dyn Format>>,
}

impl Default for Formats {
    fn default() -> Self {
        Self {
            formats: vec![
                Box::new(avro::AvroFormat),
                Box::new(protobuf::ProtobufFormat),
                Box::new(json::JsonFormat),
            ],
        }
    }
}

impl Formats {
    pub fn get(&self, t: SchemaType) -> Option<&dyn Format> {
        self.formats
            .iter()
            .find(|f| f.schema_type() == t)
            .map(|f| f.as_ref())
    }

    pub fn supported(&self) -> Vec<SchemaType> {
        SchemaType::ALL
            .into_iter()
            .filter(|t| self.get(*t).is_some())
            .collect()
    }

    pub fn parse(
        &self,
        t: SchemaType,
        schema: &str,
        references: &[ResolvedReference],
    ) -> Result<Arc<dyn ParsedSchema>, InvalidSchema> {
        let format = self
            .get(t)
            .ok_or_else(|| InvalidSchema(format!("Invalid schema type {t}")))?;
        format.parse(schema, references)
    }
}
