//! SES v1 (Query API, service `ses` or `email`): identities, identity policies,
//! sending, quotas; templates, configuration sets, feedback and statistics in the
//! submodules.

mod config_sets;
mod feedback;
mod templates;

use crate::protocol::{ApiError, Call, Params, Reply};
use crate::server::AppState;
use crate::xml::{query_response, Xml};
use ses::{Content, Destination, IdentityKind, SendRequest, SesError};

pub const SES_NAMESPACE: &str = "http://ses.amazonaws.com/doc/2010-12-01/";

pub fn handle(state: &AppState, call: &Call, p: &Params) -> Result<Reply, ApiError> {
    let ses = &state.ses;
    let (c, i) = (call.caller.as_ref(), &call.info);
    let mut x = Xml::default();
    match call.action.as_str() {
        "VerifyEmailIdentity" => drop(
            ses.verify_email(c, i, p.required("EmailAddress")?)
                .map_err(err)?,
        ),
        "VerifyEmailAddress" => drop(
            ses.verify_email(c, i, p.required("EmailAddress")?)
                .map_err(err)?,
        ),
        "VerifyDomainIdentity" => {
            let identity = ses
                .verify_domain(c, i, p.required("Domain")?)
                .map_err(err)?;
            x.leaf("VerificationToken", &identity.verification_token);
        }
        "VerifyDomainDkim" => {
            let identity = ses
                .verify_domain_dkim(c, i, p.required("Domain")?)
                .map_err(err)?;
            x.open("DkimTokens");
            for t in &identity.dkim_tokens {
                x.leaf("member", t);
            }
            x.close("DkimTokens");
        }
        "ListIdentities" => {
            let kind = match p.get("IdentityType") {
                Some("EmailAddress") => Some(IdentityKind::EmailAddress),
                Some("Domain") => Some(IdentityKind::Domain),
                _ => None,
            };
            x.open("Identities");
            for identity in ses.list_identities(c, i, kind).map_err(err)? {
                x.leaf("member", &identity.name);
            }
            x.close("Identities");
        }
        "GetIdentityVerificationAttributes" => {
            x.open("VerificationAttributes");
            for name in p.members("Identities") {
                let Some(identity) = ses
                    .get_identity(c, i, "ses:GetIdentityVerificationAttributes", name)
                    .map_err(err)?
                else {
                    continue;
                };
                x.open("entry").leaf("key", name).open("value");
                x.leaf(
                    "VerificationStatus",
                    if identity.verified {
                        "Success"
                    } else {
                        "Pending"
                    },
                );
                if identity.kind == IdentityKind::Domain {
                    x.leaf("VerificationToken", &identity.verification_token);
                }
                x.close("value").close("entry");
            }
            x.close("VerificationAttributes");
        }
        "GetIdentityDkimAttributes" => {
            x.open("DkimAttributes");
            for name in p.members("Identities") {
                let Some(identity) = ses
                    .get_identity(c, i, "ses:GetIdentityDkimAttributes", name)
                    .map_err(err)?
                else {
                    continue;
                };
                x.open("entry").leaf("key", name).open("value");
                x.leaf(
                    "DkimEnabled",
                    if identity.dkim_enabled {
                        "true"
                    } else {
                        "false"
                    },
                );
                x.leaf("DkimVerificationStatus", dkim_status(&identity));
                x.open("DkimTokens");
                for t in &identity.dkim_tokens {
                    x.leaf("member", t);
                }
                x.close("DkimTokens").close("value").close("entry");
            }
            x.close("DkimAttributes");
        }
        "DeleteIdentity" => ses
            .delete_identity(c, i, p.required("Identity")?)
            .map_err(err)?,
        "PutIdentityPolicy" => ses
            .put_policy(
                c,
                i,
                p.required("Identity")?,
                p.required("PolicyName")?,
                p.required("Policy")?,
            )
            .map_err(err)?,
        "DeleteIdentityPolicy" => ses
            .delete_policy(c, i, p.required("Identity")?, p.required("PolicyName")?)
            .map_err(err)?,
        "GetIdentityPolicies" => {
            let names = p.members("PolicyNames");
            x.open("Policies");
            for (name, doc) in ses
                .get_policies(c, i, p.required("Identity")?, &names)
                .map_err(err)?
            {
                x.open("entry")
                    .leaf("key", &name)
                    .leaf("value", &doc)
                    .close("entry");
            }
            x.close("Policies");
        }
        "ListIdentityPolicies" => {
            x.open("PolicyNames");
            for (name, _) in ses
                .get_policies(c, i, p.required("Identity")?, &[])
                .map_err(err)?
            {
                x.leaf("member", &name);
            }
            x.close("PolicyNames");
        }
        "SendEmail" => {
            let req = SendRequest {
                action: "ses:SendEmail",
                api_version: "1",
                from: Some(p.required("Source")?.to_string()),
                destination: destination(
                    p,
                    "Destination.ToAddresses",
                    "Destination.CcAddresses",
                    "Destination.BccAddresses",
                ),
                return_path: p.get("ReturnPath").map(str::to_string),
                source_arn: p.get("SourceArn").map(str::to_string),
                from_arn: None,
                return_path_arn: p.get("ReturnPathArn").map(str::to_string),
                configuration_set: p.get("ConfigurationSetName").map(str::to_string),
                tags: message_tags(p, "Tags"),
                content: Content::Simple {
                    subject: p
                        .get("Message.Subject.Data")
                        .ok_or_else(|| not_null("message.subject"))?
                        .to_string(),
                    text: p.get("Message.Body.Text.Data").map(str::to_string),
                    html: p.get("Message.Body.Html.Data").map(str::to_string),
                    reply_to: strings(p, "ReplyToAddresses"),
                },
            };
            let sent = ses.send_pending(c, i, req).map_err(err)?;
            x.leaf("MessageId", &sent.message_id);
            call.reply_after_commit(sent);
        }
        "SendRawEmail" => {
            let data = p.required("RawMessage.Data")?;
            let bytes = ses::mime::base64_decode(data)
                .ok_or_else(|| ApiError::new(400, "MalformedInput", "Invalid Base64 encoding"))?;
            let raw = ses::RawMessage::from(bytes);
            if raw.len() > 10 * 1024 * 1024 {
                return Err(ApiError::new(
                    400,
                    "MessageRejected",
                    "Message length is more than 10485760 bytes long: '".to_string()
                        + &raw.len().to_string()
                        + "'.",
                ));
            }
            let to: Vec<String> = p
                .members("Destinations")
                .into_iter()
                .map(str::to_string)
                .collect();
            let req = SendRequest {
                action: "ses:SendRawEmail",
                api_version: "1",
                from: p.get("Source").map(str::to_string),
                destination: Destination {
                    to,
                    cc: vec![],
                    bcc: vec![],
                },
                return_path: None,
                source_arn: p.get("SourceArn").map(str::to_string),
                from_arn: p.get("FromArn").map(str::to_string),
                return_path_arn: p.get("ReturnPathArn").map(str::to_string),
                configuration_set: p.get("ConfigurationSetName").map(str::to_string),
                tags: message_tags(p, "Tags"),
                content: Content::Raw(raw),
            };
            let sent = ses.send_pending(c, i, req).map_err(err)?;
            x.leaf("MessageId", &sent.message_id);
            call.reply_after_commit(sent);
        }
        "GetSendQuota" => {
            let (max, rate, sent) = ses.send_quota(c, i).map_err(err)?;
            x.leaf("Max24HourSend", &format!("{max:.1}"))
                .leaf("MaxSendRate", &format!("{rate:.1}"))
                .leaf("SentLast24Hours", &format!("{sent}.0"));
        }
        "GetAccountSendingEnabled" => {
            state.iam.allow(c, i, "ses:GetAccountSendingEnabled", "*")?;
            let enabled = ses
                .settings(&c.account, &i.region)
                .map_err(err)?
                .sending_enabled;
            x.leaf("Enabled", if enabled { "true" } else { "false" });
        }
        "UpdateAccountSendingEnabled" => ses
            .set_sending_enabled(c, i, p.boolean("Enabled"))
            .map_err(err)?,
        action => {
            let handled = templates::handle(ses, call, p, &mut x)?
                || config_sets::handle(ses, call, p, &mut x)?
                || feedback::handle(ses, call, p, &mut x)?;
            if !handled {
                return Err(ApiError::invalid_action(action, p));
            }
        }
    }
    Ok(Reply::xml(query_response(
        SES_NAMESPACE,
        &call.action,
        &x.into_string(),
        &call.request_id,
    )))
}

fn destination(p: &Params, to: &str, cc: &str, bcc: &str) -> Destination {
    Destination {
        to: strings(p, to),
        cc: strings(p, cc),
        bcc: strings(p, bcc),
    }
}

/// The values of a list of strings (`Name.member.N`).
/// `NAME.member.N.Name` / `NAME.member.N.Value`: message tags.
fn message_tags(p: &Params, name: &str) -> Vec<(String, String)> {
    p.structs(name)
        .iter()
        .map(|t| {
            (
                t.get("Name").unwrap_or_default().to_string(),
                t.get("Value").unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn strings(p: &Params, name: &str) -> Vec<String> {
    p.members(name).into_iter().map(str::to_string).collect()
}

/// How many members a list of structures has (`Name.member.N.Leaf`): members are
/// numbered from 1 without gaps, and each has at least one of `leaves`.
fn count_members(p: &Params, name: &str, leaves: &[&str]) -> usize {
    const MAX: usize = 1000;
    (1..=MAX)
        .take_while(|n| {
            leaves
                .iter()
                .any(|leaf| p.get(&format!("{name}.member.{n}.{leaf}")).is_some())
        })
        .count()
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// v1's DkimVerificationStatus: Success once the CNAME records were found, Pending
/// while DKIM is on for a domain whose records are not seen yet.
fn dkim_status(identity: &ses::model::Identity) -> &'static str {
    if identity.dkim_verified {
        "Success"
    } else if identity.dkim_enabled && identity.kind == IdentityKind::Domain {
        "Pending"
    } else {
        "NotStarted"
    }
}

/// SES errors in the v1 vocabulary.
pub fn err(e: SesError) -> ApiError {
    if let SesError::Store(inner) = &e {
        tracing::error!(error = %inner, "store failure");
    }
    let mut api = ApiError::new(e.v1_status(), e.v1_code(), e.to_string());
    if let SesError::Store(_) = &e {
        api.message = "We encountered an internal error. Please try again.".into();
    }
    api.trace = e.trace().to_vec();
    api
}

/// AWS's validation error for a missing required member.
fn not_null(path: &str) -> ApiError {
    ApiError::new(
        400,
        "ValidationError",
        format!("1 validation error detected: Value null at '{path}' failed to satisfy constraint: Member must not be null"),
    )
}
