//! Change sets: several registrations decided together. A plan answers, per item, what
//! registering it would do under the server's rules, without storing anything; an apply
//! registers every item or none, in one transaction.
//!
//! Both run the same code: the items' registrations, in reference order, inside one write
//! session that holds every item's subject (and, shared, every other subject they reference),
//! through the registry's own registration path and governance checks. A plan then rolls back
//! (its new schemas took provisional ids, so it neither burns nor waits for the id counter);
//! an apply commits when every item passed.
//!
//! The verdicts are plain data (the `accord` CLI reads them, and builds them offline); the
//! engine that decides them is the server's.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::governance::Violation;
use crate::types::{CompatibilityLevel, SchemaType};

#[cfg(feature = "server")]
mod engine;
#[cfg(feature = "server")]
pub use engine::{run, Caller, Item, Run, SetError, MAX_ITEMS};

/// An item's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// The subject already has this schema: nothing to do.
    Unchanged,
    /// Registering it adds a version (applied: added it).
    New,
    /// Breaks the subject's compatibility level (`messages` say where).
    Incompatible,
    /// Enforced lint rules fail (`violations`).
    Lint,
    /// The caller's key may not change this subject (`owner` names who may).
    Forbidden,
    /// Refused for another reason: an invalid schema or reference, the subject's mode or
    /// lifecycle (`errorCode` and `message` as a single registration would answer).
    Invalid,
    /// Depends on an item that fails (`dependsOn`).
    Skipped,
}

impl Status {
    pub fn passed(self) -> bool {
        matches!(self, Status::Unchanged | Status::New)
    }
}

/// An item's verdict with its details.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemReport {
    pub subject: String,
    pub schema_type: SchemaType,
    pub status: Status,
    /// The version it has or gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    /// Its schema id; absent in a plan for a schema the registry does not have yet (ids are
    /// given when it is applied) and for a refused apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The error code a single registration of it would answer with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Incompatibilities, each naming where (the verbose compatibility messages).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    /// Enforced lint findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    /// Findings reported without refusing (lint warnings, a deprecated subject).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Violation>,
    /// The team that owns the subject, for a forbidden item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The compatibility level the subject's registrations are checked at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<CompatibilityLevel>,
    /// The failing items this one references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

impl ItemReport {
    /// Enforced lint rules fail.
    pub fn lint(mut self, violations: Vec<Violation>) -> Self {
        self.status = Status::Lint;
        self.error_code = Some(42253);
        self.message = Some(format!(
            "The schema breaks {} enforced lint rule(s) of the policy",
            violations.len()
        ));
        self.violations = violations;
        self
    }

    /// Breaks the subject's compatibility level (`messages`: the verbose ones).
    pub fn incompatible(mut self, messages: Vec<String>) -> Self {
        self.status = Status::Incompatible;
        self.error_code = Some(40901);
        self.message = Some(format!(
            "Schema being registered is incompatible with an earlier schema for subject \"{}\"",
            self.subject
        ));
        self.messages = messages;
        self
    }

    /// Not decided: it references `failed` items.
    pub fn skipped(mut self, failed: Vec<String>) -> Self {
        self.status = Status::Skipped;
        self.message = Some(format!(
            "Not decided: it references {}, which cannot be registered",
            failed.join(", ")
        ));
        self.depends_on = failed;
        self
    }

    /// A verdict with no details yet.
    pub fn blank(subject: String, schema_type: SchemaType, status: Status) -> Self {
        Self {
            subject,
            schema_type,
            status,
            version: None,
            id: None,
            error_code: None,
            message: None,
            messages: Vec::new(),
            violations: Vec::new(),
            warnings: Vec::new(),
            owner: None,
            compatibility: None,
            depends_on: Vec::new(),
        }
    }
}

/// The verdict on a whole change set.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Every item passed (an apply stored them).
    pub ok: bool,
    /// Whether anything was stored (an apply of a set that changes something and passes).
    pub applied: bool,
    /// The items, in the order they were sent.
    pub items: Vec<ItemReport>,
}

impl Report {
    /// The first failing item, in the order they were decided.
    pub fn first_failure(&self) -> Option<&ItemReport> {
        self.items
            .iter()
            .filter(|i| !i.status.passed() && i.status != Status::Skipped)
            .chain(self.items.iter().filter(|i| i.status == Status::Skipped))
            .next()
    }
}
