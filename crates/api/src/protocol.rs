//! Request and response shapes shared by the service handlers: Query parameters,
//! the JSON 1.1 body, AWS error documents in each protocol's shape.

use crate::xml;
use iam::{Caller, IamError, RequestInfo};
use std::cell::OnceCell;
use std::sync::Arc;

/// Which wire protocol a request speaks; errors are rendered in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Form-encoded `Action=…` in, XML out (IAM, STS, SES v1). `namespace` is the XML namespace.
    Query { namespace: &'static str },
    /// `X-Amz-Target` + JSON in and out (Organizations, CloudTrail).
    Json,
    /// REST paths with JSON bodies (SES v2).
    Rest,
}

/// An error as a caller sees it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub status: u16,
    /// The decision trace of an authorization denial (kept for the audit trail).
    pub trace: Vec<String>,
    /// The `Reason` member some JSON errors carry (e.g. Organizations' InvalidInputException).
    pub reason: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            code: code.to_string(),
            message: message.into(),
            status,
            trace: Vec::new(),
            reason: None,
        }
    }

    pub fn missing(name: &str) -> ApiError {
        ApiError::new(
            400,
            "MissingParameter",
            format!("The request must contain the parameter {name}"),
        )
    }

    /// An unknown Query action, worded as AWS's Query services word it.
    pub fn invalid_action(action: &str, params: &Params) -> ApiError {
        let version = params.get("Version").unwrap_or_default();
        ApiError::new(
            400,
            "InvalidAction",
            format!("Could not find operation {action} for version {version}"),
        )
    }
}

impl From<IamError> for ApiError {
    fn from(e: IamError) -> ApiError {
        let trace = match &e {
            IamError::AccessDenied { trace, .. } => trace.clone(),
            _ => Vec::new(),
        };
        if let IamError::Store(inner) = &e {
            tracing::error!(error = %inner, "store failure");
        }
        let message = match &e {
            IamError::Store(_) => "We encountered an internal error. Please try again.".to_string(),
            other => other.to_string(),
        };
        ApiError {
            code: e.code().to_string(),
            message,
            status: e.status(),
            trace,
            reason: e.reason(),
        }
    }
}

impl From<sigv4::SigV4Error> for ApiError {
    fn from(e: sigv4::SigV4Error) -> ApiError {
        ApiError::new(e.http_status(), e.code(), e.to_string())
    }
}

/// Form parameters of a Query request, in order.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// `application/x-www-form-urlencoded` pairs, as the URL standard parses them
    /// (`+` is a space, `%XX` a byte, a stray `%` itself, invalid UTF-8 replaced).
    pub fn parse(form: &[u8]) -> Params {
        Params(
            form.split(|b| *b == b'&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (name, value) = match pair.iter().position(|b| *b == b'=') {
                        Some(at) => (&pair[..at], &pair[at + 1..]),
                        None => (pair, &[][..]),
                    };
                    (form_decode(name), form_decode(value))
                })
                .collect(),
        )
    }

    pub fn extend_from(&mut self, other: Params) {
        self.0.extend(other.0);
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::missing(name))
    }

    /// `Name.member.1`, `Name.member.2`, … in index order.
    pub fn members(&self, name: &str) -> Vec<&str> {
        let mut items: Vec<(u32, &str)> = self
            .0
            .iter()
            .filter_map(|(k, v)| {
                let index = k.strip_prefix(name)?.strip_prefix(".member.")?;
                Some((index.parse().ok()?, v.as_str()))
            })
            .collect();
        items.sort_by_key(|(i, _)| *i);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// Members of a list of structures, `Name.member.N.Field`, in index order: each
    /// as its own parameters (`Field`, `Field.member.M`, …).
    pub fn structs(&self, name: &str) -> Vec<Params> {
        let prefix = format!("{name}.member.");
        let mut items: Vec<(u32, Params)> = Vec::new();
        for (k, v) in &self.0 {
            let Some(rest) = k.strip_prefix(&prefix) else {
                continue;
            };
            let Some((index, field)) = rest.split_once('.') else {
                continue;
            };
            let Ok(index) = index.parse::<u32>() else {
                continue;
            };
            let entry = (field.to_string(), v.clone());
            match items.iter_mut().find(|(i, _)| *i == index) {
                Some((_, p)) => p.0.push(entry),
                None => items.push((index, Params(vec![entry]))),
            }
        }
        items.sort_by_key(|(i, _)| *i);
        items.into_iter().map(|(_, p)| p).collect()
    }

    pub fn integer(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::new(
                        400,
                        "ValidationError",
                        format!("Invalid value for parameter {name}: {v}"),
                    )
                })
            })
            .transpose()
    }

    pub fn boolean(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The parameters with secrets and message content removed, for the audit trail. SigV4's own query
    /// parameters (presigned requests) are left out: they are not the call's.
    pub fn redacted(&self) -> AuditedParameters {
        let pairs = self
            .0
            .iter()
            .filter(|(k, _)| k != "Action" && k != "Version" && !is_sigv4_parameter(k))
            .map(|(k, v)| {
                let value = if is_secret_name(k) || is_content_name(k) {
                    HIDDEN.to_string()
                } else {
                    v.clone()
                };
                (k.clone(), value)
            })
            .collect();
        AuditedParameters::Form(pairs)
    }
}

/// A call's parameters as its audit record keeps them (`requestParameters`), secrets
/// and message content hidden: a JSON object either way.
#[derive(Debug)]
pub enum AuditedParameters {
    /// Query form pairs, in request order.
    Form(Vec<(String, String)>),
    /// A JSON request body (see [`redact_json`]).
    Json(serde_json::Value),
}

impl serde::Serialize for AuditedParameters {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            AuditedParameters::Form(pairs) => {
                serializer.collect_map(pairs.iter().map(|(k, v)| (k, v)))
            }
            AuditedParameters::Json(value) => value.serialize(serializer),
        }
    }
}

/// One name or value of a form: `+` and `%XX` decoded, then read as UTF-8 (invalid
/// sequences replaced by U+FFFD).
fn form_decode(encoded: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded;
    // Runs of plain bytes are copied whole; only `%` and `+` are looked at one by one.
    while let Some(special) = rest.iter().position(|b| matches!(b, b'%' | b'+')) {
        bytes.extend_from_slice(&rest[..special]);
        rest = &rest[special..];
        match rest {
            [b'%', high, low, ..] if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                bytes.push(hex_value(*high) << 4 | hex_value(*low));
                rest = &rest[3..];
            }
            [b'+', ..] => {
                bytes.push(b' ');
                rest = &rest[1..];
            }
            _ => {
                bytes.push(rest[0]);
                rest = &rest[1..];
            }
        }
    }
    bytes.extend_from_slice(rest);
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

/// What CloudTrail records in place of a secret request parameter.
const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Parameter names that carry secrets (`Password`, `NewPassword`, `SecretAccessKey`,
/// `PrivateKey`, `SessionToken`, …), compared case-insensitively.
pub fn is_secret_name(name: &str) -> bool {
    [
        "password",
        "secret",
        "privatekey",
        "sessiontoken",
        "securitytoken",
    ]
    .iter()
    .any(|s| contains_ignoring_case(name, s))
}

/// Whether `text` contains `lower` (lower-case ASCII), whatever the case of `text`.
fn contains_ignoring_case(text: &str, lower: &str) -> bool {
    text.as_bytes()
        .windows(lower.len())
        .any(|window| window.eq_ignore_ascii_case(lower.as_bytes()))
}

/// Parameter names that carry a message's content (subject, bodies, raw MIME,
/// template data): kept out of the audit trail, which records who sent what to whom,
/// not what was written.
fn is_content_name(name: &str) -> bool {
    let ends_in_data = name.len() >= 4
        && name.as_bytes()[name.len() - 4..].eq_ignore_ascii_case(b"data")
        && (name.len() == 4 || name.as_bytes()[name.len() - 5] == b'.');
    ends_in_data || contains_ignoring_case(name, "templatedata")
}

fn is_sigv4_parameter(name: &str) -> bool {
    name.get(..6)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("x-amz-"))
}

/// A JSON request body with every secret and message-content member (at any depth)
/// replaced.
pub fn redact_json(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                let value = if is_secret_name(k) || is_content_name(k) {
                    HIDDEN.into()
                } else {
                    redact_json(v)
                };
                (k.clone(), value)
            })
            .collect(),
        serde_json::Value::Array(items) => items.iter().map(redact_json).collect(),
        other => other.clone(),
    }
}

/// One authenticated call, ready for a service handler.
pub struct Call {
    pub action: String,
    pub caller: Arc<Caller>,
    pub info: RequestInfo,
    pub request_id: String,
    /// A send whose reply must wait for its message's group commit.
    pub commit: OnceCell<ses::PendingSend>,
}

impl Call {
    /// Holds the reply of this call until `sent`'s message is on disk; should the
    /// commit fail, the caller gets that failure instead of the reply.
    pub fn reply_after_commit(&self, sent: ses::PendingSend) {
        if self.commit.set(sent).is_err() {
            unreachable!("one send per call waits for its commit");
        }
    }
}

/// A rendered HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    pub fn xml(body: String) -> Reply {
        Reply {
            status: 200,
            content_type: "text/xml",
            body,
        }
    }

    pub fn json(value: &serde_json::Value) -> Reply {
        Reply {
            status: 200,
            content_type: "application/x-amz-json-1.1",
            body: value.to_string(),
        }
    }

    pub fn error(protocol: Protocol, e: &ApiError, request_id: &str) -> Reply {
        match protocol {
            Protocol::Query { namespace } => Reply {
                status: e.status,
                content_type: "text/xml",
                body: xml::query_error(namespace, e.status < 500, &e.code, &e.message, request_id),
            },
            Protocol::Json => {
                let mut body = serde_json::json!({ "__type": e.code, "message": e.message });
                if let Some(reason) = e.reason {
                    body["Reason"] = serde_json::Value::String(reason.to_string());
                }
                Reply {
                    status: e.status,
                    content_type: "application/x-amz-json-1.1",
                    body: body.to_string(),
                }
            }
            Protocol::Rest => Reply {
                status: e.status,
                content_type: "application/json",
                body: serde_json::json!({ "__type": e.code, "message": e.message }).to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The URL standard's parser (the `form_urlencoded` crate) as the oracle.
    fn standard(form: &[u8]) -> Vec<(String, String)> {
        form_urlencoded::parse(form)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn form_parameters_decode_as_the_url_standard_says() {
        let cases: [&[u8]; 14] = [
            b"Action=SendEmail&Source=a%40b.example&Message.Subject.Data=Hi+there",
            b"a=%41%42%4a%4B&b=%zz&c=%4&d=%&e=%%41",
            b"&&x=1&&=&=v&k&k2=",
            b"name=%E2%82%AC%20%F0%9F%98%80",
            b"bad=%FF%FE&cut=%E2%82",
            b"raw=\xff\xfe",
            b"eq=a=b=c&plus=++%2B",
            b"",
            b"&",
            b"=",
            b"%",
            b"a%3Db=c%26d",
            "utf8=é&€=x".as_bytes(),
            b"\xc3\xa9=\xe2\x82",
        ];
        for form in cases {
            assert_eq!(Params::parse(form).0, standard(form), "{form:?}");
        }
        // Random forms over the bytes that matter.
        let alphabet = b"a=&%+2Ff\xc3\xa9\xff0Z ";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let form: Vec<u8> = (0..(seed % 24))
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            assert_eq!(Params::parse(&form).0, standard(&form), "{form:?}");
        }
    }

    #[test]
    fn message_content_and_secrets_stay_out_of_the_audit_trail() {
        let v2 = json!({
            "FromEmailAddress": "news@example.com",
            "Destination": {"ToAddresses": ["a@example.org"]},
            "Content": {
                "Simple": {"Subject": {"Data": "Quarterly numbers"}, "Body": {"Text": {"Data": "secret plans"}}},
                "Template": {"TemplateName": "t", "TemplateData": "{\"name\":\"Ann\"}"}
            },
            "SecretAccessKey": "abc"
        });
        let kept = redact_json(&v2);
        let text = kept.to_string();
        for gone in ["Quarterly numbers", "secret plans", "Ann", "abc"] {
            assert!(!text.contains(gone), "{gone} leaked: {text}");
        }
        assert_eq!(kept["FromEmailAddress"], "news@example.com");
        assert_eq!(kept["Destination"]["ToAddresses"][0], "a@example.org");
        assert_eq!(kept["Content"]["Template"]["TemplateName"], "t");
        let form = b"Action=SendEmail&Version=2010-12-01&Source=news%40example.com&Message.Body.Text.Data=secret+plans&NewPassword=p%40ss&X-Amz-Signature=abc";
        let recorded = serde_json::to_value(Params::parse(form).redacted()).unwrap();
        assert_eq!(
            recorded,
            json!({
                "Source": "news@example.com",
                "Message.Body.Text.Data": HIDDEN,
                "NewPassword": HIDDEN,
            })
        );
        for name in [
            "Message.Subject.Data",
            "RawMessage.Data",
            "Destinations.member.1.ReplacementTemplateData",
        ] {
            assert!(is_content_name(name), "{name}");
        }
        assert!(!is_content_name("Source") && !is_content_name("Destination.ToAddresses.member.1"));
        for name in ["data", "Content.Simple.Body.Text.DATA", "x.TemplateData.y"] {
            assert!(is_content_name(name), "{name}");
        }
        assert!(!is_content_name("Metadata") && !is_content_name("ata"));
        for name in [
            "NewPassword",
            "SECRETAccessKey",
            "x.PrivateKey",
            "SessionToken",
            "X-Amz-Security-Token",
        ] {
            assert_eq!(
                is_secret_name(name),
                name != "X-Amz-Security-Token",
                "{name}"
            );
        }
        assert!(
            is_secret_name("SecurityToken") && !is_secret_name("UserName") && !is_secret_name("")
        );
    }
}
