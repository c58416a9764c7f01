//! Content negotiation as the reference registry does it: a request's `Accept` header picks
//! which of the three JSON media types the answer is labelled with (the registry's own v1 type
//! first, then its unversioned type, then plain JSON); an `Accept` that admits none of them is
//! answered 406. Request bodies in UTF-16 or UTF-32 (told by a byte-order mark, the `charset`
//! parameter, or the pattern of zero bytes JSON text in those encodings starts with) are decoded.

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tower::Layer;

use super::{ApiError, SR_CONTENT_TYPE};

/// What the API can answer with, in the order it prefers them, with its own weight.
const PRODUCED: [(&str, f32); 3] = [
    (SR_CONTENT_TYPE, 1.0),
    ("application/vnd.schemaregistry+json", 0.9),
    ("application/json", 0.5),
];

/// The media type to answer a request with, from its `Accept` header (`None`: nothing
/// acceptable). A missing or empty header accepts anything.
pub fn choose(accept: Option<&str>) -> Option<&'static str> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(SR_CONTENT_TYPE);
    };
    let ranges: Vec<(String, String, f32)> = accept
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let media = parts.next()?.trim().to_ascii_lowercase();
            let (t, s) = media.split_once('/')?;
            let mut q = 1.0f32;
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("q") {
                        q = v.trim().parse().unwrap_or(0.0);
                    }
                }
            }
            Some((t.trim().to_owned(), s.trim().to_owned(), q))
        })
        .collect();
    // For each type we produce, the quality of the most specific range that matches it.
    let mut best: Option<(&'static str, f32, f32)> = None;
    for (media, weight) in PRODUCED {
        let (t, s) = media.split_once('/').unwrap_or((media, ""));
        let q = ranges
            .iter()
            .filter_map(|(rt, rs, q)| {
                let specificity = if rt == t && rs == s {
                    2
                } else if rt == t && rs == "*" {
                    1
                } else if rt == "*" && rs == "*" {
                    0
                } else {
                    return None;
                };
                Some((specificity, *q))
            })
            .max_by_key(|(specificity, _)| *specificity)
            .map(|(_, q)| q);
        let Some(q) = q.filter(|q| *q > 0.0) else {
            continue;
        };
        if best.is_none_or(|(_, bq, bw)| q > bq || (q == bq && weight > bw)) {
            best = Some((media, q, weight));
        }
    }
    best.map(|(media, _, _)| media)
}

/// The 406 answer.
fn not_acceptable() -> Response {
    ApiError::new(StatusCode::NOT_ACCEPTABLE, 406, "HTTP 406 Not Acceptable").into_response()
}

/// Paths that are not registry JSON (the API's own documentation pages).
fn negotiated(path: &str) -> bool {
    !(path.starts_with("/docs") || path == "/openapi.json" || path == "/metrics")
}

/// Applies [`choose`] to every registry request.
#[derive(Clone, Copy)]
pub struct NegotiateLayer;

impl<S> Layer<S> for NegotiateLayer {
    type Service = NegotiateService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        NegotiateService { inner }
    }
}

#[derive(Clone)]
pub struct NegotiateService<S> {
    inner: S,
}

impl<S> tower::Service<Request<Body>> for NegotiateService<S>
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

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let accept = req.headers().get(header::ACCEPT);
        // The common cases (no header, or one the default answers) pay nothing more.
        let event_stream = req.uri().path() == "/accord/v1/changes"
            && accept
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("text/event-stream"));
        if accept.is_none() || !negotiated(req.uri().path()) || event_stream {
            return futures::future::Either::Left(self.inner.call(req));
        }
        let chosen = choose(accept.and_then(|v| v.to_str().ok()));
        match chosen {
            Some(SR_CONTENT_TYPE) => futures::future::Either::Left(self.inner.call(req)),
            None => futures::future::Either::Right(Box::pin(async { Ok(not_acceptable()) })),
            Some(media) => {
                let answer = self.inner.call(req);
                futures::future::Either::Right(Box::pin(async move {
                    let mut response = answer.await?;
                    let ours = response
                        .headers()
                        .get(header::CONTENT_TYPE)
                        .is_some_and(|v| v.as_bytes() == SR_CONTENT_TYPE.as_bytes());
                    if ours {
                        response
                            .headers_mut()
                            .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
                    }
                    Ok(response)
                }))
            }
        }
    }
}

/// A request body as UTF-8 text: UTF-16 and UTF-32 bodies (by byte-order mark, `charset`, or
/// the zero-byte pattern of their first characters) are decoded, a UTF-8 byte-order mark is
/// dropped. `Err` names a body that does not decode.
pub fn utf8_body(bytes: Bytes, content_type: Option<&str>) -> Result<Bytes, String> {
    let charset = content_type
        .and_then(|ct| {
            ct.split(';').skip(1).find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("charset")
                    .then(|| v.trim().trim_matches('"').to_ascii_lowercase())
            })
        })
        .unwrap_or_default();
    let b = bytes.as_ref();
    let (encoding, skip) = match b {
        [0xEF, 0xBB, 0xBF, ..] => (Encoding::Utf8, 3),
        [0x00, 0x00, 0xFE, 0xFF, ..] => (Encoding::Utf32Be, 4),
        [0xFF, 0xFE, 0x00, 0x00, ..] => (Encoding::Utf32Le, 4),
        [0xFE, 0xFF, ..] => (Encoding::Utf16Be, 2),
        [0xFF, 0xFE, ..] => (Encoding::Utf16Le, 2),
        _ => match charset.as_str() {
            "utf-16be" => (Encoding::Utf16Be, 0),
            "utf-16le" => (Encoding::Utf16Le, 0),
            "utf-32be" => (Encoding::Utf32Be, 0),
            "utf-32le" => (Encoding::Utf32Le, 0),
            "utf-16" | "utf-32" | "" => (sniff(b, &charset), 0),
            _ => (Encoding::Utf8, 0),
        },
    };
    let rest = &b[skip..];
    let text = match encoding {
        Encoding::Utf8 if skip == 0 => return Ok(bytes),
        Encoding::Utf8 => return Ok(bytes.slice(skip..)),
        Encoding::Utf16Be | Encoding::Utf16Le => {
            if rest.len() % 2 != 0 {
                return Err("a UTF-16 body has an odd number of bytes".into());
            }
            let units = rest.chunks_exact(2).map(|c| match encoding {
                Encoding::Utf16Be => u16::from_be_bytes([c[0], c[1]]),
                _ => u16::from_le_bytes([c[0], c[1]]),
            });
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .map_err(|e| format!("the UTF-16 body does not decode: {e}"))?
        }
        Encoding::Utf32Be | Encoding::Utf32Le => {
            if rest.len() % 4 != 0 {
                return Err("a UTF-32 body's length is not a multiple of four".into());
            }
            rest.chunks_exact(4)
                .map(|c| {
                    let n = match encoding {
                        Encoding::Utf32Be => u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                        _ => u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                    };
                    char::from_u32(n).ok_or_else(|| format!("U+{n:X} is not a character"))
                })
                .collect::<Result<String, _>>()?
        }
    };
    Ok(Bytes::from(text.into_bytes()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf16Be,
    Utf16Le,
    Utf32Be,
    Utf32Le,
}

/// JSON text starts with two ASCII characters, so the zero bytes among its first four bytes
/// tell UTF-16 and UTF-32 (and their byte order) from UTF-8.
fn sniff(b: &[u8], charset: &str) -> Encoding {
    let guess = match b {
        [0, 0, 0, x, ..] if *x != 0 => Encoding::Utf32Be,
        [x, 0, 0, 0, ..] if *x != 0 => Encoding::Utf32Le,
        [0, x, 0, y, ..] if *x != 0 && *y != 0 => Encoding::Utf16Be,
        [x, 0, y, 0, ..] if *x != 0 && *y != 0 => Encoding::Utf16Le,
        [0, x, ..] if *x != 0 && b.len() == 2 => Encoding::Utf16Be,
        [x, 0] if *x != 0 => Encoding::Utf16Le,
        _ => Encoding::Utf8,
    };
    match (charset, guess) {
        ("utf-16", Encoding::Utf8) => Encoding::Utf16Be,
        ("utf-32", Encoding::Utf8) => Encoding::Utf32Be,
        _ => guess,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_the_answer_type() {
        assert_eq!(choose(None), Some(SR_CONTENT_TYPE));
        assert_eq!(choose(Some("*/*")), Some(SR_CONTENT_TYPE));
        assert_eq!(choose(Some("application/json")), Some("application/json"));
        assert_eq!(
            choose(Some("application/vnd.schemaregistry+json")),
            Some("application/vnd.schemaregistry+json")
        );
        assert_eq!(
            choose(Some(
                "application/json; q=1, application/vnd.schemaregistry.v1+json; q=0.5"
            )),
            Some("application/json")
        );
        assert_eq!(choose(Some("application/*")), Some(SR_CONTENT_TYPE));
        assert_eq!(choose(Some("text/html")), None);
        assert_eq!(choose(Some("application/json;q=0")), None);
        assert_eq!(choose(Some("text/html, */*;q=0.1")), Some(SR_CONTENT_TYPE));
    }

    #[test]
    fn wide_encodings_are_decoded() {
        let text = "{\"schema\": \"é\"}";
        let utf16le: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let utf16be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        let utf32be: Vec<u8> = text
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        for (bytes, ct) in [
            (utf16le.clone(), None),
            (utf16be.clone(), None),
            ([vec![0xFF, 0xFE], utf16le].concat(), None),
            (
                [vec![0xFE, 0xFF], utf16be].concat(),
                Some("application/json; charset=UTF-16"),
            ),
            (utf32be, None),
            (
                [vec![0xEF, 0xBB, 0xBF], text.as_bytes().to_vec()].concat(),
                None,
            ),
        ] {
            let got = utf8_body(Bytes::from(bytes), ct).unwrap();
            assert_eq!(std::str::from_utf8(&got).unwrap(), text);
        }
        assert!(utf8_body(Bytes::from_static(&[0xFF, 0xFE, 0x00, 0xD8]), None).is_err());
    }
}
