//! Compatibility config and modes, per scope: global, context (`:.ctx:`) and subject. The
//! effective value for a subject is subject, then context, then global, then the server default,
//! merged field by field.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{Registry, RegistryError, Result};
use crate::governance::Actor;
use crate::storage::Session;
use crate::types::{CompatibilityLevel, Mode, QualifiedSubject, GLOBAL_SCOPE};

/// A config document, as stored and as `GET /config` answers it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatibility_level: Option<CompatibilityLevel>,
    #[serde(flatten)]
    pub options: ConfigOptions,
}

/// The config fields besides the level, which `PUT` and `GET` spell alike.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalize: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatibility_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub default_metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub override_metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub default_rule_set: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub override_rule_set: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validate_fields: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validate_rules: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatibility_policy: Option<String>,
}

impl Config {
    /// A config that sets only the level.
    pub fn with_level(level: CompatibilityLevel) -> Config {
        Config {
            compatibility_level: Some(level),
            options: ConfigOptions::default(),
        }
    }

    /// `self` with every field `other` sets taken from `other`.
    pub fn overlay(mut self, other: &Config) -> Config {
        if other.compatibility_level.is_some() {
            self.compatibility_level = other.compatibility_level;
        }
        let (mine, theirs) = (&mut self.options, &other.options);
        macro_rules! take {
            ($($f:ident),*) => { $( if theirs.$f.is_some() { mine.$f = theirs.$f.clone(); } )* };
        }
        take!(
            normalize,
            compatibility_group,
            default_metadata,
            override_metadata,
            default_rule_set,
            override_rule_set,
            alias,
            validate_fields,
            validate_rules,
            compatibility_policy
        );
        self
    }
}

fn scope_of(subject: Option<&QualifiedSubject>) -> String {
    subject
        .map(QualifiedSubject::scope)
        .unwrap_or_else(|| GLOBAL_SCOPE.to_owned())
}

fn context_scope(subject: &QualifiedSubject) -> String {
    format!(":{}:", subject.context)
}

async fn stored_config(session: &mut dyn Session, scope: &str) -> Result<Option<Config>> {
    match session.config(scope).await? {
        None => Ok(None),
        Some(body) => serde_json::from_str(&body).map(Some).map_err(|e| {
            crate::storage::StoreError::Corrupt(format!("config {scope}: {e}")).into()
        }),
    }
}

impl Registry {
    /// The config in force for `subject`: subject over context over global over the default.
    pub(super) async fn config_in_scope(
        &self,
        session: &mut dyn Session,
        subject: &QualifiedSubject,
    ) -> Result<Config> {
        let mut config = Config::with_level(self.settings.default_compatibility);
        let mut scopes = vec![GLOBAL_SCOPE.to_owned(), context_scope(subject)];
        if !subject.is_context_only() {
            scopes.push(subject.scope());
        }
        let stored = session.configs(&scopes).await?;
        for scope in &scopes {
            if let Some((_, body)) = stored.iter().find(|(s, _)| s == scope) {
                let c: Config = serde_json::from_str(body).map_err(|e| {
                    crate::storage::StoreError::Corrupt(format!("config {scope}: {e}"))
                })?;
                config = config.overlay(&c);
            }
        }
        Ok(config)
    }

    /// The mode in force for `subject`: subject over context over global, READWRITE if none.
    pub(super) async fn mode_in_scope(
        &self,
        session: &mut dyn Session,
        subject: &QualifiedSubject,
    ) -> Result<Mode> {
        for scope in [
            subject.scope(),
            context_scope(subject),
            GLOBAL_SCOPE.to_owned(),
        ] {
            if let Some(m) = session.mode(&scope).await? {
                return Ok(m.parse().unwrap_or(Mode::Readwrite));
            }
        }
        Ok(Mode::Readwrite)
    }

    /// `GET /config[/{subject}]`.
    pub async fn get_config(
        &self,
        subject: Option<&QualifiedSubject>,
        default_to_global: bool,
    ) -> Result<Config> {
        let mut session = self.store.read().await?;
        match subject {
            None => Ok(
                Config::with_level(self.settings.default_compatibility).overlay(
                    &stored_config(session.as_mut(), GLOBAL_SCOPE)
                        .await?
                        .unwrap_or_default(),
                ),
            ),
            Some(s) if default_to_global => self.config_in_scope(session.as_mut(), s).await,
            Some(s) => stored_config(session.as_mut(), &s.scope())
                .await?
                .ok_or_else(|| RegistryError::SubjectConfigNotFound(s.display_name())),
        }
    }

    /// `PUT /config[/{subject}]`: merges `update` into the stored config and returns the result.
    pub async fn put_config(
        &self,
        subject: Option<&QualifiedSubject>,
        update: Config,
        actor: &Actor,
    ) -> Result<Config> {
        let scope = scope_of(subject);
        let lock = subject.cloned().unwrap_or_else(global_lock_subject);
        let mut session = self.store.write(&lock).await?;
        if let Some(s) = subject {
            if self
                .mode_in_scope(session.as_mut(), s)
                .await?
                .is_read_only()
            {
                return Err(RegistryError::OperationNotPermitted(format!(
                    "Subject {} is in read-only mode",
                    s.display_name()
                )));
            }
        }
        let before = stored_config(session.as_mut(), &scope).await?;
        let merged = before.clone().unwrap_or_default().overlay(&update);
        let body = serde_json::to_string(&merged)
            .map_err(|e| crate::storage::StoreError::Corrupt(e.to_string()))?;
        session.put_config(&scope, &body).await?;
        session
            .insert_audit(&actor.record(
                "config.put",
                subject,
                scope.clone(),
                before.map(|b| to_value(&b)),
                Some(to_value(&merged)),
            ))
            .await?;
        session.commit().await?;
        Ok(merged)
    }

    /// `DELETE /config[/{subject}]`: removes the scope's config and returns what it was.
    pub async fn delete_config(
        &self,
        subject: Option<&QualifiedSubject>,
        actor: &Actor,
    ) -> Result<Config> {
        let scope = scope_of(subject);
        let lock = subject.cloned().unwrap_or_else(global_lock_subject);
        let mut session = self.store.write(&lock).await?;
        let old = stored_config(session.as_mut(), &scope).await?;
        let old = match (old, subject) {
            (Some(c), _) => c,
            (None, Some(s)) => return Err(RegistryError::SubjectNotFound(s.display_name())),
            (None, None) => Config::with_level(self.settings.default_compatibility),
        };
        session.delete_config(&scope).await?;
        session
            .insert_audit(&actor.record(
                "config.delete",
                subject,
                scope.clone(),
                Some(to_value(&old)),
                None,
            ))
            .await?;
        session.commit().await?;
        Ok(old)
    }

    /// `DELETE /contexts/{context}`: forgets an empty context (its context-level config and
    /// mode). 42211 while any subject version, soft-deleted or not, is in it.
    pub async fn delete_context(&self, raw: &str, actor: &Actor) -> Result<()> {
        let context = crate::types::normalize_context(raw)
            .ok_or_else(|| RegistryError::SubjectNotFound(raw.to_owned()))?;
        let lock = QualifiedSubject {
            context: context.clone(),
            name: String::new(),
        };
        let scope = context_scope(&lock);
        let mut session = self.store.write(&lock).await?;
        if !session.all_versions(Some(&context)).await?.is_empty() {
            return Err(RegistryError::ContextNotEmpty(context));
        }
        let config = session.delete_config(&scope).await?;
        let mode = session.delete_mode(&scope).await?;
        if config || mode {
            session
                .insert_audit(&actor.record("context.delete", None, scope, None, None))
                .await?;
        }
        session.commit().await?;
        Ok(())
    }

    /// `GET /mode[/{subject}]`.
    pub async fn get_mode(
        &self,
        subject: Option<&QualifiedSubject>,
        default_to_global: bool,
    ) -> Result<Mode> {
        let mut session = self.store.read().await?;
        match subject {
            None => Ok(session
                .mode(GLOBAL_SCOPE)
                .await?
                .and_then(|m| m.parse().ok())
                .unwrap_or(Mode::Readwrite)),
            Some(s) if default_to_global => self.mode_in_scope(session.as_mut(), s).await,
            Some(s) => session
                .mode(&s.scope())
                .await?
                .and_then(|m| m.parse().ok())
                .ok_or_else(|| RegistryError::SubjectModeNotFound(s.display_name())),
        }
    }

    /// `PUT /mode[/{subject}]`. Entering IMPORT where schemas exist needs `force`.
    pub async fn put_mode(
        &self,
        subject: Option<&QualifiedSubject>,
        mode: Mode,
        force: bool,
        actor: &Actor,
    ) -> Result<Mode> {
        if subject.is_some_and(|s| !s.is_context_only()) && mode == Mode::Forward {
            return Err(RegistryError::InvalidMode);
        }
        let scope = scope_of(subject);
        let lock = subject.cloned().unwrap_or_else(global_lock_subject);
        let mut session = self.store.write(&lock).await?;
        if mode == Mode::Import && !force {
            let has_schemas = match subject {
                Some(s) if !s.is_context_only() => {
                    session.versions(s).await?.iter().any(|v| !v.deleted)
                }
                Some(s) => !session.subjects(Some(&s.context)).await?.is_empty(),
                None => !session.subjects(None).await?.is_empty(),
            };
            if has_schemas {
                return Err(RegistryError::OperationNotPermitted(
                    "Cannot import since found existing subjects".into(),
                ));
            }
        }
        let before = session.mode(&scope).await?;
        session.put_mode(&scope, mode.as_str()).await?;
        session
            .insert_audit(&actor.record(
                "mode.put",
                subject,
                scope.clone(),
                before.map(serde_json::Value::String),
                Some(serde_json::Value::String(mode.as_str().into())),
            ))
            .await?;
        session.commit().await?;
        Ok(mode)
    }

    /// `DELETE /mode[/{subject}]`: removes the scope's mode (and, with `recursive`, the modes
    /// of the subjects below a context) and returns what it was.
    pub async fn delete_mode(
        &self,
        subject: Option<&QualifiedSubject>,
        recursive: bool,
        actor: &Actor,
    ) -> Result<Mode> {
        let scope = scope_of(subject);
        let lock = subject.cloned().unwrap_or_else(global_lock_subject);
        let mut session = self.store.write(&lock).await?;
        let old = session.mode(&scope).await?.and_then(|m| m.parse().ok());
        if recursive {
            let prefix = match subject {
                Some(s) if s.is_context_only() => s.scope(),
                Some(_) => scope.clone(),
                None => ":".to_owned(),
            };
            for (s, _) in session.modes_with_prefix(&prefix).await? {
                session.delete_mode(&s).await?;
            }
        }
        let old = match (old, subject) {
            (Some(m), _) => m,
            (None, Some(s)) if !recursive => {
                return Err(RegistryError::SubjectNotFound(s.display_name()))
            }
            (None, _) => Mode::Readwrite,
        };
        session.delete_mode(&scope).await?;
        session
            .insert_audit(&actor.record(
                "mode.delete",
                subject,
                scope.clone(),
                Some(serde_json::Value::String(old.as_str().into())),
                None,
            ))
            .await?;
        session.commit().await?;
        Ok(old)
    }
}

fn to_value(c: &Config) -> serde_json::Value {
    serde_json::to_value(c).unwrap_or(serde_json::Value::Null)
}

/// Global settings changes serialise on a lock of their own.
fn global_lock_subject() -> QualifiedSubject {
    QualifiedSubject {
        context: ".".into(),
        name: GLOBAL_SCOPE.into(),
    }
}
