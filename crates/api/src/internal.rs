//! Sesame's own unauthenticated endpoints under `/_sesame/`: the capture store of
//! accepted mail (`GET`/`DELETE /_sesame/messages`) and email verification links.

use crate::protocol::Reply;
use crate::server::AppState;
use serde_json::json;

pub fn handle(state: &AppState, method: &str, path: &str) -> Reply {
    match (method, path) {
        ("GET", "/_sesame/messages") => match state.ses.captured() {
            Ok(messages) => {
                let list: Vec<_> = messages
                    .iter()
                    .map(|m| json!({
                        "messageId": m.message_id,
                        "account": m.account,
                        "region": m.region,
                        "source": m.source,
                        "destination": m.destination,
                        "raw": m.raw,
                        "fromIdentity": m.from_identity,
                        "configurationSet": m.configuration_set,
                        "suppressed": m.suppressed.iter().map(|s| json!({
                            "address": s.address,
                            "reason": s.reason.name(),
                        })).collect::<Vec<_>>(),
                        "timestamp": iam::ids::iso8601(m.created_ms),
                    }))
                    .collect();
                json_reply(200, &json!({ "messages": list }))
            }
            Err(e) => json_reply(500, &json!({ "message": e.to_string() })),
        },
        ("DELETE", "/_sesame/messages") => match state.ses.clear_captured() {
            Ok(n) => json_reply(200, &json!({ "deleted": n })),
            Err(e) => json_reply(500, &json!({ "message": e.to_string() })),
        },
        ("GET", p) if p.starts_with("/_sesame/verify/") => match state.ses.confirm_verification(&p["/_sesame/verify/".len()..]) {
            Ok(identity) => Reply {
                status: 200,
                content_type: "text/plain; charset=utf-8",
                body: format!("Congratulations! You have successfully verified {} for sending in region {}.\n", identity.name, identity.region),
            },
            Err(e) => Reply { status: 404, content_type: "text/plain; charset=utf-8", body: format!("{e}\n") },
        },
        ("GET", "/metrics") => crate::metrics_api::handle(state),
        ("GET", "/_sesame/health") => json_reply(200, &json!({ "status": "ok" })),
        _ => json_reply(404, &json!({ "message": format!("no such endpoint: {method} {path}") })),
    }
}

fn json_reply(status: u16, value: &serde_json::Value) -> Reply {
    Reply {
        status,
        content_type: "application/json",
        body: value.to_string(),
    }
}
