//! STS's Query API.

use crate::protocol::{ApiError, Call, Params, Reply};
use crate::server::{AppState, STS_NAMESPACE};
use crate::xml::{query_response, Xml};
use iam::ids::iso8601;
use iam::Credentials;

pub fn handle(state: &AppState, call: &Call, p: &Params) -> Result<Reply, ApiError> {
    let iam = &state.iam;
    let c = call.caller.as_ref();
    let mut x = Xml::default();
    match call.action.as_str() {
        // Always allowed: AWS does not let policies deny GetCallerIdentity.
        "GetCallerIdentity" => {
            x.leaf("Arn", &c.arn)
                .leaf("UserId", &c.user_id)
                .leaf("Account", &c.account);
        }
        "AssumeRole" => {
            let creds = iam.assume_role(
                c,
                &call.info,
                p.required("RoleArn")?,
                p.required("RoleSessionName")?,
                p.integer("DurationSeconds")?,
                p.get("Policy"),
            )?;
            credentials(&mut x, &creds);
            x.open("AssumedRoleUser")
                .leaf(
                    "AssumedRoleId",
                    creds.assumed_role_id.as_deref().unwrap_or_default(),
                )
                .leaf("Arn", creds.assumed_role_arn.as_deref().unwrap_or_default())
                .close("AssumedRoleUser");
            if let Some(policy) = p.get("Policy") {
                let packed = (policy.len() * 100 / 2048).max(1);
                x.leaf("PackedPolicySize", &packed.to_string());
            }
        }
        "GetSessionToken" => credentials(
            &mut x,
            &iam.get_session_token(c, p.integer("DurationSeconds")?)?,
        ),
        "DecodeAuthorizationMessage" => {
            let decoded =
                iam.decode_authorization_message(c, &call.info, p.required("EncodedMessage")?)?;
            x.leaf("DecodedMessage", &decoded);
        }
        action => return Err(ApiError::invalid_action(action, p)),
    }
    Ok(Reply::xml(query_response(
        STS_NAMESPACE,
        &call.action,
        &x.into_string(),
        &call.request_id,
    )))
}

fn credentials(x: &mut Xml, c: &Credentials) {
    x.open("Credentials")
        .leaf("AccessKeyId", &c.access_key_id)
        .leaf("SecretAccessKey", &c.secret_access_key)
        .leaf("SessionToken", &c.session_token)
        .leaf("Expiration", &iso8601(c.expires_ms))
        .close("Credentials");
}
