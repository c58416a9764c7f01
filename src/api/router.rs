//! Every route, in one place. Paths under `/contexts/{ctx}/…` are rewritten before routing into
//! the qualified-subject form (`/subjects/:.ctx:name/…`), so clients can point their registry URL
//! at a context.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::util::{MapRequestLayer, MapResponseLayer};
use tower::Layer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use super::error::{ErrorBody, IncompatibleAnswer, INCOMPATIBLE_CODE};
use super::openapi::ApiDoc;
use super::{
    auth, bindings, changes, changesets, config, contexts, governance, health, mode, root, schemas,
    subjects, validate, ApiError, AppState, SR_CONTENT_TYPE,
};
use crate::types::normalize_context;

/// The documented API: routes plus their OpenAPI description.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(root::root))
        .routes(routes!(root::version))
        .routes(routes!(schemas::types))
        .routes(routes!(schemas::list))
        .routes(routes!(schemas::by_id))
        .routes(routes!(schemas::raw_by_id))
        .routes(routes!(schemas::by_guid))
        .routes(routes!(schemas::raw_by_guid))
        .routes(routes!(schemas::ids_by_guid))
        .routes(routes!(schemas::subjects_by_id))
        .routes(routes!(schemas::versions_by_id))
        .routes(routes!(subjects::list))
        .routes(routes!(subjects::lookup, subjects::delete))
        .routes(routes!(subjects::versions, subjects::register))
        .routes(routes!(subjects::get_version, subjects::delete_version))
        .routes(routes!(subjects::get_version_schema))
        .routes(routes!(subjects::latest_with_metadata))
        .routes(routes!(subjects::referenced_by))
        .routes(routes!(subjects::compatibility_with_version))
        .routes(routes!(subjects::compatibility_with_all))
        .routes(routes!(
            config::get_global,
            config::put_global,
            config::delete_global
        ))
        .routes(routes!(
            config::get_subject,
            config::put_subject,
            config::delete_subject
        ))
        .routes(routes!(
            mode::get_global,
            mode::put_global,
            mode::delete_global
        ))
        .routes(routes!(
            mode::get_subject,
            mode::put_subject,
            mode::delete_subject
        ))
        .routes(routes!(contexts::list))
        .routes(routes!(contexts::delete))
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(validate::validate))
        .routes(routes!(changes::list))
        .routes(routes!(bindings::list))
        .routes(routes!(bindings::get, bindings::put, bindings::delete))
        .routes(routes!(governance::create_key, governance::list_keys))
        .routes(routes!(governance::revoke_key))
        .routes(routes!(governance::list_teams))
        .routes(routes!(
            governance::get_team,
            governance::put_team,
            governance::delete_team
        ))
        .routes(routes!(governance::get_subject, governance::put_subject))
        .routes(routes!(governance::add_consumer))
        .routes(routes!(governance::remove_consumer))
        .routes(routes!(governance::audit))
        .routes(routes!(governance::get_policy, governance::put_policy))
        .routes(routes!(governance::get_policy_version))
        .routes(routes!(governance::lint))
        .routes(routes!(changesets::plan))
        .routes(routes!(changesets::apply))
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let (router, mut api) = api_router().split_for_parts();
    super::openapi::finish(&mut api);
    let mut router = router
        // No validator badge: it would send the document to an outside service when opened.
        .merge(
            SwaggerUi::new("/docs")
                .url("/openapi.json", api)
                .config(utoipa_swagger_ui::Config::default().validator_url("none")),
        )
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                405,
                "HTTP 405 Method Not Allowed",
            )
        });
    // Without authentication everyone may do everything: the guard is not even installed, so
    // the open quick start pays nothing for it.
    if state.governance.auth_enabled {
        router = router.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ));
    }
    let registry = state.registry.clone();
    let router = router
        .route(
            "/metrics",
            axum::routing::get(move || {
                let registry = registry.clone();
                async move { metrics_page(&registry) }
            }),
        )
        .layer(axum::middleware::from_fn(track))
        .layer(TraceLayer::new_for_http())
        .layer(RequestIdLayer)
        .with_state(state.clone());
    // Plain map layers: no boxing or state extraction on the hot path.
    let code = state.incompatible_error_code;
    let router = MapResponseLayer::new(move |r| incompatible_code(code, r)).layer(router);
    let rewritten = MapRequestLayer::new(rewrite_context).layer(router);
    // `Accept` is settled first: a request nothing can answer is refused (406) untouched.
    Router::new().fallback_service(super::negotiate::NegotiateLayer.layer(rewritten))
}

/// The header carrying a request's id.
const X_REQUEST_ID: &str = "x-request-id";

/// Request ids for changes: every request that may change something (not GET or HEAD) gets an
/// id — the client's `x-request-id`, else a new one — which the handler sees (and the audit
/// log records) and the answer carries. Reads pass through untouched: they change nothing to
/// correlate, and the hottest read path should not pay for it.
#[derive(Clone, Copy)]
struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

#[derive(Clone)]
struct RequestIdService<S> {
    inner: S,
}

/// A new id: a random prefix per process and a counter (no system call, no lock).
/// Counts and times each request under its route template (never the raw path, whose subjects
/// and ids would make a label per value).
async fn track(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    let m = crate::metrics::global();
    m.latency
        .get_or_create(&crate::metrics::RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    m.requests
        .get_or_create(&crate::metrics::RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// `GET /metrics`: the Prometheus text exposition format.
fn metrics_page(registry: &crate::registry::Registry) -> axum::response::Response {
    use axum::response::IntoResponse;
    let m = crate::metrics::global();
    for (cache, hits, misses) in registry.cache_stats() {
        let label = crate::metrics::CacheLabels {
            cache: cache.to_owned(),
        };
        m.cache_hits
            .get_or_create(&label)
            .set(i64::try_from(hits).unwrap_or(i64::MAX));
        m.cache_misses
            .get_or_create(&label)
            .set(i64::try_from(misses).unwrap_or(i64::MAX));
    }
    let (open, idle) = registry.store().pool_connections();
    let gauge = |state: &str| {
        m.db_connections
            .get_or_create(&crate::metrics::PoolLabels {
                state: state.to_owned(),
            })
            .clone()
    };
    gauge("idle").set(idle as i64);
    gauge("in_use").set(i64::from(open).saturating_sub(idle as i64));
    gauge("waiting").set(registry.store().pool_waiting() as i64);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.render(),
    )
        .into_response()
}

fn next_request_id() -> HeaderValue {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        uuid::Uuid::new_v4().as_bytes()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    HeaderValue::from_str(&format!("{prefix}-{n:x}")).unwrap_or(HeaderValue::from_static("-"))
}

impl<S> tower::Service<Request<Body>> for RequestIdService<S>
where
    S: tower::Service<Request<Body>, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = futures::future::Either<
        S::Future,
        futures::future::BoxFuture<'static, Result<Response, S::Error>>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        if matches!(*req.method(), Method::GET | Method::HEAD) {
            return futures::future::Either::Left(self.inner.call(req));
        }
        let id = req
            .headers()
            .get(X_REQUEST_ID)
            .filter(|v| !v.is_empty() && v.len() <= 200)
            .cloned()
            .unwrap_or_else(next_request_id);
        req.headers_mut().insert(X_REQUEST_ID, id.clone());
        let answer = self.inner.call(req);
        futures::future::Either::Right(Box::pin(async move {
            let mut response = answer.await?;
            response.headers_mut().insert(X_REQUEST_ID, id);
            Ok(response)
        }))
    }
}

/// Applies the configured `error_code` to incompatible-schema answers.
fn incompatible_code(code: u32, response: Response) -> Response {
    match response.extensions().get::<IncompatibleAnswer>() {
        Some(IncompatibleAnswer(message)) if code != INCOMPATIBLE_CODE => {
            let body = ErrorBody {
                error_code: code,
                message: message.clone(),
                violations: Vec::new(),
            };
            let body = serde_json::to_vec(&body).unwrap_or_default();
            (
                StatusCode::CONFLICT,
                [(header::CONTENT_TYPE, SR_CONTENT_TYPE)],
                body,
            )
                .into_response()
        }
        _ => response,
    }
}

fn rewrite_context(mut req: Request<Body>) -> Request<Body> {
    if let Some(uri) = context_uri(req.uri()) {
        *req.uri_mut() = uri;
    }
    req
}

/// `/contexts/.ctx/subjects/s/…` → `/subjects/:.ctx:s/…` (and likewise for config, mode and
/// compatibility); listings and id lookups get the context as a query parameter.
fn context_uri(uri: &Uri) -> Option<Uri> {
    let rest = uri.path().strip_prefix("/contexts/")?;
    let (ctx, tail) = rest.split_once('/')?;
    let ctx = normalize_context(ctx)?;
    let qualify = |s: &str| {
        if s.starts_with(':') || s.to_ascii_lowercase().starts_with("%3a") {
            s.to_owned()
        } else {
            format!(":{ctx}:{s}")
        }
    };
    let scoped = |prefix: &str, t: &str| -> String {
        match t.split_once('/') {
            Some((s, more)) => format!("{prefix}/{}/{more}", qualify(s)),
            None if t.is_empty() => format!("{prefix}/:{ctx}:"),
            None => format!("{prefix}/{}", qualify(t)),
        }
    };
    let mut extra = None;
    let path = if tail == "subjects" || tail == "schemas" {
        extra = Some(format!("subjectPrefix=:{ctx}:"));
        format!("/{tail}")
    } else if let Some(t) = tail.strip_prefix("subjects/") {
        scoped("/subjects", t)
    } else if let Some(t) = tail.strip_prefix("compatibility/subjects/") {
        scoped("/compatibility/subjects", t)
    } else if tail == "config" || tail == "mode" {
        format!("/{tail}/:{ctx}:")
    } else if let Some(t) = tail.strip_prefix("config/") {
        scoped("/config", t)
    } else if let Some(t) = tail.strip_prefix("mode/") {
        scoped("/mode", t)
    } else if tail.starts_with("schemas/ids/") {
        extra = Some(format!("subject=:{ctx}:"));
        format!("/{tail}")
    } else {
        format!("/{tail}")
    };
    let query = match (uri.query(), extra) {
        (Some(q), Some(e)) => Some(format!("{q}&{e}")),
        (Some(q), None) => Some(q.to_owned()),
        (None, e) => e,
    };
    let full = match query {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    full.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(s: &str) -> Option<String> {
        context_uri(&s.parse().unwrap()).map(|u| u.to_string())
    }

    #[test]
    fn context_prefix_rewrites() {
        assert_eq!(
            rewrite("/contexts/.pay/subjects/o/versions").as_deref(),
            Some("/subjects/:.pay:o/versions")
        );
        assert_eq!(
            rewrite("/contexts/pay/subjects").as_deref(),
            Some("/subjects?subjectPrefix=:.pay:")
        );
        assert_eq!(
            rewrite("/contexts/.pay/config").as_deref(),
            Some("/config/:.pay:")
        );
        assert_eq!(
            rewrite("/contexts/.pay/config/o").as_deref(),
            Some("/config/:.pay:o")
        );
        assert_eq!(
            rewrite("/contexts/.pay/schemas/ids/3?x=1").as_deref(),
            Some("/schemas/ids/3?x=1&subject=:.pay:")
        );
        assert_eq!(
            rewrite("/contexts/.pay/compatibility/subjects/o/versions/latest").as_deref(),
            Some("/compatibility/subjects/:.pay:o/versions/latest")
        );
        assert_eq!(
            rewrite("/contexts/.pay/schemas/types").as_deref(),
            Some("/schemas/types")
        );
        assert_eq!(rewrite("/contexts/.pay"), None);
        assert_eq!(rewrite("/subjects"), None);
    }
}
