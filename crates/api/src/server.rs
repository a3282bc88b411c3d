//! The HTTP server: one endpoint for every service. The service comes from the SigV4
//! credential scope (Query APIs) or the `X-Amz-Target` header (JSON APIs).

use crate::audit::{self, Auditor, CallRecord};
use crate::protocol::{redact_json, ApiError, AuditedParameters, Call, Params, Protocol, Reply};
use crate::{auth, cloudtrail_api, iam_api, org_api, ses_v1_api, ses_v2_api, sts_api};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response};
use iam::{ids, Iam, RequestInfo};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Everything a request handler needs.
pub struct AppState {
    pub iam: Arc<Iam>,
    pub ses: Arc<ses::Ses>,
    pub auditor: Auditor,
}

/// Largest request body accepted.
const MAX_BODY: usize = 40 * 1024 * 1024;

pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Serves until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let state = state.clone();
                let service = hyper::service::service_fn(move |req| handle(state.clone(), peer, req));
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(std::time::Duration::from_secs(30)) => tracing::warn!("connections still open after 30 s; closing"),
    }
    Ok(())
}

async fn handle(
    state: Arc<AppState>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    let request_id = ids::request_id();
    let protocol = protocol_of(&parts.uri, &parts.headers);
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let e = ApiError::new(
                413,
                "RequestEntityTooLarge",
                "Request body exceeds the maximum allowed size",
            );
            return Ok(respond(
                (Reply::error(protocol, &e, &request_id), None),
                &request_id,
            ));
        }
    };
    let rid = request_id.clone();
    let internal = parts.uri.path().starts_with("/_sesame/") || parts.uri.path() == "/metrics";
    let api = api_label(protocol, internal);
    // A panicking handler answers InternalFailure, on either kind of thread.
    let dispatched = if !internal && is_send(protocol, &body) {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            dispatch(&state, peer, &parts, &body, protocol, &rid)
        }))
        .ok()
    } else {
        let handler = state.clone();
        tokio::task::spawn_blocking(move || {
            if internal {
                (
                    crate::internal::handle(&handler, parts.method.as_str(), parts.uri.path()),
                    None,
                    None,
                )
            } else {
                dispatch(&handler, peer, &parts, &body, protocol, &rid)
            }
        })
        .await
        .ok()
    };
    let (reply, encoded, awaiting) = dispatched.unwrap_or_else(|| {
        let e = ApiError::new(
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error.",
        );
        (Reply::error(protocol, &e, &request_id), None, None)
    });
    let reply = match awaiting {
        Some(awaiting) => awaiting.reply(&state, reply, &request_id).await,
        None => reply,
    };
    metrics::request_latency(api, started.elapsed());
    Ok(respond((reply, encoded), &request_id))
}

/// Whether a request is a v1 SendEmail or SendRawEmail (its `Action` in the body, as
/// SDKs send it). These run on the async worker itself rather than on a blocking
/// thread: until their message is handed to the spool they only compute (reads come
/// from the store's cache, the audit event is queued) and the wait for the disk is
/// awaited (`AwaitingCommit`), so a thread hand-off each way would cost more than
/// the call. Templated sends may write a rendering failure, so they stay blocking.
/// The body's pairs are compared undecoded: an action spelt with escapes merely
/// takes the blocking path.
fn is_send(protocol: Protocol, body: &[u8]) -> bool {
    matches!(protocol, Protocol::Query { namespace } if namespace == ses_v1_api::SES_NAMESPACE)
        && body
            .split(|b| *b == b'&')
            .find_map(|pair| pair.strip_prefix(b"Action="))
            .is_some_and(|action| action == b"SendEmail" || action == b"SendRawEmail")
}

/// A send's reply held until its message is on disk, with the call's audit event,
/// recorded once the outcome is known. Awaited on the async side, so no thread
/// waits for the group commit.
struct AwaitingCommit {
    sent: ses::PendingSend,
    event: audit::CallEvent,
    protocol: Protocol,
}

impl AwaitingCommit {
    async fn reply(self, state: &AppState, reply: Reply, request_id: &str) -> Reply {
        let AwaitingCommit {
            sent,
            mut event,
            protocol,
        } = self;
        let reply = match sent.completed().await {
            Ok(_) => reply,
            Err(e) => {
                let e = match protocol {
                    Protocol::Rest => ses_v2_api::err(e),
                    _ => ses_v1_api::err(e),
                };
                tracing::info!(request_id, action = %event.event_name, code = %e.code, "call failed");
                audit::set_error(&mut event, &e);
                Reply::error(protocol, &e, request_id)
            }
        };
        state.auditor.record_call(event);
        reply
    }
}

/// The API a request is counted under in the latency histograms.
fn api_label(protocol: Protocol, internal: bool) -> metrics::Api {
    match protocol {
        _ if internal => metrics::Api::Internal,
        Protocol::Query { namespace } if namespace == STS_NAMESPACE => metrics::Api::Sts,
        Protocol::Query { namespace } if namespace == IAM_NAMESPACE => metrics::Api::Iam,
        Protocol::Query { .. } => metrics::Api::SesV1,
        Protocol::Rest => metrics::Api::SesV2,
        Protocol::Json => metrics::Api::Json,
    }
}

/// The response header that carries a denial's encoded authorization message (for
/// `aws sts decode-authorization-message`); the error's own message stays AWS's.
const ENCODED_AUTHORIZATION_MESSAGE_HEADER: &str = "x-sesame-encoded-authorization-message";

fn respond(
    (reply, encoded_authorization): (Reply, Option<String>),
    request_id: &str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = hyper::StatusCode::from_u16(reply.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(reply.content_type));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    if let Some(v) = encoded_authorization.and_then(|m| HeaderValue::from_str(&m).ok()) {
        headers.insert(ENCODED_AUTHORIZATION_MESSAGE_HEADER, v);
    }
    response
}

fn protocol_of(uri: &hyper::Uri, headers: &hyper::HeaderMap) -> Protocol {
    if headers.contains_key("x-amz-target") {
        return Protocol::Json;
    }
    if uri.path().starts_with("/v2/email/") {
        return Protocol::Rest;
    }
    let from_header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .map(str::to_string);
    let from_query = || {
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == "X-Amz-Credential")
            .and_then(|(_, v)| v.split('/').nth(3).map(str::to_string))
    };
    match from_header.or_else(from_query).as_deref() {
        Some("sts") => Protocol::Query {
            namespace: STS_NAMESPACE,
        },
        Some("ses" | "email") => Protocol::Query {
            namespace: ses_v1_api::SES_NAMESPACE,
        },
        _ => Protocol::Query {
            namespace: IAM_NAMESPACE,
        },
    }
}

fn dispatch(
    state: &AppState,
    peer: SocketAddr,
    parts: &hyper::http::request::Parts,
    body: &[u8],
    protocol: Protocol,
    request_id: &str,
) -> (Reply, Option<String>, Option<AwaitingCommit>) {
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    let query = parts.uri.query().unwrap_or("");
    let http = sigv4::HttpRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query,
        headers: &headers,
        body,
    };
    let now = ids::now_ms();
    let mut info = RequestInfo {
        source_ip: peer.ip().to_string(),
        secure_transport: false,
        user_agent: header("user-agent").unwrap_or("").to_string(),
        region: String::new(),
        time_ms: now,
        decisions: Default::default(),
    };
    let mut params = Params::parse(query.as_bytes());
    if matches!(protocol, Protocol::Query { .. }) {
        params.extend_from(Params::parse(body));
    }
    let target = header("x-amz-target").unwrap_or("");
    let action = match protocol {
        Protocol::Json => target.rsplit('.').next().unwrap_or("").to_string(),
        Protocol::Query { .. } => params.get("Action").unwrap_or("").to_string(),
        Protocol::Rest => ses_v2_operation(parts.method.as_str(), parts.uri.path()),
    };
    let (caller, scope) = match auth::authenticate(&state.iam, &http, now) {
        Ok(ok) => ok,
        Err((e, akid)) => {
            let service = protocol_service(protocol, target);
            record(
                state,
                request_id,
                service,
                &action,
                None,
                &akid,
                &info,
                &params,
                Some(&e),
            );
            return (Reply::error(protocol, &e, request_id), None, None);
        }
    };
    info.region = scope.region.clone();
    let service = match protocol {
        Protocol::Json | Protocol::Rest => protocol_service(protocol, target),
        Protocol::Query { .. } => scope.service.as_str(),
    };
    let mut call = Call {
        action: action.clone(),
        caller: caller.clone(),
        info: info.clone(),
        request_id: request_id.to_string(),
        commit: Default::default(),
    };
    let result = match (protocol, service) {
        (Protocol::Query { .. }, _) if action.is_empty() => {
            Err(ApiError::new(400, "MissingAction", "Missing Action"))
        }
        (Protocol::Query { .. }, "iam") => iam_api::handle(state, &call, &params),
        (Protocol::Query { .. }, "sts") => sts_api::handle(state, &call, &params),
        (Protocol::Query { .. }, "ses" | "email") => ses_v1_api::handle(state, &call, &params),
        (Protocol::Rest, _) => json_body(body).and_then(|b| {
            let query = parts.uri.query().unwrap_or("");
            ses_v2_api::handle(
                state,
                &call,
                parts.method.as_str(),
                parts.uri.path(),
                query,
                &b,
            )
        }),
        (Protocol::Json, "organizations") => {
            json_body(body).and_then(|b| org_api::handle(state, &call, &b))
        }
        (Protocol::Json, "cloudtrail") => {
            json_body(body).and_then(|b| cloudtrail_api::handle(state, &call, &b))
        }
        (Protocol::Json, _) => Err(ApiError::new(
            400,
            "UnknownOperationException",
            format!("Unknown operation {target}"),
        )),
        (Protocol::Query { .. }, _) => Err(ApiError::invalid_action(&action, &params)),
    };
    let parameters = match protocol {
        Protocol::Json | Protocol::Rest => {
            AuditedParameters::Json(json_body(body).map(|b| redact_json(&b)).unwrap_or_default())
        }
        Protocol::Query { .. } => params.redacted(),
    };
    let error = result.as_ref().err();
    // Before the audit event, which takes the call's decisions.
    let encoded = error.and_then(|e| encoded_authorization_message(state, &caller, &info, e));
    let event = audit::event(CallRecord {
        request_id,
        service,
        action: &action,
        caller: Some(&caller),
        access_key_id: &caller.access_key_id,
        info: &info,
        parameters,
        error,
        read_only: is_read_only(&action),
    });
    let awaiting = match (call.commit.take(), error) {
        (Some(sent), None) => Some(AwaitingCommit {
            sent,
            event,
            protocol,
        }),
        _ => {
            state.auditor.record_call(event);
            None
        }
    };
    if let Some(e) = error {
        tracing::info!(request_id, action = %action, principal = %caller.arn, code = %e.code, "call failed");
    }
    let reply = result.unwrap_or_else(|e| Reply::error(protocol, &e, request_id));
    (reply, encoded, awaiting)
}

/// The encoded authorization message of an authorization denial: the last decision
/// of the call, when that decision denied it.
fn encoded_authorization_message(
    state: &AppState,
    caller: &iam::Caller,
    info: &RequestInfo,
    error: &ApiError,
) -> Option<String> {
    if !error.code.starts_with("AccessDenied") {
        return None;
    }
    let denied = info.decisions.last()?;
    if denied.decision == "allowed" {
        return None;
    }
    match state.iam.encode_authorization_message(caller, &denied) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode an authorization message");
            None
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    state: &AppState,
    request_id: &str,
    service: &str,
    action: &str,
    caller: Option<&iam::Caller>,
    akid: &str,
    info: &RequestInfo,
    params: &Params,
    error: Option<&ApiError>,
) {
    state.auditor.record_call(audit::event(CallRecord {
        request_id,
        service,
        action,
        caller,
        access_key_id: akid,
        info,
        parameters: params.redacted(),
        error,
        read_only: is_read_only(action),
    }));
}

fn protocol_service(protocol: Protocol, target: &str) -> &'static str {
    match protocol {
        Protocol::Json if target.starts_with("AWSOrganizations") => "organizations",
        Protocol::Json if target.contains("CloudTrail") => "cloudtrail",
        Protocol::Json => "unknown",
        Protocol::Rest => "ses",
        Protocol::Query { namespace } if namespace == STS_NAMESPACE => "sts",
        Protocol::Query { namespace } if namespace == ses_v1_api::SES_NAMESPACE => "ses",
        Protocol::Query { .. } => "iam",
    }
}

/// The SES v2 operation name of a REST request, for the audit trail.
fn ses_v2_operation(method: &str, path: &str) -> String {
    let segments: Vec<&str> = path.trim_start_matches("/v2/email/").split('/').collect();
    let name = match (method, segments.as_slice()) {
        ("POST", ["outbound-emails"]) => "SendEmail",
        ("POST", ["identities"]) => "CreateEmailIdentity",
        ("GET", ["identities"]) => "ListEmailIdentities",
        ("GET", ["identities", _]) => "GetEmailIdentity",
        ("DELETE", ["identities", _]) => "DeleteEmailIdentity",
        ("GET", ["identities", _, "policies"]) => "GetEmailIdentityPolicies",
        ("POST", ["identities", _, "policies", _]) => "CreateEmailIdentityPolicy",
        ("PUT", ["identities", _, "policies", _]) => "UpdateEmailIdentityPolicy",
        ("DELETE", ["identities", _, "policies", _]) => "DeleteEmailIdentityPolicy",
        ("GET", ["account"]) => "GetAccount",
        ("PUT", ["account", "sending"]) => "PutAccountSendingAttributes",
        ("POST", ["account", "details"]) => "PutAccountDetails",
        ("PUT", ["account", "suppression"]) => "PutAccountSuppressionAttributes",
        ("PUT", ["identities", _, "feedback"]) => "PutEmailIdentityFeedbackAttributes",
        ("PUT", ["identities", _, "dkim"]) => "PutEmailIdentityDkimAttributes",
        ("POST", ["outbound-bulk-emails"]) => "SendBulkEmail",
        ("POST", ["templates"]) => "CreateEmailTemplate",
        ("GET", ["templates"]) => "ListEmailTemplates",
        ("GET", ["templates", _]) => "GetEmailTemplate",
        ("PUT", ["templates", _]) => "UpdateEmailTemplate",
        ("DELETE", ["templates", _]) => "DeleteEmailTemplate",
        ("POST", ["templates", _, "render"]) => "TestRenderEmailTemplate",
        ("POST", ["configuration-sets"]) => "CreateConfigurationSet",
        ("GET", ["configuration-sets"]) => "ListConfigurationSets",
        ("GET", ["configuration-sets", _]) => "GetConfigurationSet",
        ("DELETE", ["configuration-sets", _]) => "DeleteConfigurationSet",
        ("PUT", ["configuration-sets", _, "sending"]) => "PutConfigurationSetSendingOptions",
        ("PUT", ["configuration-sets", _, "suppression-options"]) => {
            "PutConfigurationSetSuppressionOptions"
        }
        ("POST", ["configuration-sets", _, "event-destinations"]) => {
            "CreateConfigurationSetEventDestination"
        }
        ("GET", ["configuration-sets", _, "event-destinations"]) => {
            "GetConfigurationSetEventDestinations"
        }
        ("PUT", ["configuration-sets", _, "event-destinations", _]) => {
            "UpdateConfigurationSetEventDestination"
        }
        ("DELETE", ["configuration-sets", _, "event-destinations", _]) => {
            "DeleteConfigurationSetEventDestination"
        }
        ("PUT", ["suppression", "addresses"]) => "PutSuppressedDestination",
        ("GET", ["suppression", "addresses"]) => "ListSuppressedDestinations",
        ("GET", ["suppression", "addresses", _]) => "GetSuppressedDestination",
        ("DELETE", ["suppression", "addresses", _]) => "DeleteSuppressedDestination",
        _ => "Unknown",
    };
    name.to_string()
}

fn json_body(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    if body.is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            400,
            "SerializationException",
            format!("Malformed JSON body: {e}"),
        )
    })
}

fn is_read_only(action: &str) -> bool {
    ["Get", "List", "Describe", "Lookup", "Simulate"]
        .iter()
        .any(|p| action.starts_with(p))
}
