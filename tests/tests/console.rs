//! The console's static files over real HTTP: each with its content type and the strict headers
//! (the policy is exactly the documented one), no key needed. What the page does is tested in a
//! real browser by tests/console/test_console.py (scripts/console-test.sh).

use causeloop_tests::{spawn_app, Backend};

const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

#[tokio::test]
async fn every_console_file_is_served_with_strict_headers() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    for (path, content_type, marker) in [
        ("/", "text/html; charset=utf-8", "<title>Causeloop</title>"),
        ("/console/app.js", "text/javascript; charset=utf-8", "\"use strict\";"),
        ("/console/app.css", "text/css; charset=utf-8", ":root"),
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(header("content-type").as_deref(), Some(content_type), "{path}");
        assert_eq!(header("content-security-policy").as_deref(), Some(POLICY), "{path}");
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{path}");
        assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"), "{path}");
        assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{path}");
        assert!(header("set-cookie").is_none(), "{path}");
        assert!(response.text().await.unwrap().contains(marker), "{path}");
    }
    // Only the three files: nothing else under /console/ is served.
    assert_eq!(app.http.get(app.url("/console/other.js")).send().await.unwrap().status().as_u16(), 404);
}
