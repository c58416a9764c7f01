//! The registry over HTTP: where it is, the credentials, and the calls the commands make.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde::Deserialize;
use serde_json::Value;

/// The optional user config file (`~/.config/accord/config.toml`, or `$ACCORD_CLI_CONFIG`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub registry: Option<String>,
    /// `id:secret` of an Accord API key (or user:password for a registry behind Basic auth).
    pub api_key: Option<String>,
}

impl UserConfig {
    pub fn path() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("ACCORD_CLI_CONFIG") {
            return Some(PathBuf::from(p));
        }
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("accord").join("config.toml"))
    }

    pub fn load() -> Result<Self> {
        let Some(path) = Self::path() else {
            return Ok(Self::default());
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

/// An infrastructure failure (exit 2): the registry cannot be reached or answered oddly.
#[derive(Debug)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// An answer the registry gave with an error status.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = self.body["message"].as_str().unwrap_or("");
        write!(f, "the registry answered {}: {message}", self.status)?;
        if let Some(code) = self.body["error_code"].as_u64() {
            write!(f, " (error {code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Refused {}

pub struct Client {
    base: String,
    http: reqwest::Client,
    key: Option<(String, String)>,
}

impl Client {
    pub fn new(base: &str, api_key: Option<&str>) -> Result<Self> {
        let key = match api_key {
            Some(k) => {
                let (id, secret) = k
                    .split_once(':')
                    .ok_or_else(|| anyhow!("an API key is given as ID:SECRET"))?;
                Some((id.to_owned(), secret.to_owned()))
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
            key,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Calls the registry; `Ok` with the status and JSON body of any answer it gives (an error
    /// status included), `Err(Unreachable)` when there is none.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url).header(
            "accept",
            "application/vnd.schemaregistry.v1+json, application/json",
        );
        if let Some((id, secret)) = &self.key {
            req = req.basic_auth(id, Some(secret));
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/vnd.schemaregistry.v1+json")
                .body(b.to_string());
        }
        let answer = req
            .send()
            .await
            .map_err(|e| Unreachable(format!("cannot reach the registry at {}: {e}", self.base)))?;
        let status = answer.status().as_u16();
        let text = answer
            .text()
            .await
            .map_err(|e| Unreachable(format!("the registry's answer broke off: {e}")))?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status >= 500 {
            return Err(Unreachable(format!(
                "the registry failed ({status}): {}",
                value["message"].as_str().unwrap_or("")
            ))
            .into());
        }
        Ok((status, value))
    }

    /// [`Self::call`], with any error status as an error.
    pub async fn ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let (status, value) = self.call(method, path, body).await?;
        if !(200..300).contains(&status) {
            return Err(Refused {
                status,
                body: value,
            }
            .into());
        }
        Ok(value)
    }
}

/// A path segment, percent-encoded.
pub fn seg(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
