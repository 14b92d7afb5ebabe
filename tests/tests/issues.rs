//! The issues API over real HTTP on both backends: filters, pagination, PATCH and its event.

use causeloop_tests::{both_backends, TestApp};
use serde_json::{json, Value};

async fn list_filter_paginate_and_resolve(app: TestApp) {
    let key = &app.owner.key;
    let records: Vec<Value> = (0..7)
        .map(|n| {
            json!({
                "source": if n < 4 { "pagerduty" } else { "custom_api" },
                "external_id": format!("pd-{n}"),
                "title": format!("Checkout latency {n}"),
                "severity": if n % 2 == 0 { "critical" } else { "low" },
                "service": if n == 6 { "payments" } else { "checkout" },
            })
        })
        .collect();
    let (status, _) = app.post("/v1/ingest/batch", key, &json!({"records": records})).await;
    assert_eq!(status, 202);

    let mut seen = Vec::new();
    let mut path = "/v1/issues?limit=3".to_string();
    loop {
        let (status, page) = app.get(&path, key).await;
        assert_eq!(status, 200, "{page}");
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 3);
        seen.extend(data.iter().map(|issue| issue["external_id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/issues?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, (0..7).map(|n| format!("pd-{n}")).collect::<Vec<_>>(), "every Issue exactly once");

    let (_, critical_pd) = app.get("/v1/issues?source=pagerduty&severity=p1", key).await;
    assert_eq!(critical_pd["data"].as_array().unwrap().len(), 2, "pd-0 and pd-2");
    let (_, payments) = app.get("/v1/issues?service=payments", key).await;
    assert_eq!(payments["data"][0]["external_id"], "pd-6");
    let (_, future) = app.get("/v1/issues?since=2999-01-01T00:00:00Z", key).await;
    assert_eq!(future["data"], json!([]));
    // A present filter must be valid: `since=`, `status=` and `severity=` (empty) are rejected,
    // not read as "no filter".
    let bad_params = [
        "limit=0",
        "limit=abc",
        "status=closed",
        "status=",
        "severity=purple",
        "severity=",
        "since=yesterday",
        "since=",
    ];
    for bad in bad_params.into_iter().chain(["cursor=zzz"]) {
        let (status, body) = app.get(&format!("/v1/issues?{bad}"), key).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["field"], bad.split('=').next().unwrap(), "{bad} names its parameter: {body}");
    }

    let id = payments["data"][0]["id"].as_str().unwrap().to_string();
    let patch = |body: Value| app.http.patch(app.url(&format!("/v1/issues/{id}"))).bearer_auth(key).json(&body).send();
    let resolved: Value =
        patch(json!({"status": "resolved", "resolution": {"fix": "raise pool size to 50", "note": "INC-7"}}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolution"]["fix"], "raise pool size to 50");
    let (_, open) = app.get("/v1/issues?status=open", key).await;
    assert_eq!(open["data"].as_array().unwrap().len(), 6);
    for (body, code) in [
        (json!({"status": "closed"}), "invalid_value"),
        (json!({"title": "renamed"}), "unknown_field"),
        (json!({}), "empty_patch"),
        (json!({"resolution": "fixed"}), "invalid_type"),
        (json!({"status": "open", "resolution": {"fix": "x"}}), "invalid_value"),
    ] {
        let response = patch(body.clone()).await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{body}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"], code, "{body}");
    }
    let reader = app.key(&app.owner_slug, "issues:read").await;
    let forbidden =
        app.http.patch(app.url(&format!("/v1/issues/{id}"))).bearer_auth(&reader.key).json(&json!({"status": "open"}));
    let forbidden: Value = forbidden.send().await.unwrap().json().await.unwrap();
    assert_eq!(forbidden["required_scope"], "issues:write");

    let reopened: Value = patch(json!({"status": "open"})).await.unwrap().json().await.unwrap();
    assert_eq!(reopened["status"], "open");
    let events = app.drain_events().await;
    let resolved_events: Vec<&Value> = events.iter().filter(|e| e["event_type"] == "issue.resolved").collect();
    assert_eq!(resolved_events.len(), 1);
    assert_eq!(resolved_events[0]["data"]["issue"]["id"], id.as_str());
}
both_backends!(issues_list_filter_paginate_and_resolve, list_filter_paginate_and_resolve);
