//! Submission through Sesame: SES-style SMTP credentials checked against IAM, and
//! messages handed to the SES send pipeline as `ses:SendRawEmail`.

use crate::session::{Backend, ConnInfo, Envelope};
use iam::{ids, Caller, Iam, RequestInfo};
use ses::{Content, Destination, SendRequest, Ses, SesError};
use std::sync::Arc;

pub struct SmtpBackend {
    pub iam: Arc<Iam>,
    pub ses: Arc<Ses>,
    /// The region whose SMTP credentials this listener accepts.
    pub region: String,
}

const INVALID: &str = "535 Authentication Credentials Invalid";

impl Backend for SmtpBackend {
    type Identity = Arc<Caller>;

    fn authenticate(&self, user: &str, password: &str) -> Result<Arc<Caller>, String> {
        let caller = self.iam.caller(user).map_err(|_| INVALID.to_string())?;
        if caller.is_temporary() {
            return Err(INVALID.into());
        }
        let expected = sigv4::ses_smtp_password(caller.secret(), &self.region);
        if constant_eq(expected.as_bytes(), password.as_bytes()) {
            Ok(caller)
        } else {
            Err(INVALID.into())
        }
    }

    fn submit(
        &self,
        who: &Arc<Caller>,
        envelope: &Envelope,
        data: &[u8],
        conn: &ConnInfo,
    ) -> Result<String, String> {
        let info = RequestInfo {
            source_ip: conn.peer.to_string(),
            secure_transport: conn.tls,
            user_agent: "SMTP".into(),
            region: self.region.clone(),
            time_ms: ids::now_ms(),
            decisions: Default::default(),
        };
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
            content: Content::Raw(String::from_utf8_lossy(data).into_owned()),
        };
        self.ses
            .send(who, &info, request)
            .map(|sent| sent.message_id)
            .map_err(|e| reply_for(&e))
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
