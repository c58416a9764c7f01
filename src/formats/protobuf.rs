//! Protobuf: `.proto` source (proto2 and proto3) compiled with protox, or the base64 serialized
//! `FileDescriptorProto` some clients send instead; both become prost-reflect descriptors.
//! Imports resolve through references (by import path), then the well-known types and a few
//! common types bundled here, as the Confluent registry does. Identity is the descriptor
//! rendered back to text ([`print`]), so the two input forms of one file are one schema.

use std::any::Any;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use miette::Diagnostic;
use prost::Message;
use prost_reflect::{
    Cardinality, DescriptorPool, DynamicMessage, FileDescriptor, MessageDescriptor, ReflectMessage,
};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use super::{
    Format, Incompatibility, InvalidPayload, InvalidSchema, ParsedSchema, PayloadOptions,
    ResolvedReference,
};
use crate::types::SchemaType;

mod compat;
mod print;

/// The file name a schema sent as text compiles under (text carries no name of its own).
pub const DEFAULT_FILE_NAME: &str = "default.proto";

/// Common files that resolve without a reference, as they do in the Confluent registry.
const COMMON_FILES: &[(&str, &str)] = &[
    (
        "confluent/meta.proto",
        include_str!("protobuf/common/confluent/meta.proto"),
    ),
    (
        "confluent/type/decimal.proto",
        include_str!("protobuf/common/confluent/type/decimal.proto"),
    ),
    (
        "confluent/type/variant.proto",
        include_str!("protobuf/common/confluent/type/variant.proto"),
    ),
    (
        "google/type/calendar_period.proto",
        include_str!("protobuf/common/google/type/calendar_period.proto"),
    ),
    (
        "google/type/color.proto",
        include_str!("protobuf/common/google/type/color.proto"),
    ),
    (
        "google/type/date.proto",
        include_str!("protobuf/common/google/type/date.proto"),
    ),
    (
        "google/type/datetime.proto",
        include_str!("protobuf/common/google/type/datetime.proto"),
    ),
    (
        "google/type/dayofweek.proto",
        include_str!("protobuf/common/google/type/dayofweek.proto"),
    ),
    (
        "google/type/decimal.proto",
        include_str!("protobuf/common/google/type/decimal.proto"),
    ),
    (
        "google/type/expr.proto",
        include_str!("protobuf/common/google/type/expr.proto"),
    ),
    (
        "google/type/fraction.proto",
        include_str!("protobuf/common/google/type/fraction.proto"),
    ),
    (
        "google/type/interval.proto",
        include_str!("protobuf/common/google/type/interval.proto"),
    ),
    (
        "google/type/latlng.proto",
        include_str!("protobuf/common/google/type/latlng.proto"),
    ),
    (
        "google/type/money.proto",
        include_str!("protobuf/common/google/type/money.proto"),
    ),
    (
        "google/type/month.proto",
        include_str!("protobuf/common/google/type/month.proto"),
    ),
    (
        "google/type/phone_number.proto",
        include_str!("protobuf/common/google/type/phone_number.proto"),
    ),
    (
        "google/type/postal_address.proto",
        include_str!("protobuf/common/google/type/postal_address.proto"),
    ),
    (
        "google/type/quaternion.proto",
        include_str!("protobuf/common/google/type/quaternion.proto"),
    ),
    (
        "google/type/timeofday.proto",
        include_str!("protobuf/common/google/type/timeofday.proto"),
    ),
];

/// Whether an import path resolves without a reference.
pub fn is_builtin(name: &str) -> bool {
    GoogleFileResolver::new().open_file(name).is_ok()
        || COMMON_FILES.iter().any(|(n, _)| *n == name)
}

pub struct ProtobufFormat;

/// A compiled Protobuf file.
pub struct ProtobufSchema {
    file: FileDescriptor,
    canonical: String,
    rendered: String,
    /// Whether any message in the file's pool has a proto2 `required` field.
    has_required: bool,
    /// Comments of a schema sent as text, by descriptor source path (e.g. `[4, 0, 2, 1]` is the
    /// second field of the first message); empty for a serialized descriptor.
    comments: HashMap<Vec<i32>, String>,
}

impl std::fmt::Debug for ProtobufSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtobufSchema")
            .field("file", &self.file.name())
            .finish_non_exhaustive()
    }
}

impl ProtobufSchema {
    pub fn file(&self) -> &FileDescriptor {
        &self.file
    }

    /// The comment attached to the element at a descriptor source path, if any.
    pub fn comment(&self, path: &[i32]) -> Option<&str> {
        self.comments.get(path).map(String::as_str)
    }

    /// The message a Confluent message-index path names: the first index picks a top-level
    /// message, each further one a nested message of the previous.
    pub fn message_at(&self, indexes: &[i32]) -> Option<MessageDescriptor> {
        let (first, rest) = indexes.split_first().unwrap_or((&0, &[]));
        let mut m = self.file.messages().nth(usize::try_from(*first).ok()?)?;
        for i in rest {
            let next = m.child_messages().nth(usize::try_from(*i).ok()?)?;
            m = next;
        }
        Some(m)
    }
}

/// How deep braces (declarations, option values) and angle brackets (text-format values) may
/// nest in a `.proto` file. The compiler's text-format parser recurses once per level with no
/// limit of its own, so a few kilobytes of nesting would overflow the stack: the text is
/// measured before anything parses it.
const MAX_NESTING: usize = 64;

/// The line where `text` first nests deeper than [`MAX_NESTING`], outside strings and comments.
fn too_deep(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let (mut depth, mut line, mut i) = (0usize, 1usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'\n' => line += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    line += usize::from(b[i] == b'\n');
                    i += 1;
                }
                i += 2;
                continue;
            }
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'<' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(line);
                }
            }
            b'}' | b'>' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// One input file: compiled from text, or decoded from a serialized descriptor.
enum Source {
    Text(String),
    Descriptor(bytes::Bytes),
}

impl Source {
    fn of(schema: &str) -> Source {
        match decode_base64_descriptor(schema) {
            Some(bytes) => Source::Descriptor(bytes),
            None => Source::Text(schema.to_owned()),
        }
    }
}

/// The bytes of a serialized `FileDescriptorProto`, when `schema` is one in base64.
fn decode_base64_descriptor(schema: &str) -> Option<bytes::Bytes> {
    let t = schema.trim();
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(t).ok()?;
    prost_types::FileDescriptorProto::decode(bytes.as_slice()).ok()?;
    Some(bytes.into())
}

/// The files of one compilation, by import path.
#[derive(Default)]
struct Sources {
    files: HashMap<String, File>,
    texts: HashMap<String, String>,
}

impl Sources {
    /// Adds a file under `name`; its text is kept for error locations.
    fn add(&mut self, name: &str, source: Source) -> Result<(), InvalidSchema> {
        let file = match source {
            Source::Text(text) => {
                if let Some(line) = too_deep(&text) {
                    return Err(InvalidSchema(format!(
                        "{name}:{line}: nested more than {MAX_NESTING} levels deep"
                    )));
                }
                self.texts.insert(name.to_owned(), text.clone());
                File::from_source(name, &text).map_err(|e| self.describe(&e))?
            }
            Source::Descriptor(bytes) => {
                let mut proto = prost_types::FileDescriptorProto::decode(bytes.as_ref())
                    .map_err(|e| InvalidSchema(format!("{name}: not a file descriptor: {e}")))?;
                // The name given to the reference wins, so imports of it resolve.
                if proto.name() != name {
                    proto.name = Some(name.to_owned());
                    File::from_file_descriptor_proto(proto)
                } else {
                    File::decode_file_descriptor_proto(bytes)
                        .map_err(|e| InvalidSchema(format!("{name}: not a file descriptor: {e}")))?
                }
            }
        };
        self.files.insert(name.to_owned(), file);
        Ok(())
    }

    /// The compiler's message with the file, line and column it points at.
    fn describe(&self, e: &protox::Error) -> InvalidSchema {
        let message = e.to_string();
        let Some(file) = e.file() else {
            return InvalidSchema(message);
        };
        let offset = e
            .labels()
            .and_then(|mut labels| labels.next())
            .map(|l| l.offset());
        match (offset, self.texts.get(file)) {
            (Some(offset), Some(text)) => {
                let (line, column) = line_column(text, offset);
                InvalidSchema(format!("{file}:{line}:{column}: {message}"))
            }
            _ => InvalidSchema(format!("{file}: {message}")),
        }
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

struct SourcesResolver(Arc<HashMap<String, File>>);

impl FileResolver for SourcesResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| protox::Error::file_not_found(name))
    }
}

/// Compiles `name` against `files`, the well-known and common files, and an empty stub for
/// any other import (its name recorded in `stubbed`).
fn compile(
    files: Arc<HashMap<String, File>>,
    name: &str,
    stubbed: Arc<std::sync::Mutex<Vec<String>>>,
) -> Result<protox::Compiler, protox::Error> {
    let mut resolver = ChainFileResolver::new();
    resolver.add(SourcesResolver(files));
    resolver.add(GoogleFileResolver::new());
    resolver.add(CommonResolver);
    resolver.add(StubResolver(stubbed));
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler.open_file(name)?;
    Ok(compiler)
}

/// The pool's files as an encoded `FileDescriptorSet`, extension options kept and each file's
/// `source_code_info` (field 9) left out. protox's own `encode_file_descriptor_set` does this
/// through a `DynamicMessage` of every file, which for a large file costs more memory than the
/// compilation itself; dropping the field from the encoded bytes costs one copy.
fn encode_without_source_info(pool: &DescriptorPool) -> Result<Vec<u8>, String> {
    use prost::encoding::{decode_varint, encode_key, encode_varint, WireType};
    const SOURCE_CODE_INFO: u64 = 9;
    let mut set = Vec::new();
    for file in pool.files() {
        let bytes = file.encode_to_vec();
        let mut kept = Vec::with_capacity(bytes.len());
        let mut rest = bytes.as_slice();
        let varint = |rest: &mut &[u8]| decode_varint(rest).map_err(|e| e.to_string());
        while !rest.is_empty() {
            let start = rest;
            let key = varint(&mut rest)?;
            let skip = match key & 7 {
                0 => {
                    varint(&mut rest)?;
                    0
                }
                1 => 8,
                2 => usize::try_from(varint(&mut rest)?).map_err(|e| e.to_string())?,
                5 => 4,
                _ => return Err("unexpected wire type in a compiled file".into()),
            };
            if skip > rest.len() {
                return Err("a field runs past the end of a compiled file".into());
            }
            rest = &rest[skip..];
            if key >> 3 != SOURCE_CODE_INFO {
                kept.extend_from_slice(&start[..start.len() - rest.len()]);
            }
        }
        encode_key(1, WireType::LengthDelimited, &mut set);
        encode_varint(kept.len() as u64, &mut set);
        set.extend_from_slice(&kept);
    }
    Ok(set)
}

/// Any import not found elsewhere: an empty proto3 file.
struct StubResolver(Arc<std::sync::Mutex<Vec<String>>>);

impl FileResolver for StubResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        if let Ok(mut names) = self.0.lock() {
            names.push(name.to_owned());
        }
        File::from_source(name, "syntax = \"proto3\";\n")
    }
}

/// Removes every custom (extension) option a parsed file has not resolved yet.
fn strip_custom_options(file: &mut prost_types::FileDescriptorProto) {
    fn keep(list: &mut Vec<prost_types::UninterpretedOption>) {
        list.retain(|o| !o.name.iter().any(|part| part.is_extension));
    }
    fn message(m: &mut prost_types::DescriptorProto) {
        if let Some(o) = m.options.as_mut() {
            keep(&mut o.uninterpreted_option);
        }
        for f in m.field.iter_mut().chain(m.extension.iter_mut()) {
            if let Some(o) = f.options.as_mut() {
                keep(&mut o.uninterpreted_option);
            }
        }
        for o in &mut m.oneof_decl {
            if let Some(o) = o.options.as_mut() {
                keep(&mut o.uninterpreted_option);
            }
        }
        m.enum_type.iter_mut().for_each(enumeration);
        m.nested_type.iter_mut().for_each(message);
    }
    fn enumeration(e: &mut prost_types::EnumDescriptorProto) {
        if let Some(o) = e.options.as_mut() {
            keep(&mut o.uninterpreted_option);
        }
        for v in &mut e.value {
            if let Some(o) = v.options.as_mut() {
                keep(&mut o.uninterpreted_option);
            }
        }
    }
    if let Some(o) = file.options.as_mut() {
        keep(&mut o.uninterpreted_option);
    }
    file.message_type.iter_mut().for_each(message);
    file.enum_type.iter_mut().for_each(enumeration);
    for f in &mut file.extension {
        if let Some(o) = f.options.as_mut() {
            keep(&mut o.uninterpreted_option);
        }
    }
    for svc in &mut file.service {
        if let Some(o) = svc.options.as_mut() {
            keep(&mut o.uninterpreted_option);
        }
        for m in &mut svc.method {
            if let Some(o) = m.options.as_mut() {
                keep(&mut o.uninterpreted_option);
            }
        }
    }
}

struct CommonResolver;

impl FileResolver for CommonResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match COMMON_FILES.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => File::from_source(n, text),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

impl Format for ProtobufFormat {
    fn schema_type(&self) -> SchemaType {
        SchemaType::Protobuf
    }

    fn parse(
        &self,
        schema: &str,
        references: &[ResolvedReference],
    ) -> Result<Arc<dyn ParsedSchema>, InvalidSchema> {
        let mut sources = Sources::default();
        for r in references {
            if r.schema_type != SchemaType::Protobuf {
                return Err(InvalidSchema(format!(
                    "reference '{}' is a {} schema; a Protobuf import must be Protobuf",
                    r.name, r.schema_type
                )));
            }
            sources.add(&r.name, Source::of(&r.schema))?;
        }
        let source = Source::of(schema);
        let name = match &source {
            Source::Descriptor(bytes) => prost_types::FileDescriptorProto::decode(bytes.as_ref())
                .ok()
                .and_then(|p| p.name)
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| DEFAULT_FILE_NAME.to_owned()),
            Source::Text(_) => DEFAULT_FILE_NAME.to_owned(),
        };
        if sources.files.contains_key(&name) {
            return Err(InvalidSchema(format!(
                "a reference is named '{name}', the name of the schema itself"
            )));
        }
        let is_text = matches!(source, Source::Text(_));
        sources.add(&name, source)?;
        let texts = std::mem::take(&mut sources.texts);
        let files = Arc::new(std::mem::take(&mut sources.files));
        let sources = Sources {
            files: HashMap::new(),
            texts,
        };

        // As the reference registry validates by default, only type names must resolve: an
        // import no reference names compiles as an empty file (a type used from it is still
        // an error), and custom options whose extension is defined nowhere are dropped from
        // the compiled form when they are all that stops it compiling.
        let stubbed = Arc::new(std::sync::Mutex::new(Vec::new()));
        let compiler = match compile(files.clone(), &name, stubbed.clone()) {
            Ok(c) => c,
            Err(e) => {
                let stripped: HashMap<String, File> = files
                    .iter()
                    .map(|(n, f)| match f.source() {
                        Some(_) => {
                            let mut proto = f.file_descriptor_proto().clone();
                            strip_custom_options(&mut proto);
                            (n.clone(), File::from_file_descriptor_proto(proto))
                        }
                        None => (n.clone(), f.clone()),
                    })
                    .collect();
                match compile(Arc::new(stripped), &name, Arc::default()) {
                    Ok(c) => c,
                    Err(_) => {
                        let mut err = sources.describe(&e);
                        let missing = stubbed.lock().map(|m| m.clone()).unwrap_or_default();
                        if !missing.is_empty() {
                            err.0.push_str(&format!(
                                " (imports no reference names: {})",
                                missing.join(", ")
                            ));
                        }
                        return Err(err);
                    }
                }
            }
        };
        // Through the encoded set: source info dropped, extension options kept.
        let set = encode_without_source_info(&compiler.descriptor_pool())
            .map_err(|e| InvalidSchema(format!("{name}: {e}")))?;
        drop(compiler);
        let pool = DescriptorPool::decode(set.as_slice())
            .map_err(|e| InvalidSchema(format!("{name}: {e}")))?;
        let file = pool
            .get_file_by_name(&name)
            .ok_or_else(|| InvalidSchema(format!("{name}: not compiled")))?;
        let rendered = print::render(&file, false);
        let canonical = match (is_text, schema.trim()) {
            (true, text) => text.to_owned(),
            (false, _) => print::render_spaced(&file, false),
        };
        let comments = if is_text {
            comments_of(&name, schema)
        } else {
            HashMap::new()
        };
        let has_required = pool
            .all_messages()
            .any(|m| m.fields().any(|f| f.cardinality() == Cardinality::Required));
        Ok(Arc::new(ProtobufSchema {
            has_required,
            comments,
            file,
            canonical,
            rendered,
        }))
    }
}

impl ParsedSchema for ProtobufSchema {
    fn schema_type(&self) -> SchemaType {
        SchemaType::Protobuf
    }

    fn canonical(&self) -> &str {
        &self.canonical
    }

    fn identity(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.rendered)
    }

    fn normalized(&self) -> String {
        print::render_spaced(&self.file, true)
    }

    fn render(&self, format: &str) -> Option<String> {
        match format {
            // Encoded from the pool, so extension options survive.
            "serialized" => {
                Some(base64::engine::general_purpose::STANDARD.encode(self.file.encode_to_vec()))
            }
            _ => None,
        }
    }

    fn field_names(&self) -> Vec<String> {
        fn walk(m: &MessageDescriptor, out: &mut Vec<String>) {
            out.extend(m.fields().map(|f| f.name().to_owned()));
            for child in m.child_messages().filter(|c| !c.is_map_entry()) {
                walk(&child, out);
            }
        }
        let mut out = Vec::new();
        for m in self.file.messages() {
            walk(&m, &mut out);
        }
        out.sort();
        out.dedup();
        out
    }

    fn read_incompatibilities(&self, writer: &dyn ParsedSchema) -> Vec<Incompatibility> {
        let Some(writer) = writer.as_any().downcast_ref::<ProtobufSchema>() else {
            return vec![Incompatibility {
                kind: "TYPE_MISMATCH",
                path: "#/".into(),
                description: "Incompatible because of different schema type".into(),
                info: String::new(),
            }];
        };
        compat::diff(&writer.file, &self.file)
    }

    fn validate(&self, datum: &[u8], options: PayloadOptions) -> Result<(), InvalidPayload> {
        if options.json {
            // The JSON mapping of the first message (what a payload without an index path is).
            let message = self
                .message_at(&[0])
                .ok_or_else(|| InvalidPayload("the schema declares no message".into()))?;
            let mut reader = serde_json::Deserializer::from_slice(datum);
            let how = prost_reflect::DeserializeOptions::new()
                .deny_unknown_fields(!options.allow_unknown_fields);
            let decoded = DynamicMessage::deserialize_with_options(message, &mut reader, &how)
                .and_then(|m| reader.end().map(|()| m))
                .map_err(|e| InvalidPayload(format!("not a message of this schema: {e}")))?;
            if self.has_required {
                check_message(&decoded, options, true)?;
            }
            return Ok(());
        }
        let (indexes, body) = read_message_indexes(datum)?;
        let message = self.message_at(&indexes).ok_or_else(|| {
            InvalidPayload(format!(
                "message index {indexes:?} names no message in the schema"
            ))
        })?;
        let decoded = DynamicMessage::decode(message, body)
            .map_err(|e| InvalidPayload(format!("not a message of this schema: {e}")))?;
        if !options.allow_unknown_fields || self.has_required {
            check_message(&decoded, options, self.has_required)?;
        }
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Leading (else trailing) comments of a source file by element path.
fn comments_of(name: &str, text: &str) -> HashMap<Vec<i32>, String> {
    let Ok(parsed) = protox_parse::parse(name, text) else {
        return HashMap::new();
    };
    let mut out = HashMap::new();
    for l in parsed
        .source_code_info
        .map(|s| s.location)
        .unwrap_or_default()
    {
        let comment = l
            .leading_comments
            .as_deref()
            .or(l.trailing_comments.as_deref())
            .map(str::trim)
            .filter(|c| !c.is_empty());
        if let Some(c) = comment {
            out.insert(l.path, c.to_owned());
        }
    }
    out
}

/// Splits the Confluent message-index path off a payload: a zig-zag varint count, then that
/// many zig-zag varint indexes; a count of zero means `[0]`.
pub fn read_message_indexes(datum: &[u8]) -> Result<(Vec<i32>, &[u8]), InvalidPayload> {
    let mut rest = datum;
    let count = read_zigzag(&mut rest)?;
    if count == 0 {
        return Ok((vec![0], rest));
    }
    if !(0..=64).contains(&count) {
        return Err(InvalidPayload(format!(
            "invalid message-index count {count} (0 to 64)"
        )));
    }
    let mut indexes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let i = read_zigzag(&mut rest)?;
        if i < 0 {
            return Err(InvalidPayload(format!("invalid message index {i}")));
        }
        indexes.push(i);
    }
    Ok((indexes, rest))
}

fn read_zigzag(buf: &mut &[u8]) -> Result<i32, InvalidPayload> {
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let Some((&b, rest)) = buf.split_first() else {
            return Err(InvalidPayload(
                "the payload ends inside its message-index prefix".into(),
            ));
        };
        *buf = rest;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            let v = value as u32;
            return Ok(((v >> 1) as i32) ^ -((v & 1) as i32));
        }
    }
    Err(InvalidPayload("message-index varint is too long".into()))
}

/// Refuses unknown fields (when asked to) and missing proto2 required fields, anywhere in the
/// message tree. Only message values are descended into; the path is built on the way out of
/// an error, so a valid message costs no allocation.
fn check_message(
    m: &DynamicMessage,
    options: PayloadOptions,
    required: bool,
) -> Result<(), InvalidPayload> {
    if !options.allow_unknown_fields {
        if let Some(u) = m.unknown_fields().next() {
            return Err(InvalidPayload(format!(
                "unknown field number {} in {}",
                u.number(),
                m.descriptor().full_name()
            )));
        }
    }
    if required {
        let desc = m.descriptor();
        for f in desc.fields() {
            if f.cardinality() == Cardinality::Required && !m.has_field(&f) {
                return Err(InvalidPayload(format!(
                    "required field '{}' is missing in {}",
                    f.name(),
                    desc.full_name()
                )));
            }
        }
    }
    for (f, v) in m.fields() {
        check_value(v, options, required)
            .map_err(|e| InvalidPayload(format!("{} (in field '{}')", e.0, f.name())))?;
    }
    Ok(())
}

fn check_value(
    v: &prost_reflect::Value,
    options: PayloadOptions,
    required: bool,
) -> Result<(), InvalidPayload> {
    use prost_reflect::Value;
    match v {
        Value::Message(m) => check_message(m, options, required),
        Value::List(items) if matches!(items.first(), Some(Value::Message(_))) => items
            .iter()
            .try_for_each(|i| check_value(i, options, required)),
        Value::Map(map) if matches!(map.values().next(), Some(Value::Message(_))) => map
            .values()
            .try_for_each(|i| check_value(i, options, required)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Arc<dyn ParsedSchema> {
        ProtobufFormat.parse(text, &[]).unwrap()
    }

    #[test]
    fn text_and_descriptor_are_one_schema() {
        let text = "syntax = \"proto3\";\npackage acme;\n// a comment\nmessage A { string x = 1; repeated int64 y = 2; map<string, A> m = 3; }\n";
        let p = parse(text);
        assert_eq!(p.canonical(), text.trim());
        let b64 = p.render("serialized").unwrap();
        let q = parse(&b64);
        assert_eq!(p.identity(), q.identity());
        // A descriptor is shown in the reference registry's layout.
        assert_eq!(
            q.canonical(),
            "syntax = \"proto3\";\npackage acme;\n\nmessage A {\n  string x = 1;\n  repeated int64 y = 2;\n  map<string, .acme.A> m = 3;\n}\n"
        );
        // The rendered text compiles back to the same thing.
        let r = parse(&q.identity());
        assert_eq!(r.identity(), p.identity());
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = ProtobufFormat
            .parse(
                "syntax = \"proto3\";\nmessage A {\n  strin x = 1;\n}\n",
                &[],
            )
            .unwrap_err();
        assert!(e.0.starts_with("default.proto:3:"), "{e}");
        let e = ProtobufFormat
            .parse(
                "syntax = \"proto3\";\nimport \"nope/x.proto\";\nmessage A { nope.X x = 1; }\n",
                &[],
            )
            .unwrap_err();
        assert!(e.0.contains("nope/x.proto"), "{e}");
    }

    #[test]
    fn spaced_layout_parts_blocks_with_blank_lines() {
        let text = "syntax = \"proto3\";\npackage acme;\nimport \"google/protobuf/timestamp.proto\";\noption java_package = \"com.acme\";\nmessage A {\n  reserved 9;\n  string x = 1;\n  oneof pick { int32 p = 2; string q = 3; }\n  message B { int32 y = 1; }\n  enum E { E0 = 0; }\n  google.protobuf.Timestamp t = 4;\n}\nmessage Empty {}\nenum Top { T0 = 0; T1 = 1; }\n";
        let p = parse(text);
        let want = "syntax = \"proto3\";\npackage acme;\n\nimport \"google/protobuf/timestamp.proto\";\n\noption java_package = \"com.acme\";\n\nmessage A {\n  reserved 9;\n\n  string x = 1;\n  .google.protobuf.Timestamp t = 4;\n\n  oneof pick {\n    int32 p = 2;\n    string q = 3;\n  }\n\n  message B {\n    int32 y = 1;\n  }\n  enum E {\n    E0 = 0;\n  }\n}\n\nmessage Empty {}\n\nenum Top {\n  T0 = 0;\n  T1 = 1;\n}\n";
        assert_eq!(p.normalized(), want);
        // The layout is for people: the identity stays the compact rendering.
        assert!(!p.identity().contains("\n\n"));
        assert_eq!(parse(want).identity(), p.identity());
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = |n: usize| {
            format!(
                "syntax = \"proto2\";\nimport \"google/protobuf/descriptor.proto\";\nmessage V {{ optional V v = 1; }}\nextend google.protobuf.MessageOptions {{ optional V deep = 50000; }}\nmessage M {{\n  option (deep) = {}{};\n}}\n",
                "{ v ".repeat(n),
                "}".repeat(n)
            )
        };
        // A thousand levels in a few kilobytes: refused, not a stack overflow.
        let e = ProtobufFormat.parse(&deep(1000), &[]).unwrap_err();
        assert!(e.0.contains("nested more than 64 levels"), "{e}");
        // Nesting in strings and comments does not count; a modest depth compiles.
        parse("syntax = \"proto3\";\n// {{{{{{{{\nmessage A { string s = 1 [json_name = \"{{{{<<<<\"]; }\n");
        ProtobufFormat.parse(&deep(10), &[]).unwrap();
    }

    #[test]
    fn well_known_and_common_types_need_no_reference() {
        parse(
            "syntax = \"proto3\";\nimport \"google/protobuf/timestamp.proto\";\nimport \"google/type/money.proto\";\nmessage A { google.protobuf.Timestamp t = 1; google.type.Money m = 2; }",
        );
    }

    #[test]
    fn message_indexes() {
        assert_eq!(
            read_message_indexes(&[0, 9]).unwrap(),
            (vec![0], &[9u8][..])
        );
        // count 2 (zigzag 4), indexes 1 (2) and 0 (0)
        assert_eq!(read_message_indexes(&[4, 2, 0]).unwrap().0, vec![1, 0]);
        assert!(read_message_indexes(&[4, 2]).is_err());
        assert!(read_message_indexes(&[]).is_err());
    }

    #[test]
    fn validates_payloads() {
        let p = parse(
            "syntax = \"proto2\";\nmessage A { required int32 id = 1; optional string s = 2; message B { optional int64 n = 1; } }",
        );
        let ok = [0u8, 0x08, 0x01, 0x12, 0x01, b'x'];
        assert_eq!(p.validate(&ok, PayloadOptions::default()), Ok(()));
        // Missing the required field.
        assert!(p
            .validate(&[0u8, 0x12, 0x01, b'x'], PayloadOptions::default())
            .is_err());
        // Truncated string.
        assert!(p
            .validate(
                &[0u8, 0x08, 0x01, 0x12, 0x05, b'x'],
                PayloadOptions::default()
            )
            .is_err());
        // Unknown field 3 (varint): allowed by default, refused when asked.
        let unknown = [0u8, 0x08, 0x01, 0x18, 0x01];
        assert_eq!(p.validate(&unknown, PayloadOptions::default()), Ok(()));
        let strict = PayloadOptions {
            allow_unknown_fields: false,
            json: false,
        };
        assert!(p.validate(&unknown, strict).is_err());
        // Index path [0, 0] is A.B.
        assert_eq!(p.validate(&[4, 0, 0, 0x08, 0x05], strict), Ok(()));
        assert!(
            p.validate(&[2, 2, 0x08], strict).is_err(),
            "no second message"
        );
    }
}
