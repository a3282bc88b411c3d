//! Extracting the SigV4 authentication parameters from a request, from either
//! the `Authorization` header or presigned `X-Amz-*` query parameters.
//!
//! Parsing checks syntax and structure only (what can be judged without the
//! secret key), so the server can then look the access key id up, check the
//! session token, and choose region/service from the credential scope before
//! calling [`verify`](crate::verify).

use std::fmt;

use crate::canonical::{query_pairs, ALGORITHM};
use crate::error::SigV4Error;
use crate::time::AmzDate;
use crate::HttpRequest;

/// Longest `X-Amz-Expires` AWS accepts: seven days.
pub const MAX_PRESIGNED_EXPIRES_SECONDS: u64 = 604_800;

/// The SigV4 credential and signature carried by a request.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedAuth {
    /// The access key id from the credential scope.
    pub access_key_id: String,
    /// The `yyyyMMdd` date from the credential scope.
    pub date: String,
    /// The region from the credential scope.
    pub region: String,
    /// The service from the credential scope (e.g. `ses`, `iam`, `sts`).
    pub service: String,
    /// The signed header names, in the order the client listed them.
    pub signed_headers: Vec<String>,
    /// The hex signature the client sent.
    pub signature: String,
    /// The request time (`X-Amz-Date`, else the `Date` header).
    pub request_time: AmzDate,
    /// `X-Amz-Security-Token` (header, or query parameter when presigned).
    pub session_token: Option<String>,
    /// `X-Amz-Expires` for a presigned request; `None` for header auth.
    pub presigned_expires_seconds: Option<u64>,
}

impl ParsedAuth {
    /// Whether the credentials came from presigned query parameters.
    pub fn is_presigned(&self) -> bool {
        self.presigned_expires_seconds.is_some()
    }

    /// `date/region/service/aws4_request`.
    pub fn credential_scope(&self) -> String {
        crate::canonical::credential_scope(&self.date, &self.region, &self.service)
    }

    /// Fails with AWS's "Credential should be scoped to a valid region" unless
    /// the scope's region is one of `allowed`.
    pub fn ensure_region(&self, allowed: &[&str]) -> Result<(), SigV4Error> {
        if allowed.contains(&self.region.as_str()) {
            Ok(())
        } else {
            Err(SigV4Error::invalid_region(&self.region))
        }
    }

    /// Fails with AWS's "Credential should be scoped to correct service"
    /// unless the scope's service is one of `accepted`; the message names the
    /// first accepted service.
    pub fn ensure_service(&self, accepted: &[&str]) -> Result<(), SigV4Error> {
        if accepted.contains(&self.service.as_str()) {
            return Ok(());
        }
        let expected = accepted.first().copied().unwrap_or_default();
        Err(SigV4Error::invalid_service(expected))
    }

    /// The structural rules any credential must satisfy: `host` is signed,
    /// the signed header names are well formed, and the scope date is the
    /// request's date. Run by [`parse_auth`] and again by `verify` (the fields
    /// are public, so a value may not come from `parse_auth`).
    pub(crate) fn check_structure(&self) -> Result<(), SigV4Error> {
        if !self
            .signed_headers
            .iter()
            .any(|name| name.eq_ignore_ascii_case("host"))
        {
            return Err(SigV4Error::incomplete(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            ));
        }
        if let Some(bad) = self
            .signed_headers
            .iter()
            .find(|name| !is_header_name(name))
        {
            // (wording ours)
            return Err(SigV4Error::incomplete(format!(
                "Invalid header name in SignedHeaders: '{bad}'."
            )));
        }
        let request_date = self.request_time.date_stamp();
        if self.date != request_date {
            return Err(SigV4Error::scope(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
                self.date, request_date, self.request_time
            )));
        }
        Ok(())
    }
}

/// Like the derived `Debug`, but the session token is redacted.
impl fmt::Debug for ParsedAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedAuth")
            .field("access_key_id", &self.access_key_id)
            .field("date", &self.date)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &self.signature)
            .field("request_time", &self.request_time)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("presigned_expires_seconds", &self.presigned_expires_seconds)
            .finish()
    }
}

/// Reads the SigV4 credentials of a request, from the `Authorization` header
/// or from presigned query parameters (never both).
pub fn parse_auth(req: &HttpRequest<'_>) -> Result<ParsedAuth, SigV4Error> {
    let authorization = single_header(req, "authorization")?;
    let query = query_pairs(req.query);
    let presigned = is_presigned_query(&query);
    let auth = match (authorization, presigned) {
        (Some(_), true) => {
            // S3's wording; AWS's other services' wording is not known.
            return Err(SigV4Error::incomplete(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
                 Signature query string parameter or the Authorization header should be specified",
            ));
        }
        (Some(value), false) if !value.trim().is_empty() => parse_header_auth(req, value)?,
        (_, true) => parse_presigned_auth(req, &query)?,
        _ => return Err(SigV4Error::MissingAuthenticationToken),
    };
    auth.check_structure()?;
    Ok(auth)
}

fn is_presigned_query(query: &[(Vec<u8>, Vec<u8>)]) -> bool {
    const MARKERS: [&[u8]; 3] = [b"X-Amz-Algorithm", b"X-Amz-Credential", b"X-Amz-Signature"];
    query
        .iter()
        .any(|(name, _)| MARKERS.contains(&name.as_slice()))
}

/// The one value of a header that must not repeat; `None` when absent.
fn single_header<'a>(req: &HttpRequest<'a>, name: &str) -> Result<Option<&'a str>, SigV4Error> {
    let mut values = req.header_values(name);
    let first = values.next();
    if values.next().is_some() {
        // (wording ours)
        return Err(SigV4Error::incomplete(format!(
            "The '{name}' header must appear only once."
        )));
    }
    Ok(first)
}

/// `Credential`, `SignedHeaders` and `Signature` from the header value.
#[derive(Default)]
struct HeaderParams<'a> {
    credential: Option<&'a str>,
    signed_headers: Option<&'a str>,
    signature: Option<&'a str>,
}

fn parse_header_auth(req: &HttpRequest<'_>, header: &str) -> Result<ParsedAuth, SigV4Error> {
    let header = header.trim();
    let (algorithm, rest) = header
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((header, ""));
    if algorithm != ALGORITHM {
        // (wording ours)
        return Err(SigV4Error::incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'. Authorization={header}"
        )));
    }
    let params = header_params(rest, header)?;
    let time = header_request_time(req)?;
    let (Some(credential), Some(signed_headers), Some(signature), Some(time)) = (
        params.credential,
        params.signed_headers,
        params.signature,
        time,
    ) else {
        return Err(missing_header_params(&params, time.is_some(), header));
    };
    let scope = parse_credential(credential)?;
    Ok(ParsedAuth {
        access_key_id: scope.access_key_id,
        date: scope.date,
        region: scope.region,
        service: scope.service,
        signed_headers: split_signed_headers(signed_headers),
        signature: signature.to_owned(),
        request_time: time,
        session_token: single_header(req, "x-amz-security-token")?.map(str::to_owned),
        presigned_expires_seconds: None,
    })
}

/// Splits `Credential=…, SignedHeaders=…, Signature=…`. Unknown or
/// `=`-less components are ignored; a repeated known component is an error.
fn header_params<'a>(rest: &'a str, header: &str) -> Result<HeaderParams<'a>, SigV4Error> {
    let mut params = HeaderParams::default();
    for component in rest.split(',') {
        let Some((key, value)) = component.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let slot = match key.trim() {
            "Credential" => &mut params.credential,
            "SignedHeaders" => &mut params.signed_headers,
            "Signature" => &mut params.signature,
            _ => continue,
        };
        if slot.is_some() {
            // (wording ours)
            return Err(SigV4Error::incomplete(format!(
                "Authorization header has a duplicate '{}' parameter. Authorization={header}",
                key.trim()
            )));
        }
        if !value.is_empty() {
            *slot = Some(value);
        }
    }
    Ok(params)
}

/// AWS's message listing every missing piece of header authentication.
fn missing_header_params(params: &HeaderParams<'_>, has_date: bool, header: &str) -> SigV4Error {
    let mut message = String::new();
    if params.credential.is_none() {
        message.push_str("Authorization header requires 'Credential' parameter. ");
    }
    if params.signature.is_none() {
        message.push_str("Authorization header requires 'Signature' parameter. ");
    }
    if params.signed_headers.is_none() {
        message.push_str("Authorization header requires 'SignedHeaders' parameter. ");
    }
    if !has_date {
        message.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    message.push_str("Authorization=");
    message.push_str(header);
    SigV4Error::incomplete(message)
}

/// The request time for header auth: `X-Amz-Date` if present (and then it
/// must be valid), else the HTTP `Date` header; `None` if neither is present.
fn header_request_time(req: &HttpRequest<'_>) -> Result<Option<AmzDate>, SigV4Error> {
    if let Some(value) = single_header(req, "x-amz-date")? {
        return parse_amz_date(value, "X-Amz-Date").map(Some);
    }
    let Some(value) = single_header(req, "date")? else {
        return Ok(None);
    };
    let time = AmzDate::parse_http_date(value.trim())
        .or_else(|| AmzDate::parse_iso8601_basic(value.trim()));
    match time {
        Some(time) => Ok(Some(time)),
        // (wording ours)
        None => Err(SigV4Error::incomplete(format!(
            "Date must be in RFC 7231 IMF-fixdate format or ISO8601 basic format \"yyyyMMdd'T'HHmmss'Z'\", got '{value}'."
        ))),
    }
}

fn parse_amz_date(value: &str, source: &str) -> Result<AmzDate, SigV4Error> {
    AmzDate::parse_iso8601_basic(value).ok_or_else(|| {
        // S3 uses this wording for a malformed X-Amz-Date.
        SigV4Error::incomplete(format!(
            "{source} must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", got '{value}'."
        ))
    })
}

/// The five parts of `AKID/yyyyMMdd/region/service/aws4_request`.
struct CredentialScope {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
}

fn parse_credential(credential: &str) -> Result<CredentialScope, SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts.as_slice() else {
        return Err(SigV4Error::incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    };
    if *terminator != "aws4_request" {
        return Err(SigV4Error::scope(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
        )));
    }
    if !is_scope_word(region) {
        return Err(SigV4Error::invalid_region(region));
    }
    if !is_scope_word(service) {
        // (wording ours; AWS names the expected service, unknown here)
        return Err(SigV4Error::scope(format!(
            "Credential should be scoped to a valid service, not '{service}'. "
        )));
    }
    Ok(CredentialScope {
        access_key_id: (*access_key_id).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
    })
}

/// Regions and service names: lowercase letters, digits and dashes.
fn is_scope_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An HTTP header field name (RFC 9110 token characters).
fn is_header_name(name: &str) -> bool {
    const EXTRA: &[u8] = b"!#$%&'*+-.^_`|~";
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || EXTRA.contains(&b))
}

fn split_signed_headers(list: &str) -> Vec<String> {
    list.split(';').map(|name| name.trim().to_owned()).collect()
}

fn parse_presigned_auth(
    req: &HttpRequest<'_>,
    query: &[(Vec<u8>, Vec<u8>)],
) -> Result<ParsedAuth, SigV4Error> {
    let algorithm = required_param(query, "X-Amz-Algorithm")?;
    if algorithm != ALGORITHM {
        // S3's wording.
        return Err(SigV4Error::incomplete(format!(
            "X-Amz-Algorithm only supports \"{ALGORITHM}\", got '{algorithm}'."
        )));
    }
    let credential = required_param(query, "X-Amz-Credential")?;
    let date = required_param(query, "X-Amz-Date")?;
    let expires = required_param(query, "X-Amz-Expires")?;
    let signed_headers = required_param(query, "X-Amz-SignedHeaders")?;
    let signature = required_param(query, "X-Amz-Signature")?;
    let token = optional_param(query, "X-Amz-Security-Token")?;
    let session_token = match token {
        Some(token) => Some(token),
        None => single_header(req, "x-amz-security-token")?.map(str::to_owned),
    };
    let scope = parse_credential(&credential)?;
    Ok(ParsedAuth {
        access_key_id: scope.access_key_id,
        date: scope.date,
        region: scope.region,
        service: scope.service,
        signed_headers: split_signed_headers(&signed_headers),
        signature,
        request_time: parse_amz_date(&date, "X-Amz-Date")?,
        session_token,
        presigned_expires_seconds: Some(parse_expires(&expires)?),
    })
}

/// A presigned parameter that must be present exactly once, as UTF-8.
fn required_param(query: &[(Vec<u8>, Vec<u8>)], name: &str) -> Result<String, SigV4Error> {
    optional_param(query, name)?.ok_or_else(|| {
        // S3's wording for presigned URLs.
        SigV4Error::incomplete(format!(
            "AWS query-string parameters must include '{name}'. Re-examine the query-string parameters."
        ))
    })
}

fn optional_param(query: &[(Vec<u8>, Vec<u8>)], name: &str) -> Result<Option<String>, SigV4Error> {
    let mut values = query
        .iter()
        .filter(|(key, _)| key.as_slice() == name.as_bytes())
        .map(|(_, value)| value);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        // (wording ours)
        return Err(SigV4Error::incomplete(format!(
            "The query-string parameter '{name}' must appear only once."
        )));
    }
    match String::from_utf8(value.clone()) {
        Ok(text) => Ok(Some(text)),
        // (wording ours)
        Err(_) => Err(SigV4Error::incomplete(format!(
            "The query-string parameter '{name}' is not valid UTF-8."
        ))),
    }
}

fn parse_expires(text: &str) -> Result<u64, SigV4Error> {
    let all_digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let value = if all_digits {
        text.parse::<u64>().ok()
    } else {
        None
    };
    match value {
        Some(seconds) if seconds <= MAX_PRESIGNED_EXPIRES_SECONDS => Ok(seconds),
        // S3's wording.
        Some(_) => Err(SigV4Error::incomplete(
            "X-Amz-Expires must be less than a week (in seconds) that is; 604800",
        )),
        // (wording ours)
        None => Err(SigV4Error::incomplete(format!(
            "X-Amz-Expires should be a number of seconds, got '{text}'."
        ))),
    }
}
