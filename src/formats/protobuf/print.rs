//! Renders a compiled file back to `.proto` text: the identity of a Protobuf schema (whatever
//! form it arrived in), the text served for a schema sent as a serialized descriptor, and with
//! `normalize` the normalized form (imports sorted, fields by number, oneofs by first field,
//! enum values by number, reserved ranges sorted). Type names are always fully qualified.
//! Hand-written: neither prost-reflect nor protox prints descriptors as source.

use std::fmt::Write;

use prost_reflect::{
    Cardinality, DynamicMessage, EnumDescriptor, ExtensionDescriptor, FieldDescriptor,
    FileDescriptor, Kind, MessageDescriptor, ServiceDescriptor, Syntax, Value,
};

/// The `.proto` text of `file`.
pub fn render(file: &FileDescriptor, normalize: bool) -> String {
    let mut p = Printer {
        out: String::new(),
        normalize,
        proto3: file.syntax() == Syntax::Proto3,
        spaced: false,
    };
    p.file(file);
    p.out
}

/// The text a client is shown for a descriptor or a normalized schema, laid out as the
/// reference registry prints it: syntax and package, then imports, options and each top-level
/// type in blocks parted by a blank line; inside a message, reserved names, options, fields,
/// oneofs, extension ranges and nested types each in a block of their own.
pub fn render_spaced(file: &FileDescriptor, normalize: bool) -> String {
    let mut p = Printer {
        out: String::new(),
        normalize,
        proto3: file.syntax() == Syntax::Proto3,
        spaced: true,
    };
    p.file(file);
    p.out
}

struct Printer {
    out: String,
    normalize: bool,
    proto3: bool,
    /// The reference registry's layout ([`render_spaced`]) rather than the compact one the
    /// identity hash is taken over (which must not change, or stored schemas lose their ids).
    spaced: bool,
}

impl Printer {
    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn file(&mut self, file: &FileDescriptor) {
        let proto = file.file_descriptor_proto();
        let syntax = if self.proto3 { "proto3" } else { "proto2" };
        self.line(0, &format!("syntax = \"{syntax}\";"));
        if !file.package_name().is_empty() {
            self.line(0, &format!("package {};", file.package_name()));
        }
        let mut imports: Vec<String> = proto
            .dependency
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let i = i as i32;
                let kind = if proto.public_dependency.contains(&i) {
                    "public "
                } else if proto.weak_dependency.contains(&i) {
                    "weak "
                } else {
                    ""
                };
                format!("import {kind}{};", quote(d.as_bytes()))
            })
            .collect();
        if self.normalize {
            imports.sort();
        }
        if self.spaced && !imports.is_empty() {
            self.out.push('\n');
        }
        for i in &imports {
            self.line(0, i);
        }
        if self.spaced && !option_values(&file.options(), self.normalize).is_empty() {
            self.out.push('\n');
        }
        self.options(0, &file.options());
        for m in file.messages() {
            self.blank();
            self.message(0, &m);
        }
        for e in file.enums() {
            self.blank();
            self.enumeration(0, &e);
        }
        let extensions: Vec<_> = file.extensions().collect();
        if !extensions.is_empty() {
            self.blank();
        }
        self.extensions(0, &extensions);
        for s in file.services() {
            self.blank();
            self.service(&s);
        }
    }

    /// A blank line, in the spaced layout.
    fn blank(&mut self) {
        if self.spaced {
            self.out.push('\n');
        }
    }

    /// Opens a block inside a braced declaration: a blank line before every block but the
    /// first, in the spaced layout.
    fn block(&mut self, first: &mut bool) {
        if !*first {
            self.blank();
        }
        *first = false;
    }

    /// `option name = value;` lines for every option set.
    fn options(&mut self, depth: usize, options: &DynamicMessage) {
        for (name, value) in option_values(options, self.normalize) {
            self.line(depth, &format!("option {name} = {value};"));
        }
    }

    fn reserved_names(&mut self, depth: usize, mut names: Vec<&str>) {
        if self.normalize {
            names.sort_unstable();
        }
        if !names.is_empty() {
            let list: Vec<String> = names.iter().map(|n| quote(n.as_bytes())).collect();
            self.line(depth, &format!("reserved {};", list.join(", ")));
        }
    }

    fn message(&mut self, depth: usize, m: &MessageDescriptor) {
        if self.spaced {
            return self.message_spaced(depth, m);
        }
        self.line(depth, &format!("message {} {{", m.name()));
        let inner = depth + 1;
        self.options(inner, &m.options());
        let mut fields: Vec<FieldDescriptor> = m.fields().collect();
        if self.normalize {
            fields.sort_by_key(|f| f.number());
        }
        let mut printed_oneofs: Vec<String> = Vec::new();
        for f in &fields {
            match f.containing_oneof().filter(|o| !o.is_synthetic()) {
                Some(o) => {
                    if printed_oneofs.iter().any(|n| n == o.name()) {
                        continue;
                    }
                    printed_oneofs.push(o.name().to_owned());
                    self.oneof(inner, &o);
                }
                None => {
                    let text = self.field(f, false);
                    self.line(inner, &text);
                }
            }
        }
        for child in m.child_messages().filter(|c| !c.is_map_entry()) {
            self.message(inner, &child);
        }
        for e in m.child_enums() {
            self.enumeration(inner, &e);
        }
        let extensions: Vec<_> = m.child_extensions().collect();
        self.extensions(inner, &extensions);
        let mut ranges: Vec<_> = m.extension_ranges().collect();
        if self.normalize {
            ranges.sort_by_key(|r| r.start);
        }
        for r in ranges {
            self.line(inner, &format!("extensions {};", range(r.start, r.end - 1)));
        }
        let mut reserved: Vec<_> = m.reserved_ranges().collect();
        if self.normalize {
            reserved.sort_by_key(|r| r.start);
        }
        if !reserved.is_empty() {
            let list: Vec<String> = reserved.iter().map(|r| range(r.start, r.end - 1)).collect();
            self.line(inner, &format!("reserved {};", list.join(", ")));
        }
        self.reserved_names(inner, m.reserved_names().collect());
        self.line(depth, "}");
    }

    fn oneof(&mut self, depth: usize, o: &prost_reflect::OneofDescriptor) {
        self.line(depth, &format!("oneof {} {{", o.name()));
        self.options(depth + 1, &o.options());
        let mut members: Vec<FieldDescriptor> = o.fields().collect();
        if self.normalize {
            members.sort_by_key(|f| f.number());
        }
        for member in &members {
            let text = self.field(member, true);
            self.line(depth + 1, &text);
        }
        self.line(depth, "}");
    }

    /// One field declaration, e.g. `repeated .acme.Line lines = 3 [deprecated = true];`.
    fn field(&self, f: &FieldDescriptor, in_oneof: bool) -> String {
        let proto = f.field_descriptor_proto();
        let mut text = String::new();
        if f.is_map() {
            if let Kind::Message(entry) = f.kind() {
                let k = entry.map_entry_key_field();
                let v = entry.map_entry_value_field();
                let _ = write!(
                    text,
                    "map<{}, {}>",
                    type_name(&k.kind()),
                    type_name(&v.kind())
                );
            }
        } else {
            let label = match f.cardinality() {
                Cardinality::Repeated => "repeated ",
                Cardinality::Required => "required ",
                Cardinality::Optional if in_oneof => "",
                Cardinality::Optional if !self.proto3 => "optional ",
                Cardinality::Optional if proto.proto3_optional() => "optional ",
                Cardinality::Optional => "",
            };
            let _ = write!(text, "{label}{}", type_name(&f.kind()));
        }
        let _ = write!(text, " {} = {}", f.name(), f.number());
        let mut extras: Vec<(String, String)> = Vec::new();
        if let Some(d) = &proto.default_value {
            let value = match f.kind() {
                Kind::String => quote(d.as_bytes()),
                Kind::Bytes => format!("\"{d}\""),
                _ => d.clone(),
            };
            extras.push(("default".into(), value));
        }
        if let Some(j) = &proto.json_name {
            if *j != default_json_name(f.name()) {
                extras.push(("json_name".into(), quote(j.as_bytes())));
            }
        }
        extras.extend(option_values(&f.options(), self.normalize));
        text.push_str(&bracketed(extras));
        text.push(';');
        text
    }

    fn extensions(&mut self, depth: usize, extensions: &[ExtensionDescriptor]) {
        let mut extendees: Vec<String> = Vec::new();
        for e in extensions {
            let name = e.containing_message().full_name().to_owned();
            if !extendees.contains(&name) {
                extendees.push(name);
            }
        }
        for extendee in extendees {
            self.line(depth, &format!("extend .{extendee} {{"));
            for e in extensions
                .iter()
                .filter(|e| e.containing_message().full_name() == extendee)
            {
                let label = match e.cardinality() {
                    Cardinality::Repeated => "repeated ",
                    Cardinality::Required => "required ",
                    Cardinality::Optional if !self.proto3 => "optional ",
                    Cardinality::Optional => "",
                };
                let mut text = format!(
                    "{label}{} {} = {}",
                    type_name(&e.kind()),
                    e.name(),
                    e.number()
                );
                text.push_str(&bracketed(option_values(&e.options(), self.normalize)));
                text.push(';');
                self.line(depth + 1, &text);
            }
            self.line(depth, "}");
        }
    }

    fn enumeration(&mut self, depth: usize, e: &EnumDescriptor) {
        if self.spaced {
            return self.enumeration_spaced(depth, e);
        }
        self.line(depth, &format!("enum {} {{", e.name()));
        let inner = depth + 1;
        self.options(inner, &e.options());
        let mut values: Vec<_> = e.values().collect();
        if self.normalize {
            values.sort_by_key(|v| v.number());
        }
        for v in values {
            let mut text = format!("{} = {}", v.name(), v.number());
            text.push_str(&bracketed(option_values(&v.options(), self.normalize)));
            text.push(';');
            self.line(inner, &text);
        }
        let mut reserved: Vec<_> = e.reserved_ranges().collect();
        if self.normalize {
            reserved.sort_by_key(|r| *r.start());
        }
        if !reserved.is_empty() {
            let list: Vec<String> = reserved.iter().map(enum_range).collect();
            self.line(inner, &format!("reserved {};", list.join(", ")));
        }
        self.reserved_names(inner, e.reserved_names().collect());
        self.line(depth, "}");
    }

    /// A message in the spaced layout: its blocks in the reference registry's order.
    fn message_spaced(&mut self, depth: usize, m: &MessageDescriptor) {
        let inner = depth + 1;
        let mut reserved: Vec<_> = m.reserved_ranges().collect();
        if self.normalize {
            reserved.sort_by_key(|r| r.start);
        }
        let names: Vec<&str> = m.reserved_names().collect();
        let options = option_values(&m.options(), self.normalize);
        let mut fields: Vec<FieldDescriptor> = m
            .fields()
            .filter(|f| f.containing_oneof().filter(|o| !o.is_synthetic()).is_none())
            .collect();
        let mut oneofs: Vec<_> = m.oneofs().filter(|o| !o.is_synthetic()).collect();
        if self.normalize {
            fields.sort_by_key(|f| f.number());
            oneofs.sort_by_key(|o| o.fields().map(|f| f.number()).min().unwrap_or(0));
        }
        let mut ranges: Vec<_> = m.extension_ranges().collect();
        if self.normalize {
            ranges.sort_by_key(|r| r.start);
        }
        let children: Vec<_> = m.child_messages().filter(|c| !c.is_map_entry()).collect();
        let enums: Vec<_> = m.child_enums().collect();
        let extensions: Vec<_> = m.child_extensions().collect();
        let empty = reserved.is_empty()
            && names.is_empty()
            && options.is_empty()
            && fields.is_empty()
            && oneofs.is_empty()
            && ranges.is_empty()
            && children.is_empty()
            && enums.is_empty()
            && extensions.is_empty();
        if empty {
            self.line(depth, &format!("message {} {{}}", m.name()));
            return;
        }
        self.line(depth, &format!("message {} {{", m.name()));
        let mut first = true;
        if !reserved.is_empty() || !names.is_empty() {
            self.block(&mut first);
            if !reserved.is_empty() {
                let list: Vec<String> =
                    reserved.iter().map(|r| range(r.start, r.end - 1)).collect();
                self.line(inner, &format!("reserved {};", list.join(", ")));
            }
            self.reserved_names(inner, names);
        }
        if !options.is_empty() {
            self.block(&mut first);
            self.options(inner, &m.options());
        }
        if !fields.is_empty() {
            self.block(&mut first);
            for f in &fields {
                let text = self.field(f, false);
                self.line(inner, &text);
            }
        }
        if !oneofs.is_empty() {
            self.block(&mut first);
            for o in &oneofs {
                self.oneof(inner, o);
            }
        }
        if !ranges.is_empty() {
            self.block(&mut first);
            for r in ranges {
                self.line(inner, &format!("extensions {};", range(r.start, r.end - 1)));
            }
        }
        if !children.is_empty() || !enums.is_empty() {
            self.block(&mut first);
            for child in &children {
                self.message(inner, child);
            }
            for e in &enums {
                self.enumeration(inner, e);
            }
        }
        if !extensions.is_empty() {
            self.block(&mut first);
            self.extensions(inner, &extensions);
        }
        self.line(depth, "}");
    }

    /// An enum in the spaced layout: reserved names, options, then the values.
    fn enumeration_spaced(&mut self, depth: usize, e: &EnumDescriptor) {
        let inner = depth + 1;
        self.line(depth, &format!("enum {} {{", e.name()));
        let mut first = true;
        let mut reserved: Vec<_> = e.reserved_ranges().collect();
        if self.normalize {
            reserved.sort_by_key(|r| *r.start());
        }
        let names: Vec<&str> = e.reserved_names().collect();
        if !reserved.is_empty() || !names.is_empty() {
            self.block(&mut first);
            if !reserved.is_empty() {
                let list: Vec<String> = reserved.iter().map(enum_range).collect();
                self.line(inner, &format!("reserved {};", list.join(", ")));
            }
            self.reserved_names(inner, names);
        }
        if !option_values(&e.options(), self.normalize).is_empty() {
            self.block(&mut first);
            self.options(inner, &e.options());
        }
        let mut values: Vec<_> = e.values().collect();
        if self.normalize {
            values.sort_by_key(|v| v.number());
        }
        if !values.is_empty() {
            self.block(&mut first);
        }
        for v in values {
            let mut text = format!("{} = {}", v.name(), v.number());
            text.push_str(&bracketed(option_values(&v.options(), self.normalize)));
            text.push(';');
            self.line(inner, &text);
        }
        self.line(depth, "}");
    }

    fn service(&mut self, s: &ServiceDescriptor) {
        self.line(0, &format!("service {} {{", s.name()));
        self.options(1, &s.options());
        for m in s.methods() {
            let stream = |yes: bool| if yes { "stream " } else { "" };
            let head = format!(
                "rpc {}({}.{}) returns ({}.{})",
                m.name(),
                stream(m.is_client_streaming()),
                m.input().full_name(),
                stream(m.is_server_streaming()),
                m.output().full_name()
            );
            let options = option_values(&m.options(), self.normalize);
            if options.is_empty() {
                self.line(1, &format!("{head};"));
            } else {
                self.line(1, &format!("{head} {{"));
                for (n, v) in options {
                    self.line(2, &format!("option {n} = {v};"));
                }
                self.line(1, "}");
            }
        }
        self.line(0, "}");
    }
}

/// An enum's reserved range: `3`, `3 to 5` or `3 to max` (enum ranges are inclusive).
fn enum_range(r: &std::ops::RangeInclusive<i32>) -> String {
    if r.start() == r.end() {
        r.start().to_string()
    } else if *r.end() == i32::MAX {
        format!("{} to max", r.start())
    } else {
        format!("{} to {}", r.start(), r.end())
    }
}

/// Options written after a declaration: ` [a = 1, (b) = 2]`, or nothing.
fn bracketed(options: Vec<(String, String)>) -> String {
    if options.is_empty() {
        return String::new();
    }
    let list: Vec<String> = options.iter().map(|(n, v)| format!("{n} = {v}")).collect();
    format!(" [{}]", list.join(", "))
}

/// A field's type as written in source: the scalar keyword, or the fully-qualified name.
fn type_name(kind: &Kind) -> String {
    match kind {
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Message(m) => format!(".{}", m.full_name()),
        Kind::Enum(e) => format!(".{}", e.full_name()),
    }
}

/// The options set on a descriptor as `(name, value)` pairs: plain options by name, custom
/// ones as `(full.name)`; a repeated option gives one pair per element.
fn option_values(options: &DynamicMessage, normalize: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (f, v) in options.fields() {
        if f.name() == "uninterpreted_option" {
            continue;
        }
        push_option(&mut out, f.name().to_owned(), &f.kind(), v);
    }
    for (e, v) in options.extensions() {
        push_option(&mut out, format!("({})", e.full_name()), &e.kind(), v);
    }
    if normalize {
        out.sort();
    }
    out
}

fn push_option(out: &mut Vec<(String, String)>, name: String, kind: &Kind, v: &Value) {
    match v {
        Value::List(items) => {
            for item in items {
                out.push((name.clone(), value_text(kind, item)));
            }
        }
        other => out.push((name, value_text(kind, other))),
    }
}

fn value_text(kind: &Kind, v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::I32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::F32(n) => float_text(f64::from(*n)),
        Value::F64(n) => float_text(*n),
        Value::String(s) => quote(s.as_bytes()),
        Value::Bytes(b) => quote(b),
        Value::EnumNumber(n) => match kind.as_enum().and_then(|e| e.get_value(*n)) {
            Some(value) => value.name().to_owned(),
            None => n.to_string(),
        },
        Value::Message(m) => format!("{{ {} }}", m.to_text_format()),
        Value::List(_) | Value::Map(_) => String::new(),
    }
}

fn float_text(n: f64) -> String {
    if n.is_nan() {
        "nan".into()
    } else if n.is_infinite() {
        if n > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{n:?}")
    }
}

/// A double-quoted, C-escaped string literal.
fn quote(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            for c in text.chars() {
                match c {
                    '"' => s.push_str("\\\""),
                    '\\' => s.push_str("\\\\"),
                    '\n' => s.push_str("\\n"),
                    '\r' => s.push_str("\\r"),
                    '\t' => s.push_str("\\t"),
                    c if (c as u32) < 0x20 => {
                        let _ = write!(s, "\\{:03o}", c as u32);
                    }
                    c => s.push(c),
                }
            }
        }
        Err(_) => {
            for &b in bytes {
                match b {
                    b'"' => s.push_str("\\\""),
                    b'\\' => s.push_str("\\\\"),
                    0x20..=0x7e => s.push(b as char),
                    _ => {
                        let _ = write!(s, "\\{b:03o}");
                    }
                }
            }
        }
    }
    s.push('"');
    s
}

fn range(start: u32, end: u32) -> String {
    if start == end {
        start.to_string()
    } else if end >= 536_870_911 {
        format!("{start} to max")
    } else {
        format!("{start} to {end}")
    }
}

/// The JSON name protoc derives from a field name: underscores dropped, the next letter
/// upper-cased.
fn default_json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
