//! SES v2 account and feedback settings: PutAccountDetails,
//! PutAccountSuppressionAttributes, the suppression list (Put/Get/Delete/List
//! SuppressedDestination(s)), PutEmailIdentityFeedbackAttributes and
//! PutEmailIdentityDkimAttributes.

use super::{
    bad, epoch_seconds, err, opt_bool, opt_str, page_size, parse_time, reasons, str_field, strings,
    Rest,
};
use crate::protocol::{ApiError, Call};
use serde_json::{json, Value};
use ses::model::{SuppressedDestination, SuppressionReason};
use ses::{AccountDetailsInput, Api, Ses, SuppressionFilter};

pub fn handle(ses: &Ses, call: &Call, r: &Rest<'_>) -> Result<Option<Value>, ApiError> {
    let (c, i) = (call.caller.as_ref(), &call.info);
    match (r.method, r.segs) {
        ("POST", ["account", "details"]) => {
            let input = AccountDetailsInput {
                mail_type: str_field(r.body, "MailType")?.to_string(),
                website_url: str_field(r.body, "WebsiteURL")?.to_string(),
                contact_language: opt_str(r.body, &["ContactLanguage"]),
                use_case_description: opt_str(r.body, &["UseCaseDescription"]),
                additional_contact_email_addresses: strings(
                    r.body.get("AdditionalContactEmailAddresses"),
                ),
                production_access_enabled: opt_bool(r.body, "ProductionAccessEnabled")
                    .unwrap_or(false),
            };
            ses.put_account_details(c, i, input).map_err(err)?;
        }
        ("PUT", ["account", "suppression"]) => {
            let reasons = reasons(r.body.get("SuppressedReasons"))?;
            ses.put_account_suppression_attributes(c, i, reasons)
                .map_err(err)?;
        }
        ("PUT", ["suppression", "addresses"]) => {
            let email = str_field(r.body, "EmailAddress")?;
            let reason = reason(str_field(r.body, "Reason")?)?;
            ses.put_suppressed_destination(c, i, email, reason)
                .map_err(err)?;
        }
        ("GET", ["suppression", "addresses"]) => {
            let filter = SuppressionFilter {
                reasons: r
                    .query_all("Reason")
                    .into_iter()
                    .map(reason)
                    .collect::<Result<_, _>>()?,
                start_ms: r.query("StartDate").map(parse_time).transpose()?,
                end_ms: r.query("EndDate").map(parse_time).transpose()?,
            };
            let (entries, next) = ses
                .list_suppressed_destinations(c, i, &filter, r.query("NextToken"), page_size(r)?)
                .map_err(err)?;
            let list: Vec<Value> = entries.iter().map(summary).collect();
            let mut value = json!({ "SuppressedDestinationSummaries": list });
            if let Some(token) = next {
                value["NextToken"] = Value::String(token);
            }
            return Ok(Some(value));
        }
        ("GET", ["suppression", "addresses", email]) => {
            let entry = ses.get_suppressed_destination(c, i, email).map_err(err)?;
            let mut value = summary(&entry);
            let mut attributes = serde_json::Map::new();
            if let Some(id) = &entry.message_id {
                attributes.insert("MessageId".into(), json!(id));
            }
            if let Some(id) = &entry.feedback_id {
                attributes.insert("FeedbackId".into(), json!(id));
            }
            if !attributes.is_empty() {
                value["Attributes"] = Value::Object(attributes);
            }
            return Ok(Some(json!({ "SuppressedDestination": value })));
        }
        ("DELETE", ["suppression", "addresses", email]) => {
            ses.delete_suppressed_destination(c, i, email)
                .map_err(err)?;
        }
        ("PUT", ["identities", name, "feedback"]) => {
            let enabled = opt_bool(r.body, "EmailForwardingEnabled").unwrap_or(false);
            ses.set_feedback_forwarding(c, i, Api::V2, name, enabled)
                .map_err(err)?;
        }
        ("PUT", ["identities", name, "dkim"]) => {
            let enabled = opt_bool(r.body, "SigningEnabled").unwrap_or(false);
            ses.set_dkim_signing(c, i, Api::V2, name, enabled)
                .map_err(err)?;
        }
        _ => return Ok(None),
    }
    Ok(Some(json!({})))
}

fn summary(d: &SuppressedDestination) -> Value {
    json!({
        "EmailAddress": d.email_address,
        "Reason": d.reason.name(),
        "LastUpdateTime": epoch_seconds(d.last_update_ms),
    })
}

fn reason(name: &str) -> Result<SuppressionReason, ApiError> {
    SuppressionReason::parse(name).ok_or_else(|| {
        bad(&format!(
            "Invalid suppression reason {name}: use BOUNCE or COMPLAINT."
        ))
    })
}
