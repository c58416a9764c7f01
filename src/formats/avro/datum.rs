//! Checks that bytes are one complete Avro datum of a schema, without building the value.
//!
//! apache-avro's decoder is not used for this: it recurses once per nesting level (a deep
//! recursive datum overflows the stack), reserves room for the item count a block declares
//! before reading any item (six bytes can ask for gigabytes), walks zero-byte items one by one
//! (a five-byte array of twenty million nulls), and cannot follow a recursive type through a
//! reference. This walk keeps an explicit stack (memory bounded by the datum's length, since
//! every level of nesting reads at least one byte), refuses a block whose declared items cannot
//! fit in the bytes left, takes a block of zero-byte items in one step, and resolves names
//! through the schema's own and its references' named types.

use std::collections::HashSet;

use apache_avro::Schema;

use super::{AvroSchema, Checker, Shape};

/// Why a datum is not one of the schema.
pub type Invalid = String;

/// One step of the walk.
enum Task<'s> {
    /// Read a value of this schema.
    Value(&'s Schema),
    /// Read the rest of an array's or map's items: `left` in the current block (0: read the
    /// next block's header).
    Items {
        item: &'s Schema,
        map: bool,
        left: u64,
    },
}

/// A map's keys.
static STRING: Schema = Schema::String;

/// Reads exactly one datum of `schema` from `bytes`.
pub fn check<'s>(side: &'s AvroSchema, schema: &'s Schema, bytes: &[u8]) -> Result<(), Invalid> {
    let mut r = Bytes { rest: bytes };
    let mut stack = vec![Task::Value(schema)];
    while let Some(task) = stack.pop() {
        match task {
            Task::Value(s) => value(side, s, &mut r, &mut stack)?,
            Task::Items { item, map, left } => {
                if left > 0 {
                    stack.push(Task::Items {
                        item,
                        map,
                        left: left - 1,
                    });
                    stack.push(Task::Value(item));
                    if map {
                        stack.push(Task::Value(&STRING));
                    }
                    continue;
                }
                let declared = r.long()?;
                if declared == 0 {
                    continue; // the end of the array or map
                }
                let count = declared.unsigned_abs();
                if declared < 0 {
                    let size = r.long()?;
                    if size < 0 {
                        return Err(format!("a block declares a negative size {size}"));
                    }
                }
                let per_item = min_size(side, item, &mut HashSet::new()) + u64::from(map);
                if per_item == 0 {
                    // Items of no bytes at all: the whole block is read.
                    stack.push(Task::Items { item, map, left: 0 });
                    continue;
                }
                let room = r.rest.len() as u64 / per_item;
                if count > room {
                    return Err(format!(
                        "a block declares {count} items, but the {} bytes left hold at most {room}",
                        r.rest.len()
                    ));
                }
                stack.push(Task::Items {
                    item,
                    map,
                    left: count,
                });
            }
        }
    }
    if !r.rest.is_empty() {
        return Err(format!(
            "{} bytes left over after a complete datum of {} bytes",
            r.rest.len(),
            bytes.len() - r.rest.len()
        ));
    }
    Ok(())
}

/// Reads one value of `s`, pushing what it contains.
fn value<'s>(
    side: &'s AvroSchema,
    s: &'s Schema,
    r: &mut Bytes,
    stack: &mut Vec<Task<'s>>,
) -> Result<(), Invalid> {
    match Checker::shape(side, s) {
        Shape::Null => {}
        Shape::Boolean => match r.take(1)? {
            [0] | [1] => {}
            [b] => return Err(format!("{b} is not a boolean")),
            _ => unreachable!("take(1) returns one byte"),
        },
        Shape::Int => {
            let v = r.long()?;
            if i32::try_from(v).is_err() {
                return Err(format!("{v} does not fit an int"));
            }
        }
        Shape::Long => {
            r.long()?;
        }
        Shape::Float => {
            r.take(4)?;
        }
        Shape::Double => {
            r.take(8)?;
        }
        Shape::Bytes => {
            let n = r.length()?;
            r.take(n)?;
        }
        Shape::String => {
            let n = r.length()?;
            let text = r.take(n)?;
            if std::str::from_utf8(text).is_err() {
                return Err("a string is not UTF-8".into());
            }
        }
        Shape::Fixed(_, size) => {
            r.take(size)?;
        }
        Shape::Enum(e) => {
            let i = r.long()?;
            if i < 0 || i as u64 >= e.symbols.len() as u64 {
                return Err(format!(
                    "enum index {i} is out of range for {} symbols",
                    e.symbols.len()
                ));
            }
        }
        Shape::Union(u) => {
            let i = r.long()?;
            let branch = usize::try_from(i)
                .ok()
                .and_then(|i| u.variants().get(i))
                .ok_or_else(|| {
                    format!(
                        "union index {i} is out of range for {} branches",
                        u.variants().len()
                    )
                })?;
            stack.push(Task::Value(branch));
        }
        Shape::Record(rec) => {
            for f in rec.fields.iter().rev() {
                stack.push(Task::Value(&f.schema));
            }
        }
        Shape::Array(item) => stack.push(Task::Items {
            item,
            map: false,
            left: 0,
        }),
        Shape::Map(item) => stack.push(Task::Items {
            item,
            map: true,
            left: 0,
        }),
    }
    Ok(())
}

/// The fewest bytes a value of `s` takes (a recursive type counts one byte where it recurs:
/// it must pass through a union or an array, which take at least that).
fn min_size<'s>(side: &'s AvroSchema, s: &'s Schema, seen: &mut HashSet<*const Schema>) -> u64 {
    match Checker::shape(side, s) {
        Shape::Null => 0,
        Shape::Boolean | Shape::Int | Shape::Long | Shape::Bytes | Shape::String => 1,
        Shape::Enum(_) | Shape::Union(_) | Shape::Array(_) | Shape::Map(_) => 1,
        Shape::Float => 4,
        Shape::Double => 8,
        Shape::Fixed(_, size) => size as u64,
        Shape::Record(rec) => {
            if !seen.insert(rec as *const _ as *const Schema) {
                return 1;
            }
            let total = rec
                .fields
                .iter()
                .map(|f| min_size(side, &f.schema, seen))
                .fold(0u64, u64::saturating_add);
            seen.remove(&(rec as *const _ as *const Schema));
            total
        }
    }
}

/// The unread rest of a datum.
struct Bytes<'a> {
    rest: &'a [u8],
}

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Invalid> {
        if n > self.rest.len() {
            return Err(format!(
                "the datum ends early: {n} bytes wanted, {} left",
                self.rest.len()
            ));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// A zig-zag varint of at most ten bytes.
    fn long(&mut self) -> Result<i64, Invalid> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let b = *self.take(1)?.first().unwrap_or(&0);
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
        }
        Err("a varint runs over ten bytes".into())
    }

    /// A length: a long that is not negative.
    fn length(&mut self) -> Result<usize, Invalid> {
        let n = self.long()?;
        usize::try_from(n).map_err(|_| format!("a length of {n}"))
    }
}

/// How many values one JSON datum check may visit: a union whose value fits several branches
/// is tried branch by branch, and unions nested in such branches multiply the tries.
const JSON_BUDGET: u64 = 1_000_000;

const TOO_COMPLEX: &str =
    "the datum is too complex to check: its union values fit too many branches to try them all";

/// Checks that `value` is one datum of `schema` in Avro's JSON form: the JSON encoding, where a
/// union's value is wrapped as `{"<branch type name>": value}`, or the plain JSON serializers
/// take (the value bare, matched against the branches in order). A record's fields the schema
/// does not declare are refused when `strict`.
pub fn check_json(
    side: &AvroSchema,
    schema: &Schema,
    value: &serde_json::Value,
    strict: bool,
) -> Result<(), Invalid> {
    let mut walk = JsonWalk {
        side,
        strict,
        budget: JSON_BUDGET,
    };
    walk.value(schema, value, &mut String::new())
}

struct JsonWalk<'s> {
    side: &'s AvroSchema,
    strict: bool,
    budget: u64,
}

/// Where a value sits, for messages (`/` at the top).
fn at(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// A JSON string as Avro bytes: each character one byte (ISO-8859-1), as the JSON encoding has it.
fn latin1_len(s: &str) -> Option<usize> {
    s.chars()
        .all(|c| (c as u32) <= 0xFF)
        .then(|| s.chars().count())
}

impl<'s> JsonWalk<'s> {
    fn value(
        &mut self,
        s: &'s Schema,
        v: &serde_json::Value,
        path: &mut String,
    ) -> Result<(), Invalid> {
        use serde_json::Value as J;
        if self.budget == 0 {
            return Err(TOO_COMPLEX.into());
        }
        self.budget -= 1;
        let shape = Checker::shape(self.side, s);
        let wrong = |shape: &Shape| {
            let found = match v {
                J::Null => "null",
                J::Bool(_) => "a boolean",
                J::Number(_) => "a number",
                J::String(_) => "a string",
                J::Array(_) => "an array",
                J::Object(_) => "an object",
            };
            format!("{} is {found}, not {}", at(path), shape.label())
        };
        match (&shape, v) {
            (Shape::Null, J::Null) | (Shape::Boolean, J::Bool(_)) => Ok(()),
            (Shape::Int, J::Number(n)) => match n.as_i64() {
                Some(i) if i32::try_from(i).is_ok() => Ok(()),
                _ => Err(format!("{} is {n}, which does not fit an int", at(path))),
            },
            (Shape::Long, J::Number(n)) => match n.as_i64() {
                Some(_) => Ok(()),
                None => Err(format!("{} is {n}, which does not fit a long", at(path))),
            },
            (Shape::Float | Shape::Double, J::Number(_)) => Ok(()),
            (Shape::Float | Shape::Double, J::String(t))
                if matches!(t.as_str(), "NaN" | "Infinity" | "-Infinity") =>
            {
                Ok(())
            }
            (Shape::String, J::String(_)) => Ok(()),
            (Shape::Bytes, J::String(t)) => latin1_len(t).map(|_| ()).ok_or_else(|| {
                format!(
                    "{} holds characters above U+00FF, which are no bytes",
                    at(path)
                )
            }),
            (Shape::Fixed(_, size), J::String(t)) => match latin1_len(t) {
                Some(n) if n == *size => Ok(()),
                Some(n) => Err(format!(
                    "{} has {n} bytes; the fixed type has {size}",
                    at(path)
                )),
                None => Err(format!(
                    "{} holds characters above U+00FF, which are no bytes",
                    at(path)
                )),
            },
            (Shape::Enum(e), J::String(t)) => {
                if e.symbols.iter().any(|s| s == t) {
                    Ok(())
                } else {
                    Err(format!(
                        "{} is '{t}', not a symbol of {} ({})",
                        at(path),
                        e.name.fullname(None),
                        e.symbols.join(", ")
                    ))
                }
            }
            (Shape::Array(item), J::Array(items)) => {
                for (i, x) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    self.value(item, x, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            (Shape::Map(item), J::Object(entries)) => {
                for (k, x) in entries {
                    let len = path.len();
                    path.push('/');
                    path.push_str(k);
                    self.value(item, x, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            (Shape::Record(rec), J::Object(fields)) => {
                for f in &rec.fields {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&f.name);
                    match fields.get(&f.name) {
                        Some(x) => self.value(&f.schema, x, path)?,
                        None if f.default.is_some() => {}
                        None => return Err(format!("{} is missing and has no default", at(path))),
                    }
                    path.truncate(len);
                }
                if self.strict {
                    if let Some(extra) = fields
                        .keys()
                        .find(|k| !rec.fields.iter().any(|f| &f.name == *k))
                    {
                        return Err(format!(
                            "{}/{extra} is no field of {}",
                            path,
                            rec.name.fullname(None)
                        ));
                    }
                }
                Ok(())
            }
            (Shape::Union(u), _) => self.union(u.variants(), v, path),
            (shape, _) => Err(wrong(shape)),
        }
    }

    /// The type name a branch goes by in the JSON encoding (`{"<name>": value}`).
    fn branch_name(&self, s: &'s Schema) -> String {
        match Checker::shape(self.side, s) {
            Shape::Record(r) => r.name.fullname(None),
            Shape::Enum(e) => e.name.fullname(None),
            Shape::Fixed(Some(f), _) => f.name.fullname(None),
            other => other.label().to_owned(),
        }
    }

    fn union(
        &mut self,
        branches: &'s [Schema],
        v: &serde_json::Value,
        path: &mut String,
    ) -> Result<(), Invalid> {
        // The JSON encoding: one key naming a branch (by full or simple name).
        if let serde_json::Value::Object(o) = v {
            if let (1, Some((key, inner))) = (o.len(), o.iter().next()) {
                let named = branches.iter().find(|b| {
                    let name = self.branch_name(b);
                    &name == key || name.rsplit('.').next() == Some(key.as_str())
                });
                if let Some(b) = named {
                    return self.value(b, inner, path);
                }
            }
        }
        // The value bare: the first branch it is a value of.
        let mut first_error = None;
        for b in branches {
            let len = path.len();
            match self.value(b, v, path) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    path.truncate(len);
                    if self.budget == 0 {
                        return Err(TOO_COMPLEX.into());
                    }
                    first_error.get_or_insert(e);
                }
            }
        }
        let names: Vec<String> = branches.iter().map(|b| self.branch_name(b)).collect();
        Err(format!(
            "{} matches no branch of the union [{}]{}",
            at(path),
            names.join(", "),
            first_error
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        ))
    }
}
