//! SES v2 email templates and bulk sends: CreateEmailTemplate, GetEmailTemplate,
//! UpdateEmailTemplate, DeleteEmailTemplate, ListEmailTemplates,
//! TestRenderEmailTemplate, SendBulkEmail.

use super::{bad, epoch_seconds, err, message_tags, opt_str, page_size, str_field, strings, Rest};
use crate::protocol::{ApiError, Call};
use serde_json::{json, Value};
use ses::{
    Api, BulkEntry, BulkOutcome, Content, Destination, SendRequest, Ses, TemplateInput,
    TemplateParts, TemplateSource,
};

pub fn handle(ses: &Ses, call: &Call, r: &Rest<'_>) -> Result<Option<Value>, ApiError> {
    let (c, i) = (call.caller.as_ref(), &call.info);
    let value = match (r.method, r.segs) {
        ("POST", ["templates"]) => {
            let input = TemplateInput {
                name: str_field(r.body, "TemplateName")?.to_string(),
                parts: parts(r.body.get("TemplateContent"))
                    .ok_or_else(|| bad("TemplateContent is required."))?,
                tags: super::tags(r.body),
            };
            ses.create_template(c, i, Api::V2, input).map_err(err)?;
            json!({})
        }
        ("GET", ["templates"]) => {
            let (templates, next) = ses
                .list_templates(c, i, Api::V2, r.query("NextToken"), page_size(r)?)
                .map_err(err)?;
            let list: Vec<Value> = templates
                .iter()
                .map(|t| json!({ "TemplateName": t.name, "CreatedTimestamp": epoch_seconds(t.created_ms) }))
                .collect();
            with_token(json!({ "TemplatesMetadata": list }), next)
        }
        ("GET", ["templates", name]) => {
            let t = ses.get_template(c, i, Api::V2, name).map_err(err)?;
            let mut content = serde_json::Map::new();
            for (key, part) in [
                ("Subject", &t.subject),
                ("Text", &t.text),
                ("Html", &t.html),
            ] {
                if let Some(p) = part {
                    content.insert(key.into(), Value::String(p.clone()));
                }
            }
            let tags: Vec<Value> = t
                .tags
                .iter()
                .map(|(k, v)| json!({ "Key": k, "Value": v }))
                .collect();
            json!({ "TemplateName": t.name, "TemplateContent": content, "Tags": tags })
        }
        ("PUT", ["templates", name]) => {
            let input = TemplateInput {
                name: name.to_string(),
                parts: parts(r.body.get("TemplateContent"))
                    .ok_or_else(|| bad("TemplateContent is required."))?,
                tags: Vec::new(),
            };
            ses.update_template(c, i, Api::V2, input).map_err(err)?;
            json!({})
        }
        ("DELETE", ["templates", name]) => {
            ses.delete_template(c, i, Api::V2, name).map_err(err)?;
            json!({})
        }
        ("POST", ["templates", name, "render"]) => {
            let data = str_field(r.body, "TemplateData")?;
            let rendered = ses
                .test_render_template(c, i, Api::V2, name, data)
                .map_err(err)?;
            json!({ "RenderedTemplate": rendered })
        }
        ("POST", ["outbound-bulk-emails"]) => send_bulk(ses, call, r.body)?,
        _ => return Ok(None),
    };
    Ok(Some(value))
}

fn with_token(mut value: Value, next: Option<String>) -> Value {
    if let Some(token) = next {
        value["NextToken"] = Value::String(token);
    }
    value
}

/// `EmailTemplateContent`: Subject, Text, Html.
pub fn parts(content: Option<&Value>) -> Option<TemplateParts> {
    let content = content?;
    Some(TemplateParts {
        subject: opt_str(content, &["Subject"]),
        text: opt_str(content, &["Text"]),
        html: opt_str(content, &["Html"]),
    })
}

/// A `Template` of SendEmail or SendBulkEmail: stored (name or ARN) or inline.
pub fn template_content(template: &Value) -> Result<(TemplateSource, String), ApiError> {
    let name = opt_str(template, &["TemplateName"]);
    let arn = opt_str(template, &["TemplateArn"]);
    let source = match parts(template.get("TemplateContent")) {
        Some(inline) if name.is_none() && arn.is_none() => TemplateSource::Inline(inline),
        Some(_) => {
            return Err(bad(
                "Give either TemplateName/TemplateArn or TemplateContent, not both.",
            ))
        }
        None if name.is_none() && arn.is_none() => {
            return Err(bad(
                "Template needs TemplateName, TemplateArn or TemplateContent.",
            ))
        }
        None => TemplateSource::Stored { name, arn },
    };
    let data = opt_str(template, &["TemplateData"]).unwrap_or_else(|| "{}".into());
    Ok((source, data))
}

fn send_bulk(ses: &Ses, call: &Call, body: &Value) -> Result<Value, ApiError> {
    let template = body
        .get("DefaultContent")
        .and_then(|c| c.get("Template"))
        .ok_or_else(|| bad("DefaultContent.Template is required."))?;
    let (source, data) = template_content(template)?;
    let entries: Vec<BulkEntry> = body
        .get("BulkEmailEntries")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("BulkEmailEntries is required."))?
        .iter()
        .map(|entry| BulkEntry {
            destination: super::destination(entry.get("Destination")),
            replacement_data: opt_str(
                entry,
                &[
                    "ReplacementEmailContent",
                    "ReplacementTemplate",
                    "ReplacementTemplateData",
                ],
            ),
        })
        .collect();
    let req = SendRequest {
        action: "ses:SendBulkEmail",
        api_version: "2",
        from: opt_str(body, &["FromEmailAddress"]),
        destination: Destination::default(),
        return_path: opt_str(body, &["FeedbackForwardingEmailAddress"]),
        source_arn: None,
        from_arn: opt_str(body, &["FromEmailAddressIdentityArn"]),
        return_path_arn: opt_str(body, &["FeedbackForwardingEmailAddressIdentityArn"]),
        configuration_set: opt_str(body, &["ConfigurationSetName"]),
        tags: message_tags(body.get("DefaultEmailTags")),
        content: Content::Template {
            source,
            data,
            reply_to: strings(body.get("ReplyToAddresses")),
        },
    };
    let outcomes = ses
        .send_bulk(call.caller.as_ref(), &call.info, req, entries)
        .map_err(err)?;
    let results: Vec<Value> = outcomes
        .iter()
        .map(|o| match o {
            BulkOutcome::Sent { message_id } => {
                json!({ "Status": "SUCCESS", "MessageId": message_id })
            }
            BulkOutcome::Failed { status, error } => {
                json!({ "Status": status.v2_name(), "Error": error })
            }
        })
        .collect();
    Ok(json!({ "BulkEmailEntryResults": results }))
}
