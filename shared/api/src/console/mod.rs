//! The `console` family: the web console's static assets (`docs/console.md`).
//!
//! Three hand-written files — an HTML shell, one script, one stylesheet — compiled into the
//! binary with `include_str!`. There is no framework, CDN, web font or build step: the whole
//! console is a few tens of kilobytes that nothing outside this repository can change (no
//! supply chain), and serving it costs a Lambda no file system read and no extra cold start.
//!
//! The console holds no privilege of its own: it calls the public API from the browser with the
//! key the person signed in with, so it can never do what the API would refuse. Every answer
//! here carries a strict Content-Security-Policy (scripts and styles from this origin only, no
//! inline script, no framing, no requests to other origins), `nosniff` and `no-referrer`.

use crate::state::AppState;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Every route of the family, as (method, path); `openapi.yaml` and `template.yaml` are checked
/// against these.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/"), ("GET", "/console/app.js"), ("GET", "/console/app.css")];

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");

/// The policy every console answer carries. `img-src data:` admits nothing that can run;
/// `connect-src 'self'` keeps every API call on this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }))
        .route("/console/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }))
        .route("/console/app.css", get(|| async { asset("text/css; charset=utf-8", APP_CSS) }))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Small files that change with each release: revalidate rather than cache stale code.
        (header::CACHE_CONTROL, "no-cache"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_assets_and_has_no_inline_script() {
        assert!(INDEX_HTML.contains(r#"<script src="/console/app.js" defer></script>"#));
        assert!(INDEX_HTML.contains(r#"<link rel="stylesheet" href="/console/app.css">"#));
        assert_eq!(INDEX_HTML.matches("<script").count(), 1, "one script element, external");
        let lower = INDEX_HTML.to_ascii_lowercase();
        let inline_handler = lower.split(|c: char| c.is_whitespace()).any(|word| {
            word.strip_prefix("on")
                .and_then(|rest| rest.split_once('='))
                .is_some_and(|(name, _)| !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase()))
        });
        assert!(!inline_handler, "an inline event handler attribute");
        assert!(!lower.contains("javascript:"), "a javascript: URL");
        for forbidden in ["http://", "https://", "//cdn", "style=\""] {
            assert!(!INDEX_HTML.contains(forbidden), "index.html contains {forbidden}");
        }
    }

    #[test]
    fn the_script_never_writes_markup() {
        for forbidden in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
            assert!(!APP_JS.contains(forbidden), "app.js uses {forbidden}");
        }
        for forbidden in ["localStorage", "document.cookie", "console.log"] {
            assert!(!APP_JS.contains(forbidden), "app.js uses {forbidden}: the key stays in sessionStorage");
        }
    }
}
