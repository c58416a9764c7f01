//! What breaks when a reader compiled from one Protobuf file decodes messages written with
//! another: the rules the Confluent registry applies, over descriptors. Messages are matched by
//! name (relative to the package), fields by number; each verdict names its path as
//! `#/Message/Nested/fieldNumber`.

use std::collections::{HashMap, HashSet};

use prost_reflect::{Cardinality, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};

use crate::formats::Incompatibility;

/// Differences that break `update` reading data written with `original`.
pub fn diff(original: &FileDescriptor, update: &FileDescriptor) -> Vec<Incompatibility> {
    let mut d = Diff {
        original_file: original.name().to_owned(),
        update_file: update.name().to_owned(),
        found: Vec::new(),
        seen: HashSet::new(),
    };
    // A package change alone is compatible (the reference registry reports it as such):
    // messages are matched by their names within their packages.
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
                format!("#/{}", name.replace('.', "/")),
                format!(
                    "The message '{name}' at path '#/{}' of the {{writer}} schema is missing in the {{reader}} schema",
                    name.replace('.', "/")
                ),
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

/// A full name without its file's package (`acme.M.N` in package `acme` is `M.N`).
fn within_package(full: &str, package: &str) -> String {
    match full.strip_prefix(package) {
        Some(rest) if !package.is_empty() && rest.starts_with('.') => rest[1..].to_owned(),
        _ => full.to_owned(),
    }
}

fn real_oneof(f: &FieldDescriptor) -> Option<String> {
    f.containing_oneof()
        .filter(|o| !o.is_synthetic())
        .map(|o| o.name().to_owned())
}

struct Diff {
    /// The two root files' names: types declared elsewhere are imported.
    original_file: String,
    update_file: String,
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
    fn relative(&self, m: &MessageDescriptor, _original: bool) -> String {
        within_package(m.full_name(), m.parent_file().package_name())
    }

    fn message(&mut self, o: &MessageDescriptor, u: &MessageDescriptor) {
        if !self
            .seen
            .insert((o.full_name().to_owned(), u.full_name().to_owned()))
        {
            return;
        }
        let base = format!("#/{}", self.relative(u, false).replace('.', "/"));
        // Oneof membership by field number on each side (synthetic proto3 `optional` oneofs
        // do not count). A field is compared by number wherever it sits, and reported at its
        // place in the reader (`#/Msg/oneofName/number` for a oneof member).
        let membership = |m: &MessageDescriptor| -> HashMap<u32, String> {
            m.fields()
                .filter_map(|f| real_oneof(&f).map(|o| (f.number(), o)))
                .collect()
        };
        let (o_in, u_in) = (membership(o), membership(u));
        // A oneof gone by name with none of its members left anywhere was deleted whole.
        let deleted: HashSet<String> = o
            .oneofs()
            .filter(|x| !x.is_synthetic() && !u.oneofs().any(|y| y.name() == x.name()))
            .filter(|x| x.fields().all(|f| u.get_field(f.number()).is_none()))
            .map(|x| x.name().to_owned())
            .collect();
        // Fields that were independent (top-level, or from different oneofs) now exclusive.
        for oneof in u.oneofs().filter(|x| !x.is_synthetic()) {
            let mut groups: HashSet<String> = HashSet::new();
            let mut top_level = 0;
            for f in oneof.fields() {
                if let Some(g) = o_in.get(&f.number()) {
                    groups.insert(format!("oneof:{g}"));
                } else if o.get_field(f.number()).is_some() {
                    groups.insert(format!("field:{}", f.number()));
                    top_level += 1;
                }
            }
            if groups.len() > 1 {
                let at = format!("{base}/{}", oneof.name());
                let kind = if top_level > 1 {
                    "MULTIPLE_FIELDS_MOVED_TO_ONEOF"
                } else {
                    "FIELD_MOVED_TO_EXISTING_ONEOF"
                };
                let description = format!(
                    "Multiple fields in the oneof at path '{at}' in the {{reader}} schema are outside a single oneof in the {{writer}} schema"
                );
                self.push(kind, at, description, oneof.name().to_owned());
            }
        }
        for of in o.fields() {
            match u.get_field(of.number()) {
                Some(uf) => {
                    let path = match u_in.get(&uf.number()) {
                        Some(g) => format!("{base}/{g}/{}", uf.number()),
                        None => format!("{base}/{}", uf.number()),
                    };
                    self.field(&of, &uf, &path);
                }
                None => match o_in.get(&of.number()) {
                    Some(g) if !deleted.contains(g) => {
                        let path = format!("{base}/{g}/{}", of.number());
                        self.push(
                            "ONEOF_FIELD_REMOVED",
                            path.clone(),
                            format!(
                                "The {{reader}} schema is missing a oneof field at path '{path}' in the {{writer}} schema"
                            ),
                            of.name().to_owned(),
                        );
                    }
                    Some(_) => {}
                    None => self.removed(&of, &format!("{base}/{}", of.number())),
                },
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
    }

    fn removed(&mut self, of: &FieldDescriptor, path: &str) {
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
        }
    }

    fn field(&mut self, of: &FieldDescriptor, uf: &FieldDescriptor, path: &str) {
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
        if of.is_map() {
            if let (Kind::Message(om), Kind::Message(um)) = (of.kind(), uf.kind()) {
                let ok = om.map_entry_key_field();
                let uk = um.map_entry_key_field();
                self.types(&ok.kind(), &uk.kind(), path, uf.name());
                let ov = om.map_entry_value_field();
                let uv = um.map_entry_value_field();
                self.types(&ov.kind(), &uv.kind(), path, uf.name());
            }
            return;
        }
        self.types(&of.kind(), &uf.kind(), path, uf.name());
    }

    /// Compares two field types of the same kind class.
    fn types(&mut self, ok: &Kind, uk: &Kind, path: &str, name: &str) {
        match (ok, uk) {
            (Kind::Message(om), Kind::Message(um)) => {
                let (on, un) = (self.relative(om, true), self.relative(um, false));
                if on != un {
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
                    // A type from another file is compared here (the root file's messages
                    // are compared by name anyway); a breaking change in it breaks the field.
                    let before = self.found.len();
                    self.message(om, um);
                    let imported = om.parent_file().name() != self.original_file
                        || um.parent_file().name() != self.update_file;
                    if imported && self.found.len() > before {
                        self.push(
                            "FIELD_NAMED_TYPE_CHANGED",
                            path.to_owned(),
                            format!(
                                "The type '{un}' of the field at path '{path}' changed incompatibly between the {{writer}} and the {{reader}} schema"
                            ),
                            name.to_owned(),
                        );
                    }
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
            (Kind::Enum(oe), Kind::Enum(ue))
                if within_package(oe.full_name(), oe.parent_file().package_name())
                    != within_package(ue.full_name(), ue.parent_file().package_name()) =>
            {
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
}

fn label(c: Cardinality) -> &'static str {
    match c {
        Cardinality::Optional => "singular",
        Cardinality::Required => "required",
        Cardinality::Repeated => "repeated",
    }
}
