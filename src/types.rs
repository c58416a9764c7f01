//! Domain values shared by every layer. Each one parses on construction, so a value of one of
//! these types is always valid ("parse, don't validate").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The context every unqualified subject lives in.
pub const DEFAULT_CONTEXT: &str = ".";

/// The three schema formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    Avro,
    Protobuf,
    Json,
}

impl SchemaType {
    pub const ALL: [SchemaType; 3] = [SchemaType::Json, SchemaType::Protobuf, SchemaType::Avro];

    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Protobuf => "PROTOBUF",
            SchemaType::Json => "JSON",
        }
    }
}

impl FromStr for SchemaType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "AVRO" => Ok(SchemaType::Avro),
            "PROTOBUF" => Ok(SchemaType::Protobuf),
            "JSON" => Ok(SchemaType::Json),
            _ => Err(format!("Invalid schema type {s}")),
        }
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference from one schema to a named schema registered under another subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct SchemaReference {
    /// The name the referring schema uses (Avro full name, proto import path, JSON `$ref` URL).
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// A subject qualified with its context: `:.ctx:name`, or a plain name in the default context.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QualifiedSubject {
    pub context: String,
    pub name: String,
}

impl QualifiedSubject {
    /// Parses a subject as it appears in a URL or a reference. Invalid subjects (control
    /// characters, the reserved `__GLOBAL` and `__EMPTY`, a malformed context) are refused.
    pub fn parse(raw: &str) -> Result<Self, InvalidSubject> {
        if raw.chars().any(|c| c.is_control()) {
            return Err(InvalidSubject(raw.to_owned()));
        }
        let (context, name) = match raw.strip_prefix(':') {
            Some(rest) => {
                let (ctx, name) = rest
                    .split_once(':')
                    .ok_or_else(|| InvalidSubject(raw.to_owned()))?;
                (
                    normalize_context(ctx).ok_or_else(|| InvalidSubject(raw.to_owned()))?,
                    name,
                )
            }
            None => (DEFAULT_CONTEXT.to_owned(), raw),
        };
        if name == "__GLOBAL" || name == "__EMPTY" {
            return Err(InvalidSubject(raw.to_owned()));
        }
        Ok(Self {
            context,
            name: name.to_owned(),
        })
    }

    /// A subject named relative to another one: an unqualified reference lives in the context
    /// of the schema that makes it.
    pub fn parse_in(raw: &str, context: &str) -> Result<Self, InvalidSubject> {
        let mut s = Self::parse(raw)?;
        if !raw.starts_with(':') {
            s.context = context.to_owned();
        }
        Ok(s)
    }

    /// True for the bare `:.ctx:` form, which names a context rather than a subject.
    pub fn is_context_only(&self) -> bool {
        self.name.is_empty()
    }

    /// The subject as clients see it: plain in the default context, `:.ctx:name` elsewhere.
    pub fn display_name(&self) -> String {
        if self.context == DEFAULT_CONTEXT {
            self.name.clone()
        } else {
            format!(":{}:{}", self.context, self.name)
        }
    }

    /// The key config and mode rows are stored under for this subject.
    pub fn scope(&self) -> String {
        format!(":{}:{}", self.context, self.name)
    }
}

impl fmt::Display for QualifiedSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_name())
    }
}

/// Contexts are written `.name`; `.` is the default one. A bare name gets its dot.
pub fn normalize_context(raw: &str) -> Option<String> {
    let ctx = if raw.starts_with('.') {
        raw.to_owned()
    } else {
        format!(".{raw}")
    };
    let valid = ctx == "."
        || ctx[1..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    valid.then_some(ctx)
}

/// The scope key of the global config and mode.
pub const GLOBAL_SCOPE: &str = "__GLOBAL";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The specified subject '{0}' is not a valid.")]
pub struct InvalidSubject(pub String);

/// A version in a URL: a number in `[1, 2^31-1]`, or `latest` / `-1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionId {
    Latest,
    Number(i32),
}

impl VersionId {
    pub fn parse(raw: &str) -> Result<Self, InvalidVersion> {
        if raw.eq_ignore_ascii_case("latest") {
            return Ok(VersionId::Latest);
        }
        match raw.parse::<i32>() {
            Ok(-1) => Ok(VersionId::Latest),
            Ok(n) if n >= 1 => Ok(VersionId::Number(n)),
            _ => Err(InvalidVersion(raw.to_owned())),
        }
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionId::Latest => f.write_str("latest"),
            VersionId::Number(n) => write!(f, "{n}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
)]
pub struct InvalidVersion(pub String);

/// The seven compatibility levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl CompatibilityLevel {
    pub const ALL: [CompatibilityLevel; 7] = [
        CompatibilityLevel::None,
        CompatibilityLevel::Backward,
        CompatibilityLevel::BackwardTransitive,
        CompatibilityLevel::Forward,
        CompatibilityLevel::ForwardTransitive,
        CompatibilityLevel::Full,
        CompatibilityLevel::FullTransitive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityLevel::None => "NONE",
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
        }
    }
}

impl FromStr for CompatibilityLevel {
    type Err = ();
    /// Case-insensitive, as the reference accepts `backward` as well as `BACKWARD`.
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
            .ok_or(())
    }
}

/// Registry modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    Readwrite,
    Readonly,
    ReadonlyOverride,
    Import,
    Forward,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Readwrite => "READWRITE",
            Mode::Readonly => "READONLY",
            Mode::ReadonlyOverride => "READONLY_OVERRIDE",
            Mode::Import => "IMPORT",
            Mode::Forward => "FORWARD",
        }
    }

    /// Writes that carry an explicit id and version are allowed (and checks skipped).
    pub fn is_import(self) -> bool {
        matches!(self, Mode::Import | Mode::Forward)
    }

    pub fn is_read_only(self) -> bool {
        matches!(self, Mode::Readonly | Mode::ReadonlyOverride)
    }
}

impl FromStr for Mode {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [
            Mode::Readwrite,
            Mode::Readonly,
            Mode::ReadonlyOverride,
            Mode::Import,
            Mode::Forward,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(s))
        .ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_subjects() {
        let s = QualifiedSubject::parse("orders-value").unwrap();
        assert_eq!((s.context.as_str(), s.name.as_str()), (".", "orders-value"));
        let s = QualifiedSubject::parse(":.payments:orders-value").unwrap();
        assert_eq!(
            (s.context.as_str(), s.name.as_str()),
            (".payments", "orders-value")
        );
        assert_eq!(s.display_name(), ":.payments:orders-value");
        let s = QualifiedSubject::parse(":payments:x").unwrap();
        assert_eq!(s.context, ".payments");
        assert!(QualifiedSubject::parse(":.ctx:").unwrap().is_context_only());
        assert!(QualifiedSubject::parse("__GLOBAL").is_err());
        assert!(QualifiedSubject::parse("a\u{7}b").is_err());
        assert!(QualifiedSubject::parse(":.bad ctx:x").is_err());
        let r = QualifiedSubject::parse_in("addr", ".payments").unwrap();
        assert_eq!(r.context, ".payments");
    }

    #[test]
    fn versions() {
        assert_eq!(VersionId::parse("latest"), Ok(VersionId::Latest));
        assert_eq!(VersionId::parse("LATEST"), Ok(VersionId::Latest));
        assert_eq!(VersionId::parse("-1"), Ok(VersionId::Latest));
        assert_eq!(VersionId::parse("7"), Ok(VersionId::Number(7)));
        for bad in ["0", "-2", "abc", "", "2147483648", "1.5"] {
            assert!(VersionId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn levels_and_modes_parse_case_insensitively() {
        assert_eq!(
            "full_transitive".parse(),
            Ok(CompatibilityLevel::FullTransitive)
        );
        assert!("SIDEWAYS".parse::<CompatibilityLevel>().is_err());
        assert_eq!("import".parse(), Ok(Mode::Import));
    }
}
