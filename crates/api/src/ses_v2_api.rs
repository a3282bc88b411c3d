//! SES v2 (REST JSON under `/v2/email/`): email identities, identity policies,
//! SendEmail (simple and raw), the account.

use crate::protocol::{ApiError, Call, Reply};
use crate::server::AppState;
use iam::{Caller, RequestInfo};
use serde_json::{json, Value};
use ses::{Content, Destination, IdentityKind, SendRequest, SesError};

pub fn handle(
    state: &AppState,
    call: &Call,
    method: &str,
    path: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let segments: Vec<String> = path
        .trim_start_matches("/v2/email/")
        .split('/')
        .map(|s| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (c, i) = (call.caller.as_ref(), &call.info);
    let ses = &state.ses;
    let value = match (method, segs.as_slice()) {
        ("POST", ["outbound-emails"]) => send_email(state, c, i, body)?,
        ("POST", ["identities"]) => {
            let name = str_field(body, "EmailIdentity")?;
            let identity = if name.contains('@') {
                ses.verify_email(c, i, name)
            } else {
                ses.verify_domain(c, i, name)
            }
            .map_err(err)?;
            json!({
                "IdentityType": kind_name(identity.kind),
                "VerifiedForSendingStatus": identity.verified,
                "DkimAttributes": dkim(&identity),
            })
        }
        ("GET", ["identities"]) => {
            let list: Vec<Value> = ses
                .list_identities(c, i, None)
                .map_err(err)?
                .iter()
                .map(|id| {
                    json!({
                        "IdentityType": kind_name(id.kind),
                        "IdentityName": id.name,
                        "SendingEnabled": id.verified,
                        "VerificationStatus": if id.verified { "SUCCESS" } else { "PENDING" },
                    })
                })
                .collect();
            json!({ "EmailIdentities": list })
        }
        ("GET", ["identities", name]) => {
            let identity = ses
                .get_identity(c, i, "ses:GetEmailIdentity", name)
                .map_err(err)?
                .ok_or_else(|| {
                    err(SesError::NotFound(format!(
                        "Email identity {name} does not exist."
                    )))
                })?;
            json!({
                "IdentityType": kind_name(identity.kind),
                "FeedbackForwardingStatus": identity.feedback_forwarding,
                "VerifiedForSendingStatus": identity.verified,
                "VerificationStatus": if identity.verified { "SUCCESS" } else { "PENDING" },
                "DkimAttributes": dkim(&identity),
                "Policies": identity.policies,
            })
        }
        ("DELETE", ["identities", name]) => {
            ses.delete_identity(c, i, name).map_err(err)?;
            json!({})
        }
        ("GET", ["identities", name, "policies"]) => {
            let policies: serde_json::Map<String, Value> = ses
                .get_policies(c, i, name, &[])
                .map_err(err)?
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            json!({ "Policies": policies })
        }
        ("POST" | "PUT", ["identities", name, "policies", policy]) => {
            ses.put_policy(c, i, name, policy, str_field(body, "Policy")?)
                .map_err(err)?;
            json!({})
        }
        ("DELETE", ["identities", name, "policies", policy]) => {
            ses.delete_policy(c, i, name, policy).map_err(err)?;
            json!({})
        }
        ("GET", ["account"]) => {
            let (max, rate, sent) = ses.send_quota(c, i).map_err(err)?;
            let settings = ses.settings(&c.account, &i.region).map_err(err)?;
            json!({
                "SendQuota": { "Max24HourSend": max, "MaxSendRate": rate, "SentLast24Hours": sent as f64 },
                "SendingEnabled": settings.sending_enabled,
                "ProductionAccessEnabled": settings.production,
                "EnforcementStatus": "HEALTHY",
                "DedicatedIpAutoWarmupEnabled": false,
            })
        }
        ("PUT", ["account", "sending"]) => {
            ses.set_sending_enabled(
                c,
                i,
                body.get("SendingEnabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            )
            .map_err(err)?;
            json!({})
        }
        _ => {
            return Err(ApiError::new(
                404,
                "NotFoundException",
                format!("No SES v2 operation for {method} {path}"),
            ))
        }
    };
    Ok(Reply {
        status: 200,
        content_type: "application/json",
        body: value.to_string(),
    })
}

fn send_email(
    state: &AppState,
    c: &Caller,
    i: &RequestInfo,
    body: &Value,
) -> Result<Value, ApiError> {
    let content = body
        .get("Content")
        .ok_or_else(|| bad("Content is required."))?;
    let list = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let dest = body.get("Destination");
    let destination = Destination {
        to: list(dest.and_then(|d| d.get("ToAddresses"))),
        cc: list(dest.and_then(|d| d.get("CcAddresses"))),
        bcc: list(dest.and_then(|d| d.get("BccAddresses"))),
    };
    let text = |v: &Value, path: &[&str]| -> Option<String> {
        path.iter()
            .try_fold(v, |acc, k| acc.get(*k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (action, content) = if let Some(simple) = content.get("Simple") {
        let subject =
            text(simple, &["Subject", "Data"]).ok_or_else(|| bad("Subject is required."))?;
        let simple = Content::Simple {
            subject,
            text: text(simple, &["Body", "Text", "Data"]),
            html: text(simple, &["Body", "Html", "Data"]),
            reply_to: list(body.get("ReplyToAddresses")),
        };
        ("ses:SendEmail", simple)
    } else if let Some(raw) = content.get("Raw") {
        let data = text(raw, &["Data"]).ok_or_else(|| bad("Raw.Data is required."))?;
        let bytes =
            ses::mime::base64_decode(&data).ok_or_else(|| bad("Raw.Data is not valid base64."))?;
        if bytes.len() > 40 * 1024 * 1024 {
            return Err(err(SesError::MessageRejected(
                "Message is too long.".into(),
            )));
        }
        let raw = String::from_utf8(bytes).map_err(|_| bad("Raw.Data is not valid UTF-8 text."))?;
        ("ses:SendRawEmail", Content::Raw(raw))
    } else {
        return Err(bad("Content must contain Simple or Raw."));
    };
    let req = SendRequest {
        action,
        api_version: "2",
        from: text(body, &["FromEmailAddress"]),
        destination,
        return_path: text(body, &["FeedbackForwardingEmailAddress"]),
        source_arn: None,
        from_arn: text(body, &["FromEmailAddressIdentityArn"]),
        return_path_arn: text(body, &["FeedbackForwardingEmailAddressIdentityArn"]),
        configuration_set: text(body, &["ConfigurationSetName"]),
        content,
    };
    let sent = state.ses.send(c, i, req).map_err(err)?;
    Ok(json!({ "MessageId": sent.message_id }))
}

fn dkim(identity: &ses::model::Identity) -> Value {
    json!({
        "SigningEnabled": identity.dkim_enabled,
        "Status": if identity.dkim_enabled { "SUCCESS" } else { "NOT_STARTED" },
        "Tokens": identity.dkim_tokens,
        "SigningAttributesOrigin": "AWS_SES",
    })
}

fn kind_name(kind: IdentityKind) -> &'static str {
    match kind {
        IdentityKind::EmailAddress => "EMAIL_ADDRESS",
        IdentityKind::Domain => "DOMAIN",
    }
}

fn str_field<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    body.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(&format!("{name} is required.")))
}

fn bad(message: &str) -> ApiError {
    ApiError::new(400, "BadRequestException", message)
}

/// SES errors in the v2 vocabulary.
fn err(e: SesError) -> ApiError {
    if let SesError::Store(inner) = &e {
        tracing::error!(error = %inner, "store failure");
    }
    let mut api = ApiError::new(e.status(), e.v2_code(), e.to_string());
    api.trace = e.trace().to_vec();
    api
}
