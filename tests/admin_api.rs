//! The admin API, endpoint by endpoint, with its errors and its guard.

use crate::support::client::{call, get};
use crate::support::upstream;
use crate::support::{self, http_target};

#[tokio::test]
async fn every_endpoint_answers_and_explains_its_errors() {
    let up = upstream::mirror().await;
    let proxy = support::start(&http_target("payments", up, "")).await;
    let (admin, target) = (proxy.addr("admin"), proxy.addr("payments"));
    let none: &[(&str, &str)] = &[];

    assert_eq!(call(admin, "GET", "/health", "", none).await, (200, r#"{"status":"ok"}"#.into()));
    assert_eq!(call(admin, "GET", "/ready", "", none).await.0, 200);
    let (status, list) = call(admin, "GET", "/targets", "", none).await;
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_str(&list).expect("json");
    assert_eq!(list[0]["name"], "payments");
    assert_eq!(list[0]["protocol"], "http");
    assert_eq!(list[0]["listen"], target.to_string());
    assert_eq!(list[0]["upstream"], format!("http://{up}"));
    assert_eq!(call(admin, "GET", "/targets/payments", "", none).await.0, 200);
    let (status, body) = call(admin, "GET", "/targets/paymnts", "", none).await;
    assert_eq!(
        (status, body.as_str()),
        (404, r#"{"error":"no target named \"paymnts\"; targets: payments","status":404}"#)
    );

    // Add a fault: the next request on the wire meets it.
    let (status, body) =
        call(admin, "POST", "/targets/payments/faults", r#"{"kind": "error", "status": 503}"#, none).await;
    assert_eq!(status, 201, "{body}");
    assert!(body.contains(r#""name":"error""#), "{body}");
    assert_eq!(get(target, "/v1/charges").await.0, 503);
    let (status, body) =
        call(admin, "POST", "/targets/payments/faults", r#"{"kind": "error", "status": 500}"#, none).await;
    assert_eq!(status, 409, "a second fault with the same name: {body}");
    let (status, body) =
        call(admin, "POST", "/targets/payments/faults", r#"{"kind": "error", "status": 700}"#, none).await;
    assert_eq!(
        (status, body.as_str()),
        (400, r#"{"error":"fault.status must be an HTTP status from 100 to 599, got 700","status":400}"#)
    );
    let (status, body) = call(admin, "POST", "/targets/payments/faults", r#"{"kind": "latncy"}"#, none).await;
    assert_eq!(status, 400);
    assert!(body.contains("did you mean `latency`?"), "{body}");
    let (status, body) = call(admin, "POST", "/targets/payments/faults", "{not json", none).await;
    assert_eq!(status, 400);
    assert!(body.contains("the body is not valid JSON"), "{body}");
    let (status, body) = call(admin, "POST", "/targets/nope/faults", r#"{"kind": "reset"}"#, none).await;
    assert_eq!(status, 404, "{body}");

    // Read, change and remove it.
    let (status, body) = call(admin, "GET", "/targets/payments/faults", "", none).await;
    assert_eq!(status, 200);
    assert!(body.contains(r#""kind":"error""#) && body.contains(r#""applied":1"#), "{body}");
    assert_eq!(call(admin, "GET", "/targets/payments/faults/error", "", none).await.0, 200);
    assert_eq!(call(admin, "GET", "/targets/payments/faults/nope", "", none).await.0, 404);
    let (status, body) =
        call(admin, "PUT", "/targets/payments/faults/error", r#"{"kind": "error", "status": 502}"#, none).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(target, "/").await.0, 502);
    assert_eq!(call(admin, "PUT", "/targets/payments/faults/nope", r#"{"kind": "reset"}"#, none).await.0, 404);
    assert_eq!(call(admin, "DELETE", "/targets/payments/faults/error", "", none).await.0, 204);
    assert_eq!(get(target, "/").await.0, 200, "traffic passes untouched again");
    let (status, body) = call(admin, "DELETE", "/targets/payments/faults/error", "", none).await;
    assert_eq!(
        (status, body.as_str()),
        (404, r#"{"error":"target payments has no fault named \"error\"","status":404}"#)
    );
    assert_eq!(call(admin, "POST", "/targets/payments/faults", r#"{"kind": "reset", "name": "r"}"#, none).await.0, 201);
    assert_eq!(call(admin, "DELETE", "/targets/payments/faults", "", none).await.0, 204);
    assert_eq!(get(target, "/").await.0, 200);

    // The rest.
    let (status, body) = call(admin, "GET", "/nowhere", "", none).await;
    assert_eq!((status, body.as_str()), (404, r#"{"error":"no admin endpoint GET /nowhere","status":404}"#));
    let (status, body) = call(admin, "POST", "/run/stop", "", none).await;
    assert_eq!((status, body.as_str()), (409, r#"{"error":"no run in progress","status":409}"#));
    let (status, _) = call(admin, "GET", "/metrics", "", none).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn oversized_bodies_and_browsers_are_refused() {
    let up = upstream::mirror().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let admin = proxy.addr("admin");
    let big = "x".repeat(2 * 1024 * 1024);
    let (status, body) = call(admin, "POST", "/targets/t/faults", &big, &[]).await;
    assert_eq!(status, 413, "{body}");
    let ua = [("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36")];
    let (status, body) = call(admin, "GET", "/targets", "", &ua).await;
    assert_eq!(status, 403, "{body}");
    let tool = [("user-agent", "toxiproxy-cli/2.9")];
    assert_eq!(call(admin, "GET", "/targets", "", &tool).await.0, 200);
}

#[tokio::test]
async fn a_token_guards_every_request_and_a_refused_one_changes_nothing() {
    let dir = std::env::temp_dir().join(format!("brownout-admin-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let token_file = dir.join("token");
    std::fs::write(&token_file, "s3cret-token\n").expect("token");
    let up = upstream::mirror().await;
    let config = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken_file = {:?}\n[[target]]\nname = \"t\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{up}\"\n",
        token_file.display().to_string()
    );
    let parsed = brownout::config::parse("token.toml", &config, None).expect("valid");
    assert!(!format!("{:?}", parsed.admin).contains("s3cret"), "the token shows in debug output");
    let proxy = support::start(&config).await;
    let admin = proxy.addr("admin");
    let fault = r#"{"kind": "error", "status": 503}"#;
    assert_eq!(call(admin, "GET", "/health", "", &[]).await.0, 401);
    let (status, body) = call(admin, "POST", "/targets/t/faults", fault, &[("authorization", "Bearer wrong")]).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("missing or wrong token") && !body.contains("s3cret"), "{body}");
    assert_eq!(get(proxy.addr("t"), "/").await.0, 200, "a refused request changed nothing");
    let good = [("authorization", "Bearer s3cret-token")];
    assert_eq!(call(admin, "POST", "/targets/t/faults", fault, &good).await.0, 201);
    assert_eq!(get(proxy.addr("t"), "/").await.0, 503);
}

#[test]
fn a_non_loopback_admin_without_a_token_refuses_to_start() {
    let err = brownout::config::parse("open.toml", "[admin]\nlisten = \"0.0.0.0:8474\"\n", None)
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains(
            "open.toml:2:10: admin.listen 0.0.0.0:8474 is not a loopback address, so the admin API needs a token"
        ),
        "{err}"
    );
    assert!(err.contains("hint: set admin.token_file or admin.token_env"), "{err}");
}
