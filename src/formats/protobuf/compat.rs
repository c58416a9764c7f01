//! What breaks when a reader compiled from one Protobuf file decodes messages written with
//! another: the rules the Confluent registry applies, over descriptors. Messages are matched by
//! name (relative to the package), fields by number; each verdict names its path as
//! `#/Message/Nested/fieldNumber`.

use std::collections::HashSet;

use prost_reflect::{Cardinality, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};

use crate::formats::Incompatibility;

/// Differences that break `update` reading data written with `original`.
pub fn diff(original: &FileDescriptor, update: &FileDescriptor) -> Vec<Incompatibility> {
    let mut d = Diff {
        original_package: original.package_name().to_owned(),
        update_package: update.package_name().to_owned(),
        found: Vec::new(),
        seen: HashSet::new(),
    };
    if d.original_package != d.update_package {
        d.push(
            "PACKAGE_CHANGED",
            "#/".into(),
            format!(
                "The package at path '#/' of the {{reader}} schema ('{}') differs from the package of the {{writer}} schema ('{}')",
                d.update_package, d.original_package
            ),
            d.update_package.clone(),
        );
    }
    let originals = messages_of(original);
    let updates = messages_of(update);
    for o in &originals {
        let name = d.relative(o, true);
        let found = updates
            .iter()
            .find(|u| d.relative(u, false) == name)
            .or_else(|| {
                // A message moved to another parent keeps its simple name.
                updates.iter().find(|u| u.name() == o.name())
            });
        match found {
            Some(u) => d.message(o, u),
            None => d.push(
                "MESSAGE_REMOVED",
                format!("#/{name}"),
                format!("The message '{name}' at path '#/{name}' of the {{writer}} schema is missing in the {{reader}} schema"),
                name.clone(),
            ),
        }
    }
    d.found
}

/// Every message declared in `file`, nested ones included, map entries excluded.
fn messages_of(file: &FileDescriptor) -> Vec<MessageDescriptor> {
    fn walk(m: MessageDescriptor, out: &mut Vec<MessageDescriptor>) {
        for c in m.child_messages().filter(|c| !c.is_map_entry()) {
            walk(c, out);
        }
        out.push(m);
    }
    let mut out = Vec::new();
    for m in file.messages() {
        walk(m, &mut out);
    }
    out
}

/// The wire-compatible scalar groups; an enum is read as an int32.
fn scalar_group(kind: &Kind) -> Option<u8> {
    Some(match kind {
        Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64 | Kind::Bool | Kind::Enum(_) => 1,
        Kind::Sint32 | Kind::Sint64 => 2,
        Kind::String | Kind::Bytes => 3,
        Kind::Fixed32 | Kind::Sfixed32 => 4,
        Kind::Fixed64 | Kind::Sfixed64 => 5,
        Kind::Float => 6,
        Kind::Double => 7,
        Kind::Message(_) => return None,
    })
}

fn kind_class(f: &FieldDescriptor) -> &'static str {
    if f.is_map() {
        "MAP"
    } else if matches!(f.kind(), Kind::Message(_)) {
        "MESSAGE"
    } else {
        "SCALAR"
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => m.full_name().to_owned(),
        Kind::Enum(e) => e.full_name().to_owned(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn real_oneof(f: &FieldDescriptor) -> Option<String> {
    f.containing_oneof()
        .filter(|o| !o.is_synthetic())
        .map(|o| o.name().to_owned())
}

struct Diff {
    original_package: String,
    update_package: String,
    found: Vec<Incompatibility>,
    /// Message pairs already compared (recursive types, shared field types).
    seen: HashSet<(String, String)>,
}

impl Diff {
    fn push(&mut self, kind: &'static str, path: String, description: String, info: String) {
        self.found.push(Incompatibility {
            kind,
            path,
            description,
            info,
        });
    }

    /// A message's name relative to its file's package (the full name when from another
    /// package, such as an imported well-known type).
    fn relative(&self, m: &MessageDescriptor, original: bool) -> String {
        let package = if original {
            &self.original_package
        } else {
            &self.update_package
        };
        let full = m.full_name();
        match full.strip_prefix(package.as_str()) {
            Some(rest) if !package.is_empty() && rest.starts_with('.') => rest[1..].to_owned(),
            _ => full.to_owned(),
        }
    }

    fn message(&mut self, o: &MessageDescriptor, u: &MessageDescriptor) {
        if !self
            .seen
            .insert((o.full_name().to_owned(), u.full_name().to_owned()))
        {
            return;
        }
        let base = format!("#/{}", self.relative(u, false));
        for of in o.fields() {
            let path = format!("{base}/{}", of.number());
            match u.get_field(of.number()) {
                Some(uf) => self.field(&of, &uf, o, u, &path),
                None => self.removed(&of, u, &path),
            }
        }
        for uf in u.fields() {
            if o.get_field(uf.number()).is_none() && uf.cardinality() == Cardinality::Required {
                self.push(
                    "REQUIRED_FIELD_ADDED",
                    format!("{base}/{}", uf.number()),
                    format!(
                        "The required field '{}' at path '{base}/{}' in the {{reader}} schema is missing in the {{writer}} schema",
                        uf.name(),
                        uf.number()
                    ),
                    uf.name().to_owned(),
                );
            }
        }
        // Several top-level fields gathered into one new oneof change what a reader keeps.
        for oneof in u.oneofs().filter(|x| !x.is_synthetic()) {
            if o.oneofs().any(|x| x.name() == oneof.name()) {
                continue;
            }
            let moved = oneof
                .fields()
                .filter(|f| {
                    o.get_field(f.number())
                        .is_some_and(|of| real_oneof(&of).is_none())
                })
                .count();
            if moved > 1 {
                self.push(
                    "MULTIPLE_FIELDS_MOVED_TO_ONEOF",
                    format!("{base}/{}", oneof.name()),
                    format!(
                        "{moved} fields of the {{writer}} schema moved into the new oneof at path '{base}/{}' of the {{reader}} schema",
                        oneof.name()
                    ),
                    oneof.name().to_owned(),
                );
            }
        }
    }

    fn removed(&mut self, of: &FieldDescriptor, u: &MessageDescriptor, path: &str) {
        if of.cardinality() == Cardinality::Required {
            self.push(
                "REQUIRED_FIELD_REMOVED",
                path.to_owned(),
                format!(
                    "The required field '{}' at path '{path}' in the {{writer}} schema is missing in the {{reader}} schema",
                    of.name()
                ),
                of.name().to_owned(),
            );
        } else if let Some(oneof) = real_oneof(of) {
            if u.oneofs().any(|x| x.name() == oneof) {
                self.push(
                    "ONEOF_FIELD_REMOVED",
                    path.to_owned(),
                    format!(
                        "The field '{}' at path '{path}' was removed from the oneof '{oneof}', which the {{reader}} schema keeps",
                        of.name()
                    ),
                    of.name().to_owned(),
                );
            }
        }
    }

    fn field(
        &mut self,
        of: &FieldDescriptor,
        uf: &FieldDescriptor,
        o: &MessageDescriptor,
        u: &MessageDescriptor,
        path: &str,
    ) {
        let (oc, uc) = (kind_class(of), kind_class(uf));
        if oc != uc {
            self.push(
                "FIELD_KIND_CHANGED",
                path.to_owned(),
                format!(
                    "The kind of the field at path '{path}' is {uc} in the {{reader}} schema and {oc} in the {{writer}} schema"
                ),
                uf.name().to_owned(),
            );
            return;
        }
        self.cardinality(of, uf, path);
        self.oneof(of, uf, o, path);
        if of.is_map() {
            if let (Kind::Message(om), Kind::Message(um)) = (of.kind(), uf.kind()) {
                let ok = om.map_entry_key_field();
                let uk = um.map_entry_key_field();
                self.types(&ok.kind(), &uk.kind(), &format!("{path}/key"), uf.name());
                let ov = om.map_entry_value_field();
                let uv = um.map_entry_value_field();
                self.types(&ov.kind(), &uv.kind(), &format!("{path}/value"), uf.name());
            }
            return;
        }
        let _ = u;
        self.types(&of.kind(), &uf.kind(), path, uf.name());
    }

    /// Compares two field types of the same kind class.
    fn types(&mut self, ok: &Kind, uk: &Kind, path: &str, name: &str) {
        match (ok, uk) {
            (Kind::Message(om), Kind::Message(um)) => {
                if om.full_name() != um.full_name() {
                    self.push(
                        "FIELD_NAMED_TYPE_CHANGED",
                        path.to_owned(),
                        format!(
                            "The type of the field at path '{path}' is '{}' in the {{reader}} schema and '{}' in the {{writer}} schema",
                            um.full_name(),
                            om.full_name()
                        ),
                        name.to_owned(),
                    );
                } else {
                    self.message(om, um);
                }
            }
            (Kind::Message(_), _) | (_, Kind::Message(_)) => {
                self.push(
                    "FIELD_KIND_CHANGED",
                    path.to_owned(),
                    format!("The kind of the field at path '{path}' differs between the {{reader}} and the {{writer}} schema"),
                    name.to_owned(),
                );
            }
            (Kind::Enum(oe), Kind::Enum(ue)) if oe.full_name() != ue.full_name() => {
                self.push(
                    "FIELD_NAMED_TYPE_CHANGED",
                    path.to_owned(),
                    format!(
                        "The type of the field at path '{path}' is '{}' in the {{reader}} schema and '{}' in the {{writer}} schema",
                        ue.full_name(),
                        oe.full_name()
                    ),
                    name.to_owned(),
                );
            }
            _ => {
                if scalar_group(ok) != scalar_group(uk) {
                    self.push(
                        "FIELD_SCALAR_KIND_CHANGED",
                        path.to_owned(),
                        format!(
                            "The type of the SCALAR field at path '{path}' is {} in the {{reader}} schema and {} in the {{writer}} schema, which are not wire-compatible",
                            kind_name(uk),
                            kind_name(ok)
                        ),
                        name.to_owned(),
                    );
                }
            }
        }
    }

    fn cardinality(&mut self, of: &FieldDescriptor, uf: &FieldDescriptor, path: &str) {
        use Cardinality::*;
        let (oc, uc) = (of.cardinality(), uf.cardinality());
        if oc == uc || of.is_map() {
            return;
        }
        match (oc, uc) {
            (Required, _) => self.push(
                "REQUIRED_FIELD_REMOVED",
                path.to_owned(),
                format!(
                    "The field '{}' at path '{path}' is required in the {{writer}} schema but not in the {{reader}} schema",
                    of.name()
                ),
                uf.name().to_owned(),
            ),
            (_, Required) => self.push(
                "REQUIRED_FIELD_ADDED",
                path.to_owned(),
                format!(
                    "The field '{}' at path '{path}' is required in the {{reader}} schema but not in the {{writer}} schema",
                    uf.name()
                ),
                uf.name().to_owned(),
            ),
            _ => {
                // Singular <-> repeated: length-delimited values read either way; numeric ones
                // may be packed, which a singular reader cannot read.
                let numeric = !matches!(
                    uf.kind(),
                    Kind::String | Kind::Bytes | Kind::Message(_)
                );
                if numeric {
                    self.push(
                        "FIELD_NUMERIC_LABEL_CHANGED",
                        path.to_owned(),
                        format!(
                            "The label of the numeric field '{}' at path '{path}' is {} in the {{reader}} schema and {} in the {{writer}} schema",
                            uf.name(),
                            label(uc),
                            label(oc)
                        ),
                        uf.name().to_owned(),
                    );
                }
            }
        }
    }

    fn oneof(
        &mut self,
        of: &FieldDescriptor,
        uf: &FieldDescriptor,
        o: &MessageDescriptor,
        path: &str,
    ) {
        let (oo, uo) = (real_oneof(of), real_oneof(uf));
        let Some(target) = uo else {
            return; // stays out of a oneof, or moves to the top level: fine
        };
        if oo.as_deref() == Some(target.as_str()) {
            return;
        }
        if o.oneofs().any(|x| x.name() == target) {
            self.push(
                "FIELD_MOVED_TO_EXISTING_ONEOF",
                path.to_owned(),
                format!(
                    "The field '{}' at path '{path}' moved into the oneof '{target}', which the {{writer}} schema already has",
                    uf.name()
                ),
                uf.name().to_owned(),
            );
        }
    }
}

fn label(c: Cardinality) -> &'static str {
    match c {
        Cardinality::Optional => "singular",
        Cardinality::Required => "required",
        Cardinality::Repeated => "repeated",
    }
}
