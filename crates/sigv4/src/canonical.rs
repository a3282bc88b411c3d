//! The canonical request and string to sign, shared by signing and
//! verification so both sides compute exactly the same text.
//!
//! Rules (AWS SigV4, non-S3 services, matching botocore):
//! - canonical URI: the path as received, with `.`/`..` segments removed and
//!   empty segments collapsed, then percent-encoded once more (so `%20` on
//!   the wire becomes `%2520`); `/` is kept and an empty path is `/`.
//! - canonical query: each `name=value` pair percent-decoded and re-encoded
//!   with the unreserved set, sorted by name then value (byte order), `=`
//!   always present, empty pairs (`a&&b`) dropped. A raw `+` is a literal
//!   plus (RFC 3986), so it canonicalises to `%2B`; botocore never sends a raw
//!   `+` (it encodes everything outside the unreserved set), so this only
//!   matters for hand-built URLs.
//! - canonical headers: the signed headers in the order given, each as
//!   `name:value` where repeated headers are joined with `,` and every value
//!   is trimmed with inner whitespace runs collapsed to one space.

use crate::crypto::sha256_hex;
use crate::encoding::{percent_decode, uri_encode};
use crate::time::AmzDate;
use crate::HttpRequest;

/// The only algorithm this crate implements.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The query parameter carrying a presigned request's signature; it is the
/// one parameter left out of a presigned request's canonical query.
pub(crate) const SIGNATURE_PARAM: &[u8] = b"X-Amz-Signature";

/// The parts of a canonical request that do not come from the request itself.
pub(crate) struct CanonicalInput<'a> {
    /// Signed header names, as they appear in `SignedHeaders`.
    pub(crate) signed_headers: &'a [String],
    /// The payload hash line (hex SHA-256 or `UNSIGNED-PAYLOAD`).
    pub(crate) payload_hash: &'a str,
    /// Whether this is a presigned request (drop `X-Amz-Signature`).
    pub(crate) presigned: bool,
}

/// The full canonical request text.
pub(crate) fn canonical_request(req: &HttpRequest<'_>, input: &CanonicalInput<'_>) -> String {
    let mut out = String::new();
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri(req.path));
    out.push('\n');
    out.push_str(&canonical_query(req.query, input.presigned));
    out.push('\n');
    out.push_str(&canonical_headers(req, input.signed_headers));
    out.push('\n');
    out.push_str(&input.signed_headers.join(";"));
    out.push('\n');
    out.push_str(input.payload_hash);
    out
}

/// `date/region/service/aws4_request`.
pub(crate) fn credential_scope(date: &str, region: &str, service: &str) -> String {
    [date, "/", region, "/", service, "/aws4_request"].concat()
}

/// The string to sign: algorithm, request time, scope, canonical-request hash.
pub(crate) fn string_to_sign(time: &AmzDate, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{time}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// Normalised, then percent-encoded once more.
pub(crate) fn canonical_uri(raw_path: &str) -> String {
    uri_encode(remove_dot_segments(raw_path).as_bytes(), true)
}

/// RFC 3986 section 5.2.4 dot-segment removal, plus the collapsing of empty
/// segments (`//`) that AWS services require. A leading `/` is kept, and a
/// trailing `/` is kept unless nothing else remains.
fn remove_dot_segments(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// The decoded `(name, value)` pairs of a raw query string, in order. Empty
/// pairs are skipped; a pair without `=` has an empty value.
pub(crate) fn query_pairs(raw_query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

/// Sorted, re-encoded `name=value` pairs joined with `&`.
pub(crate) fn canonical_query(raw_query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(raw_query)
        .into_iter()
        .filter(|(name, _)| !(presigned && name == SIGNATURE_PARAM))
        .map(|(name, value)| (uri_encode(&name, false), uri_encode(&value, false)))
        .collect();
    pairs.sort();
    let encoded: Vec<String> = pairs
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    encoded.join("&")
}

/// One `name:value\n` line per signed header.
fn canonical_headers(req: &HttpRequest<'_>, signed_headers: &[String]) -> String {
    let mut out = String::new();
    for name in signed_headers {
        let values: Vec<String> = req.header_values(name).map(trim_all).collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

/// Trims a header value and collapses inner whitespace runs to one space.
fn trim_all(value: &str) -> String {
    value.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_and_duplicate_slashes() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./example", "/example"),
            ("//example//", "/example/"),
            ("/a/b/../c/./d/", "/a/c/d/"),
            ("/../../a", "/a"),
            ("/a/%2E%2E/b", "/a/%2E%2E/b"),
            ("relative/./x", "relative/x"),
        ];
        for (input, expected) in cases {
            assert_eq!(remove_dot_segments(input), expected, "{input:?}");
        }
    }

    #[test]
    fn uri_is_encoded_twice() {
        assert_eq!(canonical_uri("/example space/"), "/example%20space/");
        assert_eq!(canonical_uri("/example%20space/"), "/example%2520space/");
        assert_eq!(canonical_uri("/\u{1234}"), "/%E1%88%B4");
        assert_eq!(
            canonical_uri("/v2/email/identities/a%2Bb%40example.com"),
            "/v2/email/identities/a%252Bb%2540example.com"
        );
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        assert_eq!(canonical_query("", false), "");
        assert_eq!(
            canonical_query("Param2=value2&Param1=value1", false),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(
            canonical_query("Param1=value2&Param1=Value1", false),
            "Param1=Value1&Param1=value2"
        );
        assert_eq!(canonical_query("b&a=", false), "a=&b=");
        assert_eq!(canonical_query("a=1&&b=2&", false), "a=1&b=2");
        assert_eq!(canonical_query("k=a+b%20c%2fd", false), "k=a%2Bb%20c%2Fd");
        assert_eq!(canonical_query("%E1%88%B4=bar", false), "%E1%88%B4=bar");
        assert_eq!(canonical_query("\u{1234}=bar", false), "%E1%88%B4=bar");
        assert_eq!(canonical_query("a=%7e&b=~", false), "a=~&b=~");
        assert_eq!(canonical_query("x=1=2", false), "x=1%3D2");
    }

    #[test]
    fn presigned_query_drops_only_the_signature() {
        let raw = "X-Amz-Signature=abc&Action=X&X-Amz-Date=1";
        assert_eq!(canonical_query(raw, true), "Action=X&X-Amz-Date=1");
        assert_eq!(
            canonical_query(raw, false),
            "Action=X&X-Amz-Date=1&X-Amz-Signature=abc"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_joined() {
        assert_eq!(trim_all("  a   b \t c  "), "a b c");
        assert_eq!(trim_all(""), "");
        let headers = [
            ("My-Header1", "value2"),
            ("host", "example.amazonaws.com"),
            ("my-header1", " value2 "),
            ("MY-HEADER1", "value1"),
        ];
        let req = HttpRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        let signed = [
            "host".to_owned(),
            "my-header1".to_owned(),
            "absent".to_owned(),
        ];
        assert_eq!(
            canonical_headers(&req, &signed),
            "host:example.amazonaws.com\nmy-header1:value2,value2,value1\nabsent:\n"
        );
    }
}
