//! Encoded authorization messages, as AWS attaches to some denials and STS's
//! `DecodeAuthorizationMessage` decodes: the denied request and the statements that
//! decided, sealed under the server's master key so the blob is opaque and any change
//! to it is detected, and bound to the denied account so only that account decodes it.

use crate::auth::{Caller, RequestInfo};
use crate::{Iam, IamError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use store::AuthorizationRecord;

/// The authenticated-data label of these tokens (no other sealed value opens as one).
const PURPOSE: &str = "sesame/encoded-authorization-message/v1";

/// What the token seals: the denied account and the decoded message.
#[derive(Serialize, Deserialize)]
struct Sealed {
    account: String,
    message: Value,
}

impl Iam {
    /// The encoded authorization message of a denied decision of `caller`.
    pub fn encode_authorization_message(
        &self,
        caller: &Caller,
        denied: &AuthorizationRecord,
    ) -> Result<String, IamError> {
        let sealed = Sealed {
            account: caller.account.clone(),
            message: decoded_message(caller, denied),
        };
        let text = serde_json::to_string(&sealed)
            .map_err(|e| IamError::InvalidInput(format!("cannot encode the message: {e}")))?;
        Ok(self.key.seal_token(PURPOSE, &text)?)
    }

    /// STS `DecodeAuthorizationMessage`: the decoded JSON, for a caller allowed
    /// `sts:DecodeAuthorizationMessage` in the account that was denied.
    pub fn decode_authorization_message(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        encoded: &str,
    ) -> Result<String, IamError> {
        self.authorize(
            caller,
            "sts:DecodeAuthorizationMessage",
            "*",
            info,
            None,
            &[],
        )
        .map_err(|d| IamError::AccessDenied {
            message: d.message,
            trace: d.trace,
            json_style: false,
        })?;
        let invalid = || IamError::Service {
            code: "InvalidAuthorizationMessageException",
            message: "The encoded authorization message is invalid.".into(),
            status: 400,
        };
        let text = self
            .key
            .open_token(PURPOSE, encoded)
            .map_err(|_| invalid())?;
        let sealed: Sealed = serde_json::from_str(&text).map_err(|_| invalid())?;
        if sealed.account != caller.account {
            return Err(invalid());
        }
        Ok(sealed.message.to_string())
    }
}

/// The decoded message in AWS's shape: `allowed`, `explicitDeny`,
/// `matchedStatements`, `failures`, and the request `context`.
pub fn decoded_message(caller: &Caller, denied: &AuthorizationRecord) -> Value {
    let items = |values: &[String]| json!({ "items": values.iter().map(|v| json!({ "value": v })).collect::<Vec<_>>() });
    let statements: Vec<Value> = denied
        .matched
        .iter()
        .map(|s| {
            json!({
                "statementId": s.sid.clone().unwrap_or_default(),
                "effect": s.effect.to_ascii_uppercase(),
                "policy": s.policy,
                "policyType": s.layer,
                "actions": items(&s.actions),
                "resources": items(&s.resources),
            })
        })
        .collect();
    let conditions: Vec<Value> = denied
        .context
        .iter()
        .map(|c| json!({ "key": c.key, "values": items(&c.values) }))
        .collect();
    json!({
        "allowed": denied.decision == "allowed",
        "explicitDeny": denied.decision == "explicitDeny",
        "matchedStatements": { "items": statements },
        "failures": { "items": [] },
        "context": {
            "principal": { "id": caller.user_id, "name": caller.user_name, "arn": caller.arn },
            "action": denied.action,
            "resource": denied.resource,
            "conditions": { "items": conditions },
        },
    })
}
