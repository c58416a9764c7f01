//! API keys and who they make a request from. A key is an id (`ak` + 16 hex digits, not
//! secret) and a 256-bit random secret shown once; only the secret's SHA-256 is stored (a hash
//! that fast is enough for random secrets of that size: there is nothing to guess). Clients send
//! HTTP Basic (`id:secret`, what Confluent clients send with `basic.auth.user.info`) or
//! `Authorization: Bearer id:secret`.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{audit, Actor, Governance, GovernanceError, Result};
use crate::storage::{now_millis, ApiKeyRecord};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including keys, teams and the policy.
    Admin,
    /// Writes the subjects its team owns; reads everything.
    Member,
    /// Reads everything, writes nothing.
    Reader,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Reader => "reader",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            "reader" => Some(Role::Reader),
            _ => None,
        }
    }
}

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Authentication is off: every request may do everything.
    Anonymous,
    Key {
        id: String,
        role: Role,
        team: Option<String>,
    },
}

impl Principal {
    pub fn name(&self) -> &str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::Key { id, .. } => id,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Principal::Anonymous
                | Principal::Key {
                    role: Role::Admin,
                    ..
                }
        )
    }

    pub fn team(&self) -> Option<&str> {
        match self {
            Principal::Key { team, .. } => team.as_deref(),
            Principal::Anonymous => None,
        }
    }

    pub fn role(&self) -> Role {
        match self {
            Principal::Anonymous => Role::Admin,
            Principal::Key { role, .. } => *role,
        }
    }

    /// The actor recorded for changes this principal makes.
    pub fn actor(&self, request_id: Option<String>) -> Actor {
        Actor {
            principal: self.name().to_owned(),
            team: self.team().map(str::to_owned),
            request_id,
        }
    }
}

/// A new key: its record and the secret, which exists only in this answer.
pub struct NewKey {
    pub record: ApiKeyRecord,
    pub secret: String,
}

fn random_bytes() -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    out[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    out
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Equal-time comparison of two hex digests.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The `(id, secret)` an `Authorization` header carries, if it is Basic or Bearer.
pub fn credentials(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    let pair = if scheme.eq_ignore_ascii_case("basic") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        String::from_utf8(bytes).ok()?
    } else if scheme.eq_ignore_ascii_case("bearer") {
        rest.trim().to_owned()
    } else {
        return None;
    };
    let (id, secret) = pair.split_once(':').or_else(|| pair.split_once('.'))?;
    Some((id.to_owned(), secret.to_owned()))
}

impl Governance {
    /// Creates a key; the secret is returned once and never stored.
    pub async fn create_key(
        &self,
        actor: &Actor,
        role: Role,
        team: Option<String>,
        description: String,
        expires_at: Option<i64>,
    ) -> Result<NewKey> {
        match (role, &team) {
            (Role::Member, None) => {
                return Err(GovernanceError::Invalid("a member key needs a team".into()))
            }
            (Role::Admin | Role::Reader, Some(_)) => {
                return Err(GovernanceError::Invalid(format!(
                    "a {} key belongs to no team",
                    role.as_str()
                )))
            }
            _ => {}
        }
        let mut session = self.store.write(&super::governance_lock()).await?;
        if let Some(t) = &team {
            if session.team(t).await?.is_none() {
                return Err(GovernanceError::TeamNotFound(t.clone()));
            }
        }
        let raw = random_bytes();
        let id = format!(
            "ak{}",
            raw[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw[..]);
        let record = ApiKeyRecord {
            id,
            secret_hash: hash(&secret),
            role: role.as_str().into(),
            team,
            description,
            created_at: now_millis(),
            expires_at,
            revoked_at: None,
        };
        session.insert_api_key(&record).await?;
        audit::write(
            session.as_mut(),
            actor.record(
                "key.create",
                None,
                &record.id,
                None,
                Some(key_json(&record)),
            ),
        )
        .await?;
        session.commit().await?;
        tracing::info!(key = %record.id, role = role.as_str(), "api key created");
        Ok(NewKey { record, secret })
    }

    pub async fn keys(&self) -> Result<Vec<ApiKeyRecord>> {
        let mut session = self.store.read().await?;
        Ok(session.api_keys().await?)
    }

    /// Revokes a key; the next request with it is refused.
    pub async fn revoke_key(&self, actor: &Actor, id: &str) -> Result<ApiKeyRecord> {
        let mut session = self.store.write(&super::governance_lock()).await?;
        let Some(before) = session.api_key(id).await? else {
            return Err(GovernanceError::KeyNotFound(id.to_owned()));
        };
        let at = now_millis();
        // The last usable admin key cannot go: only the host could recover (by creating a
        // new one on the command line).
        let usable_admin = |k: &ApiKeyRecord| {
            k.role == "admin" && k.revoked_at.is_none() && k.expires_at.is_none_or(|e| e > at)
        };
        if usable_admin(&before) {
            let others = session
                .api_keys()
                .await?
                .iter()
                .filter(|k| k.id != before.id && usable_admin(k))
                .count();
            if others == 0 {
                return Err(GovernanceError::Invalid(
                    "the last admin key cannot be revoked: create another admin key first".into(),
                ));
            }
        }
        if session.revoke_api_key(id, at).await? {
            let mut after = before.clone();
            after.revoked_at = Some(at);
            audit::write(
                session.as_mut(),
                actor.record(
                    "key.revoke",
                    None,
                    id,
                    Some(key_json(&before)),
                    Some(key_json(&after)),
                ),
            )
            .await?;
            session.commit().await?;
            tracing::info!(key = %id, "api key revoked");
            return Ok(after);
        }
        Ok(before)
    }

    /// The principal an `Authorization` header names, or why it names none.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Principal> {
        if !self.auth_enabled {
            return Ok(Principal::Anonymous);
        }
        let unauthenticated = |m: &str| Err(GovernanceError::Unauthenticated(m.to_owned()));
        let Some(header) = header else {
            return unauthenticated(
                "Authentication required: send an API key (HTTP Basic or Bearer)",
            );
        };
        let Some((id, secret)) = credentials(header) else {
            return unauthenticated("Malformed Authorization header");
        };
        let mut session = self.store.read().await?;
        let Some(key) = session.api_key(&id).await? else {
            return unauthenticated("Unknown API key or wrong secret");
        };
        if !same(&key.secret_hash, &hash(&secret)) {
            return unauthenticated("Unknown API key or wrong secret");
        }
        if key.revoked_at.is_some() {
            return unauthenticated("The API key is revoked");
        }
        if key.expires_at.is_some_and(|t| t <= now_millis()) {
            return unauthenticated("The API key has expired");
        }
        let Some(role) = Role::parse(&key.role) else {
            return unauthenticated("The API key has an unknown role");
        };
        Ok(Principal::Key {
            id: key.id,
            role,
            team: key.team,
        })
    }
}

/// A key as recorded in the audit log and listed by the API: never the secret or its hash.
pub fn key_json(k: &ApiKeyRecord) -> serde_json::Value {
    serde_json::json!({
        "id": k.id,
        "role": k.role,
        "team": k.team,
        "description": k.description,
        "createdAt": k.created_at,
        "expiresAt": k.expires_at,
        "revokedAt": k.revoked_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_basic_and_bearer() {
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ak01:s3cret")
        );
        assert_eq!(credentials(&basic), Some(("ak01".into(), "s3cret".into())));
        assert_eq!(
            credentials("Bearer ak01:s3cret"),
            Some(("ak01".into(), "s3cret".into()))
        );
        assert_eq!(credentials("Bearer nocolon"), None);
        assert_eq!(credentials("Digest x"), None);
        assert_eq!(credentials("Basic %%%"), None);
        assert!(same(&hash("a"), &hash("a")));
        assert!(!same(&hash("a"), &hash("b")));
    }
}
