//! Submission through Sesame: SES-style SMTP credentials checked against IAM, and
//! messages handed to the SES send pipeline as `ses:SendRawEmail`; every AUTH failure
//! and submission is recorded in the audit trail.

use crate::audit::{self, AuditSink, AuthFailure, Refusal};
use crate::session::{Backend, ConnInfo, Envelope};
use iam::{ids, Caller, Iam, RequestInfo};
use ses::{Content, Destination, SendRequest, Ses, SesError};
use std::sync::Arc;

pub struct SmtpBackend {
    pub iam: Arc<Iam>,
    pub ses: Arc<Ses>,
    /// The region whose SMTP credentials this listener accepts.
    pub region: String,
    pub audit: AuditSink,
}

const INVALID: &str = "535 Authentication Credentials Invalid";

impl Backend for SmtpBackend {
    type Identity = Arc<Caller>;

    fn authenticate(
        &self,
        user: &str,
        password: &str,
        conn: &ConnInfo,
    ) -> Result<Arc<Caller>, String> {
        self.check_credentials(user, password).map_err(|why| {
            let info = self.request_info(conn);
            (self.audit)(audit::auth_failure(user, &info, why, INVALID));
            INVALID.to_string()
        })
    }

    fn submit(
        &self,
        who: &Arc<Caller>,
        envelope: &Envelope,
        data: &[u8],
        conn: &ConnInfo,
    ) -> Result<String, String> {
        let info = self.request_info(conn);
        let request = SendRequest {
            action: "ses:SendRawEmail",
            api_version: "2",
            from: None,
            destination: Destination {
                to: envelope.to.clone(),
                cc: vec![],
                bcc: vec![],
            },
            return_path: Some(envelope.from.clone()).filter(|f| !f.is_empty()),
            source_arn: None,
            from_arn: None,
            return_path_arn: None,
            configuration_set: None,
            tags: Vec::new(),
            content: Content::Raw(data.to_vec().into()),
        };
        let sent = self.ses.send(who, &info, request);
        let (request_id, refusal, reply) = match &sent {
            Ok(sent) => (
                sent.message_id.clone(),
                None,
                format!("250 Ok {}", sent.message_id),
            ),
            Err(e) => {
                let refusal = Refusal {
                    code: e.v1_code(),
                    message: e.to_string(),
                    trace: e.trace(),
                };
                (ids::request_id(), Some(refusal), reply_for(e))
            }
        };
        if refusal.is_some() {
            tracing::info!(request_id, reply, "smtp message refused");
        }
        (self.audit)(audit::submission(
            who,
            &request_id,
            &info,
            &envelope.from,
            &envelope.to,
            data.len(),
            refusal.as_ref(),
            &reply,
        ));
        sent.map(|sent| sent.message_id).map_err(|_| reply)
    }
}

impl SmtpBackend {
    fn check_credentials(&self, user: &str, password: &str) -> Result<Arc<Caller>, AuthFailure> {
        let caller = self.iam.caller(user).map_err(|_| AuthFailure::UnknownKey)?;
        if caller.is_temporary() {
            return Err(AuthFailure::UnknownKey);
        }
        let expected = sigv4::ses_smtp_password(caller.secret(), &self.region);
        if constant_eq(expected.as_bytes(), password.as_bytes()) {
            Ok(caller)
        } else {
            Err(AuthFailure::WrongPassword)
        }
    }

    fn request_info(&self, conn: &ConnInfo) -> RequestInfo {
        RequestInfo {
            source_ip: conn.peer.to_string(),
            secure_transport: conn.tls,
            user_agent: "SMTP".into(),
            region: self.region.clone(),
            time_ms: ids::now_ms(),
            decisions: Default::default(),
        }
    }
}

/// SES's SMTP reply for a rejected send.
fn reply_for(e: &SesError) -> String {
    match e {
        SesError::AccessDenied { message, .. } => format!("554 Access denied: {message}"),
        SesError::MessageRejected(m) => format!("554 Message rejected: {m}"),
        SesError::Throttling(m) => format!("454 Throttling failure: {m}"),
        SesError::Store(_) => "451 4.3.0 Temporary failure, please try again".into(),
        other => format!("554 Transaction failed: {other}"),
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
