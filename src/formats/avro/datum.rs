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
