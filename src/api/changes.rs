//! `/accord/v1/changes`: the change log, as pages (long-polled with `wait`) or as Server-Sent
//! Events on `Accept: text/event-stream` (`id:` is the sequence, so `Last-Event-ID` resumes).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ErrorBody;
use super::{ApiError, AppState, Query, SrJson};
use crate::changes::{ChangePage, FeedError};

/// Entries a page holds at most.
const MAX_LIMIT: i64 = 1000;
/// The longest a reader may wait in one request.
const MAX_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesParams {
    /// Answer entries with a higher sequence (default 0: from the oldest kept). For SSE the
    /// `Last-Event-ID` header takes precedence.
    after: Option<i64>,
    /// Entries per page, 1 to 1000 (default 100).
    limit: Option<i64>,
    /// Wait up to this long for an entry when there is none yet: `30s`, `500ms` or seconds
    /// (at most 60 s).
    wait: Option<String>,
}

/// Parses `30s`, `500ms`, `2m` or a number of seconds.
fn duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let (number, unit) = match raw.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => raw.split_at(i),
        None => (raw, "s"),
    };
    let n: f64 = number.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

fn feed_error(e: FeedError) -> ApiError {
    match e {
        FeedError::Expired { .. } => ApiError::new(StatusCode::GONE, 41001, e.to_string()),
        FeedError::Store(e) => crate::registry::RegistryError::from(e).into(),
    }
}

/// The change log in commit order: every committed change has exactly one entry, numbered
/// without gaps. With `wait`, the request is held until an entry newer than `after` commits
/// (on any instance sharing the database) or the wait ends. With `Accept: text/event-stream`
/// the answer is a stream of Server-Sent Events, one per entry (`id:` the sequence, `event:`
/// the kind, `data:` the entry as JSON), resumable with `Last-Event-ID`.
#[utoipa::path(get, path = "/accord/v1/changes", operation_id = "listChanges", tag = "changes",
    params(ChangesParams),
    responses(
        (status = 200, description = "A page of entries (or an event stream on Accept: text/event-stream)", body = ChangePage),
        (status = 400, description = "A malformed parameter", body = ErrorBody),
        (status = 410, description = "Entries after `after` were removed by retention: resync (41001)", body = ErrorBody)))]
pub async fn list(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<ChangesParams>,
) -> Result<Response, ApiError> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "Invalid query parameter: limit must be 1 to {MAX_LIMIT}"
        )));
    }
    let wait = match p.wait.as_deref() {
        None => None,
        Some(w) => Some(duration(w).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Invalid query parameter: wait '{w}' is not a duration such as 30s or 500ms"
            ))
        })?),
    };
    let mut after = p.after.unwrap_or(0).max(0);
    let sse = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    if !sse {
        let page = st
            .changes
            .read(after, limit, wait.map(|w| w.min(MAX_WAIT)))
            .await
            .map_err(feed_error)?;
        return Ok(SrJson(page).into_response());
    }
    if let Some(last) = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
    {
        after = last.max(0);
    }
    // Refuse an expired position before the stream starts, with the usual error body.
    st.changes.read(after, 1, None).await.map_err(feed_error)?;
    let feed = st.changes.clone();
    let stream = futures::stream::unfold((after, false), move |(after, ended)| {
        let feed = feed.clone();
        async move {
            if ended || feed.is_closing() {
                return None;
            }
            let events: Vec<Result<Event, Infallible>> =
                match feed.read(after, limit, Some(Duration::from_secs(15))).await {
                    Ok(page) => {
                        let next = page.next;
                        let events: Vec<Result<Event, Infallible>> = page
                            .changes
                            .iter()
                            .map(|c| {
                                Ok(Event::default()
                                    .id(c.seq.to_string())
                                    .event(c.kind.clone())
                                    .data(serde_json::to_string(c).unwrap_or_default()))
                            })
                            .collect();
                        return Some((futures::stream::iter(events), (next, false)));
                    }
                    Err(e) => vec![Ok(Event::default().event("error").data(
                        serde_json::json!({"error_code": 41001, "message": e.to_string()})
                            .to_string(),
                    ))],
                };
            Some((futures::stream::iter(events), (after, true)))
        }
    });
    use futures::StreamExt;
    Ok(Sse::new(stream.flatten())
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(duration("soon"), None);
        assert_eq!(duration("-1s"), None);
    }
}
