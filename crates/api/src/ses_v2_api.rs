//! SES v2 (REST JSON under `/v2/email/`): email identities, identity policies,
//! SendEmail (simple, raw and templated), the account; templates, configuration sets,
//! account details and the suppression list in the submodules.

mod account;
mod config_sets;
mod templates;

use crate::protocol::{ApiError, Call, Reply};
use crate::server::AppState;
use iam::RequestInfo;
use serde_json::{json, Value};
use ses::doctor::DoctorRequest;
use ses::model::SuppressionReason;
use ses::{Content, Destination, IdentityKind, SendRequest, SesError};

/// A REST request as the submodules see it.
pub struct Rest<'a> {
    pub method: &'a str,
    /// Path segments after `/v2/email/`, percent-decoded.
    pub segs: &'a [&'a str],
    pub query: Vec<(String, String)>,
    pub body: &'a Value,
}

impl Rest<'_> {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn query_all(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

pub fn handle(
    state: &AppState,
    call: &Call,
    method: &str,
    path: &str,
    query: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let segments: Vec<String> = path
        .trim_start_matches("/v2/email/")
        .split('/')
        .map(percent_decode)
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let rest = Rest {
        method,
        segs: &segs,
        query: form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        body,
    };
    let (c, i) = (call.caller.as_ref(), &call.info);
    let ses = &state.ses;
    let value = match (method, segs.as_slice()) {
        ("POST", ["outbound-emails"]) => send_email(state, call, body)?,
        ("POST", ["sesame", "doctor"]) => {
            let checks = ses
                .doctor_for(c, i, &doctor_request(i, body)?)
                .map_err(err)?;
            ses::doctor::checks_json(&checks)
        }
        ("POST", ["identities"]) => {
            let name = str_field(body, "EmailIdentity")?;
            let identity = if name.contains('@') {
                ses.verify_email(c, i, name)
            } else {
                ses.verify_domain_dkim(c, i, name)
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
            let mut value = json!({
                "IdentityType": kind_name(identity.kind),
                "FeedbackForwardingStatus": identity.feedback_forwarding,
                "VerifiedForSendingStatus": identity.verified,
                "VerificationStatus": if identity.verified { "SUCCESS" } else { "PENDING" },
                "DkimAttributes": dkim(&identity),
                "Policies": identity.policies,
            });
            if let Some(checked) = identity.last_checked_ms {
                let mut info = json!({ "LastCheckedTimestamp": epoch_seconds(checked) });
                if let Some(success) = identity.last_success_ms {
                    info["LastSuccessTimestamp"] = json!(epoch_seconds(success));
                }
                value["VerificationInfo"] = info;
            }
            value
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
            let reasons: Vec<&str> = settings
                .suppressed_reasons
                .iter()
                .map(|r| r.name())
                .collect();
            let mut value = json!({
                "SendQuota": { "Max24HourSend": max, "MaxSendRate": rate, "SentLast24Hours": sent as f64 },
                "SendingEnabled": settings.sending_enabled,
                "ProductionAccessEnabled": settings.production,
                "EnforcementStatus": "HEALTHY",
                "DedicatedIpAutoWarmupEnabled": false,
                "SuppressionAttributes": { "SuppressedReasons": reasons },
            });
            if let Some(d) = &settings.details {
                let mut details = json!({ "MailType": d.mail_type, "WebsiteURL": d.website_url });
                if !d.additional_contact_email_addresses.is_empty() {
                    details["AdditionalContactEmailAddresses"] =
                        json!(d.additional_contact_email_addresses);
                }
                if let Some(lang) = &d.contact_language {
                    details["ContactLanguage"] = json!(lang);
                }
                if let Some(text) = &d.use_case_description {
                    details["UseCaseDescription"] = json!(text);
                }
                if let Some(status) = &d.review_status {
                    details["ReviewDetails"] = json!({ "Status": status, "CaseId": d.case_id });
                }
                value["Details"] = details;
            }
            value
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
            let value = match templates::handle(ses, call, &rest)? {
                Some(v) => Some(v),
                None => match config_sets::handle(ses, call, &rest)? {
                    Some(v) => Some(v),
                    None => account::handle(ses, call, &rest)?,
                },
            };
            value.ok_or_else(|| {
                ApiError::new(
                    404,
                    "NotFoundException",
                    format!("No SES v2 operation for {method} {path}"),
                )
            })?
        }
    };
    Ok(Reply {
        status: 200,
        content_type: "application/json",
        body: value.to_string(),
    })
}

fn send_email(state: &AppState, call: &Call, body: &Value) -> Result<Value, ApiError> {
    let content = body
        .get("Content")
        .ok_or_else(|| bad("Content is required."))?;
    let (action, content) = if let Some(simple) = content.get("Simple") {
        let subject =
            opt_str(simple, &["Subject", "Data"]).ok_or_else(|| {
                bad("1 validation error detected: Value at 'content.simple.subject' failed to satisfy constraint: Member must not be null")
            })?;
        let simple = Content::Simple {
            subject,
            text: opt_str(simple, &["Body", "Text", "Data"]),
            html: opt_str(simple, &["Body", "Html", "Data"]),
            reply_to: strings(body.get("ReplyToAddresses")),
        };
        ("ses:SendEmail", simple)
    } else if let Some(raw) = content.get("Raw") {
        let data = opt_str(raw, &["Data"]).ok_or_else(|| bad("Raw.Data is required."))?;
        let bytes =
            ses::mime::base64_decode(&data).ok_or_else(|| bad("Raw.Data is not valid base64."))?;
        if bytes.len() > 40 * 1024 * 1024 {
            return Err(err(SesError::MessageRejected(
                "Message is too long.".into(),
            )));
        }
        ("ses:SendRawEmail", Content::Raw(bytes.into()))
    } else if let Some(template) = content.get("Template") {
        let (source, data) = templates::template_content(template)?;
        let content = Content::Template {
            source,
            data,
            reply_to: strings(body.get("ReplyToAddresses")),
        };
        ("ses:SendEmail", content)
    } else {
        return Err(bad("Content must contain Simple, Raw or Template."));
    };
    let req = SendRequest {
        action,
        api_version: "2",
        from: opt_str(body, &["FromEmailAddress"]),
        destination: destination(body.get("Destination")),
        return_path: opt_str(body, &["FeedbackForwardingEmailAddress"]),
        source_arn: None,
        from_arn: opt_str(body, &["FromEmailAddressIdentityArn"]),
        return_path_arn: opt_str(body, &["FeedbackForwardingEmailAddressIdentityArn"]),
        configuration_set: opt_str(body, &["ConfigurationSetName"]),
        tags: message_tags(body.get("EmailTags")),
        content,
    };
    let sent = state
        .ses
        .send_pending(call.caller.as_ref(), &call.info, req)
        .map_err(err)?;
    let reply = json!({ "MessageId": sent.message_id });
    call.reply_after_commit(sent);
    Ok(reply)
}

/// A list of strings; other members are ignored.
/// A list of `{"Name", "Value"}` message tags; other members are ignored.
fn message_tags(v: Option<&Value>) -> Vec<(String, String)> {
    let field = |t: &Value, name: &str| t[name].as_str().unwrap_or_default().to_string();
    v.and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|t| (field(t, "Name"), field(t, "Value")))
                .collect()
        })
        .unwrap_or_default()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A `Destination` (To, Cc and Bcc address lists).
fn destination(d: Option<&Value>) -> Destination {
    Destination {
        to: strings(d.and_then(|d| d.get("ToAddresses"))),
        cc: strings(d.and_then(|d| d.get("CcAddresses"))),
        bcc: strings(d.and_then(|d| d.get("BccAddresses"))),
    }
}

/// The string at `path` inside `v`.
fn opt_str(v: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(v, |acc, k| acc.get(*k))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn opt_bool(v: &Value, name: &str) -> Option<bool> {
    v.get(name).and_then(Value::as_bool)
}

/// `Tags`: a list of `{Key, Value}`.
fn tags(body: &Value) -> Vec<(String, String)> {
    body.get("Tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some((
                opt_str(t, &["Key"])?,
                opt_str(t, &["Value"]).unwrap_or_default(),
            ))
        })
        .collect()
}

/// A list of suppression reasons (`BOUNCE`, `COMPLAINT`); absent is empty.
fn reasons(v: Option<&Value>) -> Result<Vec<SuppressionReason>, ApiError> {
    strings(v)
        .iter()
        .map(|name| {
            SuppressionReason::parse(name).ok_or_else(|| {
                bad(&format!(
                    "Invalid suppression reason {name}: use BOUNCE or COMPLAINT."
                ))
            })
        })
        .collect()
}

/// The `PageSize` query parameter.
fn page_size(r: &Rest<'_>) -> Result<Option<i64>, ApiError> {
    r.query("PageSize")
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| bad(&format!("Invalid PageSize {v}.")))
        })
        .transpose()
}

/// REST JSON timestamps are seconds since the epoch.
fn epoch_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// A timestamp query parameter: ISO 8601 (`2024-05-01T12:00:00Z`, fractions and
/// offsets allowed) or seconds since the epoch.
fn parse_time(text: &str) -> Result<i64, ApiError> {
    let invalid = || bad(&format!("Invalid timestamp {text}."));
    if let Ok(seconds) = text.parse::<f64>() {
        return Ok((seconds * 1000.0) as i64);
    }
    let field = |range: std::ops::Range<usize>| -> Result<i64, ApiError> {
        text.get(range)
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(invalid)
    };
    let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (hour, minute, second) = if text.len() > 10 {
        (field(11..13)?, field(14..16)?, field(17..19)?)
    } else {
        (0, 0, 0)
    };
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 61;
    if !valid {
        return Err(invalid());
    }
    let offset_ms = time_zone_offset_ms(text.get(19..).unwrap_or(""));
    let days = days_from_civil(year, month, day);
    Ok(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 - offset_ms)
}

/// `+HH:MM` / `-HH:MM` at the end of a timestamp, after any fraction; `Z` or none is 0.
fn time_zone_offset_ms(tail: &str) -> i64 {
    let Some(pos) = tail.rfind(['+', '-']) else {
        return 0;
    };
    let sign = if tail[pos..].starts_with('-') { -1 } else { 1 };
    let digits: String = tail[pos + 1..]
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let hours = digits
        .get(0..2)
        .and_then(|h| h.parse::<i64>().ok())
        .unwrap_or(0);
    let minutes = digits
        .get(2..4)
        .and_then(|m| m.parse::<i64>().ok())
        .unwrap_or(0);
    sign * (hours * 60 + minutes) * 60_000
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Percent-decodes a path segment (`+` stays a plus sign).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn dkim(identity: &ses::model::Identity) -> Value {
    let status = if identity.dkim_verified {
        "SUCCESS"
    } else if identity.dkim_enabled && identity.kind == IdentityKind::Domain {
        "PENDING"
    } else {
        "NOT_STARTED"
    };
    json!({
        "SigningEnabled": identity.dkim_enabled,
        "Status": status,
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

/// Sesame's own `POST /v2/email/sesame/doctor`: the send to check, as `sesame doctor`
/// takes it (SMTP credentials are not taken over the API).
fn doctor_request(info: &RequestInfo, body: &Value) -> Result<DoctorRequest, ApiError> {
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let flag = |name: &str| body.get(name).and_then(Value::as_bool).unwrap_or(false);
    let to: Vec<String> = body
        .get("To")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if to.is_empty() {
        return Err(bad("To is required: a list of recipient addresses."));
    }
    let smtp = flag("Smtp");
    Ok(DoctorRequest {
        principal: str_field(body, "Principal")?.to_string(),
        from: str_field(body, "From")?.to_string(),
        to,
        region: text("Region").unwrap_or_else(|| info.region.clone()),
        source_arn: text("SourceArn"),
        return_path: text("ReturnPath"),
        smtp,
        raw: flag("Raw"),
        source_ip: text("SourceIp").unwrap_or_else(|| "127.0.0.1".into()),
        secure_transport: smtp || flag("SecureTransport"),
        user_agent: text("UserAgent"),
        smtp_credentials: None,
    })
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
pub(crate) fn err(e: SesError) -> ApiError {
    if let SesError::Store(inner) = &e {
        tracing::error!(error = %inner, "store failure");
    }
    let mut api = ApiError::new(e.v2_status(), e.v2_code(), e.to_string());
    if let SesError::Store(_) = &e {
        api.message = "We encountered an internal error. Please try again.".into();
    }
    api.trace = e.trace().to_vec();
    api
}
