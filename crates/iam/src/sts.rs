//! STS: who am I, AssumeRole (trust policy and the caller's own permission both
//! evaluated, session policy, duration) and GetSessionToken.

use crate::auth::{Caller, CallerKind, RequestInfo};
use crate::model::{table, Session};
use crate::{ids, Iam, IamError};

/// Temporary credentials as STS returns them.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expires_ms: i64,
    /// For AssumeRole: `AROA…:session` and the assumed-role ARN.
    pub assumed_role_id: Option<String>,
    pub assumed_role_arn: Option<String>,
}

const SESSION_POLICY_LIMIT: usize = 2048;

impl Iam {
    #[allow(clippy::too_many_arguments)]
    pub fn assume_role(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        role_arn: &str,
        session_name: &str,
        duration_seconds: Option<i64>,
        session_policy: Option<&str>,
    ) -> Result<Credentials, IamError> {
        validate_session_name(session_name)?;
        let (account, role_name) = parse_role_arn(role_arn)?;
        let denied = || IamError::AccessDenied {
            message: format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.arn
            ),
            trace: vec![format!("role {role_arn} does not exist")],
            json_style: false,
        };
        let role = self.load_role(&account, &role_name).map_err(|_| denied())?;
        let trust = self.compile(&role.trust_policy)?;
        self.authorize(
            caller,
            "sts:AssumeRole",
            role_arn,
            info,
            Some((trust.clone(), account.clone())),
            &[],
        )
        .map_err(|d| IamError::AccessDenied {
            message: d.message,
            trace: d.trace,
            json_style: false,
        })?;
        // Unlike other resource policies, a trust policy must itself allow the caller,
        // even within the account: an identity-policy allow alone is not enough.
        if !self.trust_allows(caller, info, role_arn, trust)? {
            return Err(IamError::AccessDenied {
                message: format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                    caller.arn
                ),
                trace: vec![format!(
                    "the trust policy of {role_arn} has no statement that allows {}",
                    caller.arn
                )],
                json_style: false,
            });
        }
        let max = if caller.kind == CallerKind::AssumedRole {
            3600
        } else {
            i64::from(role.max_session_duration)
        };
        let duration = duration_seconds.unwrap_or(3600);
        if duration < 900 {
            return Err(IamError::Validation(format!(
                "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
            )));
        }
        if duration > max {
            let message = if caller.kind == CallerKind::AssumedRole {
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
            } else {
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            };
            return Err(IamError::Validation(message.into()));
        }
        if let Some(doc) = session_policy {
            if doc.len() > SESSION_POLICY_LIMIT {
                return Err(IamError::Service {
                    code: "PackedPolicyTooLarge",
                    message: "Packed policy consumes more than 100 percent of the allotted space."
                        .into(),
                    status: 400,
                });
            }
            self.compile(doc)?;
        }
        let mut creds = self.issue(
            &account,
            Some(&role.name),
            session_name,
            None,
            duration,
            session_policy,
        )?;
        creds.assumed_role_id = Some(format!("{}:{session_name}", role.id));
        creds.assumed_role_arn = Some(format!(
            "arn:aws:sts::{account}:assumed-role/{}/{session_name}",
            role.name
        ));
        Ok(creds)
    }

    /// Whether the role's trust policy grants the caller (by its ARN, its role, its
    /// account or `*`): evaluated as the only grant a cross-account request could get.
    fn trust_allows(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        role_arn: &str,
        trust: std::sync::Arc<policy::Policy>,
    ) -> Result<bool, IamError> {
        let allow_all = self.compile(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)?;
        let set = policy::PolicySet {
            identity: vec![allow_all],
            resource: Some(trust),
            ..Default::default()
        };
        let ctx = crate::auth::request_context(caller, info);
        let request = policy::Request::new(
            caller.principal.clone(),
            "sts:AssumeRole",
            role_arn,
            Some("trust-policy".into()),
            ctx,
        );
        Ok(policy::evaluate(&set, &request).is_allowed())
    }

    pub fn get_session_token(
        &self,
        caller: &Caller,
        duration_seconds: Option<i64>,
    ) -> Result<Credentials, IamError> {
        if caller.is_temporary() {
            return Err(IamError::AccessDenied {
                message: "Cannot call GetSessionToken with session credentials".into(),
                trace: vec!["GetSessionToken needs long-term credentials".into()],
                json_style: false,
            });
        }
        let (max, default) = if caller.kind == CallerKind::Root {
            (3600, 3600)
        } else {
            (129_600, 43_200)
        };
        let duration = duration_seconds.unwrap_or(default);
        if !(900..=max).contains(&duration) {
            return Err(IamError::Validation(format!(
                "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and {max}"
            )));
        }
        let user = (caller.kind == CallerKind::User).then_some(caller.user_name.as_str());
        self.issue(&caller.account, None, "", user, duration, None)
    }

    fn issue(
        &self,
        account: &str,
        role: Option<&str>,
        session_name: &str,
        user: Option<&str>,
        duration: i64,
        session_policy: Option<&str>,
    ) -> Result<Credentials, IamError> {
        let access_key_id = ids::access_key_id("ASIA")?;
        let secret = ids::secret_access_key()?;
        let token = ids::session_token()?;
        let expires_ms = ids::now_ms() + duration * 1000;
        let session = Session {
            access_key_id: access_key_id.clone(),
            secret: self.key.seal(&secret)?,
            token: self.key.seal(&token)?,
            account: account.to_string(),
            role: role.map(str::to_string),
            session_name: session_name.to_string(),
            user: user.map(str::to_string),
            expires_ms,
            session_policy: session_policy.map(str::to_string),
        };
        self.mutate(|tx| Ok(tx.put(table::SESSIONS, &access_key_id, &session)?))?;
        Ok(Credentials {
            access_key_id,
            secret_access_key: secret,
            session_token: token,
            expires_ms,
            assumed_role_id: None,
            assumed_role_arn: None,
        })
    }
}

fn parse_role_arn(arn: &str) -> Result<(String, String), IamError> {
    let invalid = || IamError::Validation(format!("{arn} is invalid"));
    let [_, _, service, _, account, resource] = policy::arn::split(arn).ok_or_else(invalid)?;
    let name = resource
        .strip_prefix("role/")
        .and_then(|r| r.rsplit('/').next())
        .ok_or_else(invalid)?;
    if service != "iam" || account.len() != 12 || name.is_empty() {
        return Err(invalid());
    }
    Ok((account.to_string(), name.to_string()))
}

fn validate_session_name(name: &str) -> Result<(), IamError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if name.len() < 2 || name.len() > 64 || !name.chars().all(ok_char) {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    Ok(())
}
