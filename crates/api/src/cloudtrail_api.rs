//! CloudTrail's JSON 1.1 API over the audit trail: LookupEvents, newest first, over
//! the caller's own account's events, filtered by one lookup attribute and a time
//! range, paged with an opaque NextToken.

use crate::protocol::{ApiError, Call, Reply};
use crate::server::AppState;
use iam::IamError;
use serde_json::{json, Value};
use store::{AuditEvent, AuditQuery, Store};

const DEFAULT_MAX_RESULTS: usize = 50;

/// `(request parameter, CloudTrail resource type)`: the resources an event names.
const RESOURCE_PARAMETERS: &[(&str, &str)] = &[
    ("UserName", "AWS::IAM::User"),
    ("GroupName", "AWS::IAM::Group"),
    ("RoleName", "AWS::IAM::Role"),
    ("RoleArn", "AWS::IAM::Role"),
    ("PolicyArn", "AWS::IAM::Policy"),
    ("AccessKeyId", "AWS::IAM::AccessKey"),
];

pub fn handle(state: &AppState, call: &Call, body: &Value) -> Result<Reply, ApiError> {
    match call.action.as_str() {
        "LookupEvents" => {
            state
                .iam
                .authorize(
                    &call.caller,
                    "cloudtrail:LookupEvents",
                    "*",
                    &call.info,
                    None,
                    &[],
                )
                .map_err(|d| IamError::AccessDenied {
                    message: d.message,
                    trace: d.trace,
                    json_style: true,
                })?;
            let out = lookup_events(state.iam.store(), &call.caller.account, body)?;
            Ok(Reply::json(&out))
        }
        other => Err(ApiError::new(
            400,
            "UnknownOperationException",
            format!("Unknown operation {other}"),
        )),
    }
}

/// The lookup attribute of a request, if any.
#[derive(Debug, Clone, PartialEq)]
struct Attribute {
    key: String,
    value: String,
}

/// LookupEvents over the audit records of `account`.
pub(crate) fn lookup_events(store: &Store, account: &str, body: &Value) -> Result<Value, ApiError> {
    let attribute = attribute(body)?;
    let start_ms = time_ms(body, "StartTime")?;
    let end_ms = time_ms(body, "EndTime")?;
    if let (Some(s), Some(e)) = (start_ms, end_ms) {
        if s > e {
            return Err(ApiError::new(
                400,
                "InvalidTimeRangeException",
                "Start time must be before end time.",
            ));
        }
    }
    let limit = max_results(body)?;
    match body.get("EventCategory").and_then(Value::as_str) {
        None => {}
        // No Insights events are ever recorded.
        Some("insight") => return Ok(json!({ "Events": [] })),
        Some(other) => {
            return Err(ApiError::new(
                400,
                "InvalidEventCategoryException",
                format!("Invalid event category {other}: the only category is insight."),
            ))
        }
    }
    let fingerprint = fingerprint(&attribute, start_ms, end_ms);
    let before = match body.get("NextToken").and_then(Value::as_str) {
        None => None,
        Some(token) => Some(decode_token(token, fingerprint)?),
    };
    let mut query = AuditQuery {
        account: Some(account.to_string()),
        start_ms,
        end_ms,
        before,
        limit: limit + 1,
        ..AuditQuery::default()
    };
    let resource_filter = apply_attribute(&mut query, attribute.as_ref())?;
    let mut events = store
        .query_audit_where(&query, |e| {
            resource_filter
                .as_ref()
                .is_none_or(|(key, value)| has_resource(e, key, value))
        })
        .map_err(|e| {
            tracing::error!(error = %e, "audit query failed");
            ApiError::new(
                500,
                "InternalFailure",
                "The request processing has failed because of an unknown error.",
            )
        })?;
    let more = events.len() > limit;
    events.truncate(limit);
    let mut out = json!({ "Events": events.iter().map(event).collect::<Vec<_>>() });
    if more {
        if let Some(last) = events.last() {
            out["NextToken"] = encode_token(last.time_ms, &last.event_id, fingerprint).into();
        }
    }
    Ok(out)
}

fn invalid_attributes(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "InvalidLookupAttributesException", message)
}

fn attribute(body: &Value) -> Result<Option<Attribute>, ApiError> {
    let list = match body.get("LookupAttributes") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(invalid_attributes("LookupAttributes must be a list.")),
    };
    let item = match list.as_slice() {
        [] => return Ok(None),
        [one] => one,
        _ => {
            return Err(invalid_attributes(
                "You can specify only one lookup attribute.",
            ))
        }
    };
    let text = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default();
    let (key, value) = (text("AttributeKey"), text("AttributeValue"));
    const KEYS: &[&str] = &[
        "EventId",
        "EventName",
        "ReadOnly",
        "Username",
        "ResourceType",
        "ResourceName",
        "EventSource",
        "AccessKeyId",
    ];
    if !KEYS.contains(&key) {
        return Err(invalid_attributes(format!(
            "Invalid lookup attribute key {key}: use one of {}.",
            KEYS.join(", ")
        )));
    }
    if value.is_empty() {
        return Err(invalid_attributes("AttributeValue must not be empty."));
    }
    Ok(Some(Attribute {
        key: key.to_string(),
        value: value.to_string(),
    }))
}

/// Puts the attribute into the query; returns the resource filter the store cannot apply.
fn apply_attribute(
    query: &mut AuditQuery,
    attribute: Option<&Attribute>,
) -> Result<Option<(String, String)>, ApiError> {
    let Some(a) = attribute else {
        return Ok(None);
    };
    let value = Some(a.value.clone());
    match a.key.as_str() {
        "EventId" => query.event_id = value,
        "EventName" => query.event_name = value,
        "Username" => query.user_name = value,
        "AccessKeyId" => query.access_key_id = value,
        "EventSource" => query.event_source = value,
        "ReadOnly" => {
            query.read_only = Some(match a.value.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(invalid_attributes(
                        "The ReadOnly lookup attribute must be true or false.",
                    ))
                }
            })
        }
        _ => return Ok(Some((a.key.clone(), a.value.clone()))),
    }
    Ok(None)
}

/// Seconds since the epoch (botocore's JSON timestamps), possibly fractional, as ms.
fn time_ms(body: &Value, field: &str) -> Result<Option<i64>, ApiError> {
    let seconds = match body.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.parse::<f64>().ok(),
        Some(_) => None,
    };
    match seconds {
        Some(s) if s.is_finite() && s.abs() < 1e13 => Ok(Some((s * 1000.0).round() as i64)),
        _ => Err(ApiError::new(
            400,
            "InvalidTimeRangeException",
            format!("{field} must be a time in seconds since the epoch."),
        )),
    }
}

fn max_results(body: &Value) -> Result<usize, ApiError> {
    match body.get("MaxResults") {
        None | Some(Value::Null) => Ok(DEFAULT_MAX_RESULTS),
        Some(v) => match v.as_u64() {
            Some(n @ 1..=50) => Ok(usize::try_from(n).unwrap_or(DEFAULT_MAX_RESULTS)),
            _ => Err(ApiError::new(
                400,
                "InvalidMaxResultsException",
                "MaxResults must be between 1 and 50.",
            )),
        },
    }
}

/// One `Events` member.
fn event(e: &AuditEvent) -> Value {
    let read_only = e
        .detail
        .get("readOnly")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let resources: Vec<Value> = resources(e)
        .into_iter()
        .map(|(kind, name)| json!({ "ResourceType": kind, "ResourceName": name }))
        .collect();
    json!({
        "EventId": e.event_id,
        "EventName": e.event_name,
        "ReadOnly": read_only.to_string(),
        "AccessKeyId": e.access_key_id,
        "EventTime": e.time_ms as f64 / 1000.0,
        "EventSource": e.event_source,
        "Username": e.user_name,
        "Resources": resources,
        "CloudTrailEvent": e.cloudtrail_document().to_string(),
    })
}

/// The resources an event's request parameters name.
fn resources(e: &AuditEvent) -> Vec<(&'static str, String)> {
    let Some(params) = e.detail.get("requestParameters") else {
        return Vec::new();
    };
    RESOURCE_PARAMETERS
        .iter()
        .filter_map(|(param, kind)| {
            let name = params.get(*param)?.as_str()?;
            Some((*kind, name.to_string()))
        })
        .collect()
}

fn has_resource(e: &AuditEvent, key: &str, value: &str) -> bool {
    resources(e).iter().any(|(kind, name)| match key {
        "ResourceType" => kind == &value,
        _ => name == value,
    })
}

/// Ties a NextToken to the filters it was issued for.
fn fingerprint(attribute: &Option<Attribute>, start: Option<i64>, end: Option<i64>) -> u64 {
    let text = format!("{attribute:?}|{start:?}|{end:?}");
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn encode_token(time_ms: i64, event_id: &str, fingerprint: u64) -> String {
    let raw = format!("1|{time_ms}|{event_id}|{fingerprint:016x}");
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(token: &str, fingerprint: u64) -> Result<(i64, String), ApiError> {
    let invalid = || {
        ApiError::new(
            400,
            "InvalidNextTokenException",
            "Invalid NextToken: use the NextToken of the previous response, with the same parameters.",
        )
    };
    let bytes = hex_decode(token).ok_or_else(invalid)?;
    let raw = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = raw.splitn(4, '|');
    let (Some("1"), Some(time), Some(id), Some(fp)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let time: i64 = time.parse().map_err(|_| invalid())?;
    if u64::from_str_radix(fp, 16).ok() != Some(fingerprint) {
        return Err(invalid());
    }
    Ok((time, id.to_string()))
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).ok().filter(|p| p.len() == 2)?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn audit_event(i: i64, account: &str, name: &str, user: &str, read_only: bool) -> AuditEvent {
        AuditEvent {
            event_id: format!("id-{i:03}"),
            time_ms: 1_700_000_000_000 + i * 1000,
            account: account.into(),
            event_name: name.into(),
            event_source: "iam.amazonaws.com".into(),
            user_name: user.into(),
            access_key_id: format!("AKIA{user}"),
            trace: Vec::new(),
            detail: json!({
                "eventName": name,
                "readOnly": read_only,
                "requestParameters": { "UserName": format!("target{}", i % 3) },
            }),
            authorizations: Vec::new(),
        }
    }

    fn store_with_events() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let backend = store::SqliteBackend::open(dir.path()).unwrap();
        let store = Store::new(Arc::new(backend));
        let mut events = Vec::new();
        for i in 0..30 {
            let (name, read_only) = if i % 2 == 0 {
                ("ListUsers", true)
            } else {
                ("CreateUser", false)
            };
            let user = if i % 5 == 0 { "alice" } else { "bob" };
            events.push(audit_event(i, "111111111111", name, user, read_only));
        }
        events.push(audit_event(100, "222222222222", "ListUsers", "eve", true));
        let records: Vec<_> = events
            .iter()
            .map(|e| store::EncodedAudit::new(e).unwrap())
            .collect();
        store.append_audit(&records).unwrap();
        (dir, store)
    }

    fn ids(out: &Value) -> Vec<String> {
        out["Events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["EventId"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn filters_by_one_attribute_in_the_callers_account_newest_first() {
        let (_dir, store) = store_with_events();
        let by = |key: &str, value: &str| {
            let body =
                json!({"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]});
            lookup_events(&store, "111111111111", &body).unwrap()
        };
        let out = by("EventName", "ListUsers");
        let got = ids(&out);
        assert_eq!(got.len(), 15);
        assert_eq!(got[0], "id-028");
        assert!(
            !got.contains(&"id-100".to_string()),
            "other account's event"
        );
        assert_eq!(ids(&by("Username", "alice")).len(), 6);
        assert_eq!(ids(&by("ReadOnly", "false")).len(), 15);
        assert_eq!(ids(&by("EventId", "id-007")), ["id-007"]);
        assert_eq!(ids(&by("AccessKeyId", "AKIAalice")).len(), 6);
        assert_eq!(ids(&by("EventSource", "iam.amazonaws.com")).len(), 30);
        assert_eq!(ids(&by("ResourceName", "target1")).len(), 10);
        assert_eq!(ids(&by("ResourceType", "AWS::IAM::User")).len(), 30);
        let first = &out["Events"][0];
        assert_eq!(first["ReadOnly"], "true");
        assert_eq!(first["EventTime"], 1_700_000_028.0);
        assert_eq!(first["Resources"][0]["ResourceType"], "AWS::IAM::User");
        let detail: Value =
            serde_json::from_str(first["CloudTrailEvent"].as_str().unwrap()).unwrap();
        assert_eq!(detail["eventName"], "ListUsers");
    }

    #[test]
    fn pages_with_next_token_and_time_range() {
        let (_dir, store) = store_with_events();
        let mut body =
            json!({"MaxResults": 7, "StartTime": 1_700_000_003, "EndTime": 1_700_000_020.5});
        let mut seen = Vec::new();
        loop {
            let out = lookup_events(&store, "111111111111", &body).unwrap();
            seen.extend(ids(&out));
            match out.get("NextToken").and_then(Value::as_str) {
                Some(token) => body["NextToken"] = token.into(),
                None => break,
            }
        }
        let want: Vec<String> = (3..=20).rev().map(|i| format!("id-{i:03}")).collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn rejects_bad_requests_with_cloudtrail_errors() {
        let (_dir, store) = store_with_events();
        let code = |body: Value| {
            lookup_events(&store, "111111111111", &body)
                .unwrap_err()
                .code
        };
        let two = json!({"LookupAttributes": [
            {"AttributeKey": "EventName", "AttributeValue": "a"},
            {"AttributeKey": "Username", "AttributeValue": "b"}]});
        assert_eq!(code(two), "InvalidLookupAttributesException");
        let bad_key =
            json!({"LookupAttributes": [{"AttributeKey": "Nope", "AttributeValue": "a"}]});
        assert_eq!(code(bad_key), "InvalidLookupAttributesException");
        assert_eq!(
            code(json!({"MaxResults": 51})),
            "InvalidMaxResultsException"
        );
        assert_eq!(code(json!({"MaxResults": 0})), "InvalidMaxResultsException");
        assert_eq!(
            code(json!({"StartTime": 20, "EndTime": 10})),
            "InvalidTimeRangeException"
        );
        assert_eq!(
            code(json!({"NextToken": "zz"})),
            "InvalidNextTokenException"
        );
        let out = lookup_events(&store, "111111111111", &json!({"MaxResults": 1})).unwrap();
        let token = out["NextToken"].as_str().unwrap();
        let other_filter = json!({"NextToken": token, "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "ListUsers"}]});
        assert_eq!(code(other_filter), "InvalidNextTokenException");
    }
}
