//! AWS's published SigV4 test-suite vectors (credentials AKIDEXAMPLE /
//! wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, us-east-1, service "service",
//! 20150830T123600Z) and the IAM ListUsers example from the AWS General
//! Reference. Each vector is checked both ways: `sign` must produce AWS's
//! Authorization header, and `verify` must accept it.

use sigv4::{parse_auth, sign, verify, HttpRequest, MismatchReason, SigV4Error, SigningParams};

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 2015-08-30T12:36:00Z.
const SUITE_TIME: i64 = 1_440_938_160;
const HOST: (&str, &str) = ("Host", "example.amazonaws.com");
const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The session token of the suite's post-sts-token vectors.
const SUITE_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

struct Vector {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    query: &'static str,
    /// Headers other than X-Amz-Date, which every vector carries.
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
    signed_headers: &'static str,
    signature: &'static str,
}

const VECTORS: &[Vector] = &[
    Vector {
        name: "get-vanilla",
        method: "GET",
        path: "/",
        query: "",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    Vector {
        name: "get-vanilla-query-order-key-case",
        method: "GET",
        path: "/",
        query: "Param2=value2&Param1=value1",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    },
    Vector {
        name: "get-vanilla-query-order-value",
        method: "GET",
        path: "/",
        query: "Param1=value2&Param1=value1",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
    },
    Vector {
        name: "get-vanilla-query-unreserved",
        method: "GET",
        path: "/",
        query: "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    },
    Vector {
        name: "get-vanilla-utf8-query",
        method: "GET",
        path: "/",
        query: "\u{1234}=bar",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    },
    Vector {
        name: "get-vanilla-empty-query-key",
        method: "GET",
        path: "/",
        query: "Param1=value1",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
    },
    Vector {
        name: "get-utf8",
        method: "GET",
        path: "/\u{1234}",
        query: "",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    },
    Vector {
        name: "get-space (normalize-path)",
        method: "GET",
        path: "/example space/",
        query: "",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
    },
    Vector {
        name: "get-relative (normalize-path)",
        method: "GET",
        path: "/example/..",
        query: "",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    Vector {
        name: "get-relative-relative (normalize-path)",
        method: "GET",
        path: "/example1/example2/../..",
        query: "",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    Vector {
        name: "get-slash (normalize-path)",
        method: "GET",
        path: "//",
        query: "",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    Vector {
        name: "get-slash-dot-slash (normalize-path)",
        method: "GET",
        path: "/./",
        query: "",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    Vector {
        name: "get-slash-pointless-dot (normalize-path)",
        method: "GET",
        path: "/./example",
        query: "",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5",
    },
    Vector {
        name: "get-slashes (normalize-path)",
        method: "GET",
        path: "//example//",
        query: "",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
    },
    Vector {
        name: "get-header-key-duplicate",
        method: "GET",
        path: "/",
        query: "",
        headers: &[
            HOST,
            ("My-Header1", "value2"),
            ("My-Header1", "value2"),
            ("My-Header1", "value1"),
        ],
        body: b"",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    },
    Vector {
        name: "get-header-value-order",
        method: "GET",
        path: "/",
        query: "",
        headers: &[
            HOST,
            ("My-Header1", "value4"),
            ("My-Header1", "value1"),
            ("My-Header1", "value3"),
            ("My-Header1", "value2"),
        ],
        body: b"",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
    },
    Vector {
        name: "get-header-value-trim",
        method: "GET",
        path: "/",
        query: "",
        headers: &[
            HOST,
            ("My-Header1", " value1"),
            ("My-Header2", " \"a   b   c\""),
        ],
        body: b"",
        signed_headers: "host;my-header1;my-header2;x-amz-date",
        signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    Vector {
        name: "post-vanilla",
        method: "POST",
        path: "/",
        query: "",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    Vector {
        name: "post-header-key-case",
        method: "POST",
        path: "/",
        query: "",
        headers: &[("HOST", "example.amazonaws.com")],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    Vector {
        name: "post-header-key-sort",
        method: "POST",
        path: "/",
        query: "",
        headers: &[HOST, ("My-Header1", "value1")],
        body: b"",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    },
    Vector {
        name: "post-header-value-case",
        method: "POST",
        path: "/",
        query: "",
        headers: &[HOST, ("My-Header1", "VALUE1")],
        body: b"",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    },
    Vector {
        name: "post-vanilla-query",
        method: "POST",
        path: "/",
        query: "Param1=value1",
        headers: &[HOST],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    },
    Vector {
        name: "post-x-www-form-urlencoded",
        method: "POST",
        path: "/",
        query: "",
        headers: &[("Content-Type", "application/x-www-form-urlencoded"), HOST],
        body: b"Param1=value1",
        signed_headers: "content-type;host;x-amz-date",
        signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    },
    Vector {
        name: "post-x-www-form-urlencoded-parameters",
        method: "POST",
        path: "/",
        query: "",
        headers: &[
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf8"),
            HOST,
        ],
        body: b"Param1=value1",
        signed_headers: "content-type;host;x-amz-date",
        signature: "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
    },
];

fn params(service: &'static str, session_token: Option<&'static str>) -> SigningParams<'static> {
    SigningParams {
        access_key_id: AKID,
        secret_access_key: SECRET,
        session_token,
        region: "us-east-1",
        service,
        unix_seconds: SUITE_TIME,
    }
}

fn authorization(scope_service: &str, signed_headers: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/20150830/us-east-1/{scope_service}/aws4_request, \
         SignedHeaders={signed_headers}, Signature={signature}"
    )
}

fn request<'a>(v: &'a Vector, headers: &'a [(&'a str, &'a str)]) -> HttpRequest<'a> {
    HttpRequest {
        method: v.method,
        path: v.path,
        query: v.query,
        headers,
        body: v.body,
    }
}

#[test]
fn sign_reproduces_every_suite_vector() {
    for v in VECTORS {
        let signed = sign(&request(v, v.headers), &params("service", None)).unwrap();
        assert_eq!(
            signed.authorization,
            authorization("service", v.signed_headers, v.signature),
            "{}",
            v.name
        );
        assert_eq!(signed.x_amz_date, "20150830T123600Z");
    }
}

#[test]
fn verify_accepts_every_suite_vector_and_rejects_a_wrong_signature() {
    for v in VECTORS {
        let authz = authorization("service", v.signed_headers, v.signature);
        let mut headers = v.headers.to_vec();
        headers.push(("X-Amz-Date", "20150830T123600Z"));
        headers.push(("Authorization", &authz));
        let req = request(v, &headers);
        let auth = parse_auth(&req).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        verify(&req, &auth, SECRET, SUITE_TIME).unwrap_or_else(|e| panic!("{}: {e:?}", v.name));

        let mut wrong = auth.clone();
        wrong.signature = "5".repeat(64);
        let error = verify(&req, &wrong, SECRET, SUITE_TIME).unwrap_err();
        assert_eq!(error.code(), "SignatureDoesNotMatch", "{}", v.name);
    }
}

/// The suite's canonical request for get-vanilla and the hash in its string
/// to sign, seen through the mismatch details of a wrong secret.
#[test]
fn get_vanilla_canonical_request_and_string_to_sign() {
    let v = &VECTORS[0];
    let authz = authorization("service", v.signed_headers, v.signature);
    let headers = [
        HOST,
        ("X-Amz-Date", "20150830T123600Z"),
        ("Authorization", &authz),
    ];
    let req = request(v, &headers);
    let auth = parse_auth(&req).unwrap();
    let SigV4Error::SignatureDoesNotMatch(details) =
        verify(&req, &auth, "not the secret", SUITE_TIME).unwrap_err()
    else {
        panic!("expected a mismatch");
    };
    assert_eq!(details.reason, MismatchReason::SignatureDiffers);
    assert_eq!(
        details.canonical_request,
        format!(
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY_HASH}"
        )
    );
    assert_eq!(
        details.string_to_sign,
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
         bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    );
}

/// The IAM ListUsers example of the AWS General Reference.
#[test]
fn iam_list_users_example() {
    let headers = [
        (
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("Host", "iam.amazonaws.com"),
    ];
    let req = HttpRequest {
        method: "GET",
        path: "/",
        query: "Action=ListUsers&Version=2010-05-08",
        headers: &headers,
        body: b"",
    };
    let expected = authorization(
        "iam",
        "content-type;host;x-amz-date",
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    );
    assert_eq!(
        sign(&req, &params("iam", None)).unwrap().authorization,
        expected
    );

    let mut received = headers.to_vec();
    received.push(("X-Amz-Date", "20150830T123600Z"));
    received.push(("Authorization", &expected));
    let req = HttpRequest {
        headers: &received,
        ..req
    };
    let auth = parse_auth(&req).unwrap();
    assert_eq!(
        (auth.region.as_str(), auth.service.as_str()),
        ("us-east-1", "iam")
    );
    verify(&req, &auth, SECRET, SUITE_TIME).unwrap();

    let SigV4Error::SignatureDoesNotMatch(details) =
        verify(&req, &auth, "wrong", SUITE_TIME).unwrap_err()
    else {
        panic!("expected a mismatch");
    };
    assert_eq!(
        details.canonical_request,
        format!(
            "GET\n/\nAction=ListUsers&Version=2010-05-08\n\
             content-type:application/x-www-form-urlencoded; charset=utf-8\n\
             host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             content-type;host;x-amz-date\n{EMPTY_HASH}"
        )
    );
    assert!(details
        .string_to_sign
        .ends_with("\nf536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"));
}

/// post-sts-header-before: the session token is a signed header.
#[test]
fn post_sts_token_signed_header() {
    let v = &VECTORS[17];
    assert_eq!(v.name, "post-vanilla");
    let signed = sign(
        &request(v, v.headers),
        &params("service", Some(SUITE_TOKEN)),
    )
    .unwrap();
    let expected = authorization(
        "service",
        "host;x-amz-date;x-amz-security-token",
        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
    );
    assert_eq!(signed.authorization, expected);
    assert_eq!(signed.x_amz_security_token.as_deref(), Some(SUITE_TOKEN));

    let mut received = vec![HOST];
    let added = signed.to_vec();
    received.extend(added.iter().map(|(n, value)| (*n, value.as_str())));
    let req = request(v, &received);
    let auth = parse_auth(&req).unwrap();
    assert_eq!(auth.session_token.as_deref(), Some(SUITE_TOKEN));
    verify(&req, &auth, SECRET, SUITE_TIME).unwrap();
}

/// post-sts-header-after: the token header is sent but was added after
/// signing, so it is not signed; the signature is post-vanilla's.
#[test]
fn post_sts_token_unsigned_header() {
    let authz = authorization(
        "service",
        "host;x-amz-date",
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    );
    let headers = [
        HOST,
        ("X-Amz-Date", "20150830T123600Z"),
        ("X-Amz-Security-Token", SUITE_TOKEN),
        ("Authorization", &authz),
    ];
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: b"",
    };
    let auth = parse_auth(&req).unwrap();
    assert_eq!(auth.session_token.as_deref(), Some(SUITE_TOKEN));
    verify(&req, &auth, SECRET, SUITE_TIME).unwrap();
}
