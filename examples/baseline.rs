//! The yardstick of `benches/load.sh`: a minimal axum JSON endpoint on the same stack and
//! machine as grantd. It parses the authorize body and answers a fixed decision, so the
//! ratio grantd/baseline shows what authentication, Cedar evaluation and the durable audit
//! append cost on top of HTTP + JSON.
//!
//! `cargo run --release --example baseline -- 127.0.0.1:18181`

use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18181".into());
    let app = Router::new().route(
        "/v1/authorize",
        post(|Json(body): Json<Value>| async move {
            let allowed = body.get("principal").is_some();
            Json(json!({
                "decision": if allowed { "allow" } else { "deny" },
                "deny_reason": null, "determining": [], "notices": [], "errors": [],
                "policy_set_version": 0
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    eprintln!("baseline listening on {addr}");
    axum::serve(listener, app).await.expect("serve");
}
