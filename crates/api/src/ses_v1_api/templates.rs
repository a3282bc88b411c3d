//! SES v1 templates and templated sends: CreateTemplate, GetTemplate, UpdateTemplate,
//! DeleteTemplate, ListTemplates, TestRenderTemplate, SendTemplatedEmail,
//! SendBulkTemplatedEmail.

use super::{count_members, destination, err, message_tags, strings};
use crate::protocol::{ApiError, Call, Params};
use crate::xml::Xml;
use ses::{
    Api, BulkEntry, BulkOutcome, Content, SendRequest, Ses, TemplateInput, TemplateParts,
    TemplateSource,
};

/// Handles the action when it is one of this module's; false otherwise.
pub fn handle(ses: &Ses, call: &Call, p: &Params, x: &mut Xml) -> Result<bool, ApiError> {
    let (c, i) = (call.caller.as_ref(), &call.info);
    match call.action.as_str() {
        "CreateTemplate" => ses
            .create_template(c, i, Api::V1, template_input(p)?)
            .map_err(err)?,
        "UpdateTemplate" => ses
            .update_template(c, i, Api::V1, template_input(p)?)
            .map_err(err)?,
        "GetTemplate" => {
            let t = ses
                .get_template(c, i, Api::V1, p.required("TemplateName")?)
                .map_err(err)?;
            x.open("Template")
                .leaf("TemplateName", &t.name)
                .leaf_opt("SubjectPart", t.subject.as_deref())
                .leaf_opt("TextPart", t.text.as_deref())
                .leaf_opt("HtmlPart", t.html.as_deref())
                .close("Template");
        }
        "DeleteTemplate" => ses
            .delete_template(c, i, Api::V1, p.required("TemplateName")?)
            .map_err(err)?,
        "ListTemplates" => {
            let (templates, next) = ses
                .list_templates(c, i, Api::V1, p.get("NextToken"), p.integer("MaxItems")?)
                .map_err(err)?;
            x.open("TemplatesMetadata");
            for t in &templates {
                x.open("member")
                    .leaf("Name", &t.name)
                    .leaf("CreatedTimestamp", &iam::ids::iso8601(t.created_ms))
                    .close("member");
            }
            x.close("TemplatesMetadata")
                .leaf_opt("NextToken", next.as_deref());
        }
        "TestRenderTemplate" => {
            let rendered = ses
                .test_render_template(
                    c,
                    i,
                    Api::V1,
                    p.required("TemplateName")?,
                    p.required("TemplateData")?,
                )
                .map_err(err)?;
            x.leaf("RenderedTemplate", &rendered);
        }
        "SendTemplatedEmail" => {
            let req = templated_request(p, "ses:SendTemplatedEmail", p.required("TemplateData")?)?;
            let req = SendRequest {
                destination: destination(
                    p,
                    "Destination.ToAddresses",
                    "Destination.CcAddresses",
                    "Destination.BccAddresses",
                ),
                ..req
            };
            let sent = ses.send_pending(c, i, req).map_err(err)?;
            x.leaf("MessageId", &sent.message_id);
            call.reply_after_commit(sent);
        }
        "SendBulkTemplatedEmail" => {
            let req = templated_request(
                p,
                "ses:SendBulkTemplatedEmail",
                p.required("DefaultTemplateData")?,
            )?;
            let outcomes = ses.send_bulk(c, i, req, bulk_entries(p)).map_err(err)?;
            x.open("Status");
            for outcome in &outcomes {
                x.open("member");
                match outcome {
                    BulkOutcome::Sent { message_id } => {
                        x.leaf("Status", "Success").leaf("MessageId", message_id);
                    }
                    BulkOutcome::Failed { status, error } => {
                        x.leaf("Status", status.v1_name()).leaf("Error", error);
                    }
                }
                x.close("member");
            }
            x.close("Status");
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn template_input(p: &Params) -> Result<TemplateInput, ApiError> {
    let part = |name: &str| p.get(&format!("Template.{name}")).map(str::to_string);
    Ok(TemplateInput {
        name: p.required("Template.TemplateName")?.to_string(),
        parts: TemplateParts {
            subject: part("SubjectPart"),
            text: part("TextPart"),
            html: part("HtmlPart"),
        },
        tags: Vec::new(),
    })
}

/// The parts SendTemplatedEmail and SendBulkTemplatedEmail share.
fn templated_request(
    p: &Params,
    action: &'static str,
    data: &str,
) -> Result<SendRequest, ApiError> {
    let name = p.get("Template").map(str::to_string);
    let arn = p.get("TemplateArn").map(str::to_string);
    if name.is_none() && arn.is_none() {
        return Err(ApiError::missing("Template"));
    }
    let tags_param = if action == "ses:SendBulkTemplatedEmail" {
        "DefaultTags"
    } else {
        "Tags"
    };
    Ok(SendRequest {
        action,
        api_version: "1",
        from: Some(p.required("Source")?.to_string()),
        destination: Default::default(),
        return_path: p.get("ReturnPath").map(str::to_string),
        source_arn: p.get("SourceArn").map(str::to_string),
        from_arn: None,
        return_path_arn: p.get("ReturnPathArn").map(str::to_string),
        configuration_set: p.get("ConfigurationSetName").map(str::to_string),
        tags: message_tags(p, tags_param),
        content: Content::Template {
            source: TemplateSource::Stored { name, arn },
            data: data.to_string(),
            reply_to: strings(p, "ReplyToAddresses"),
        },
    })
}

fn bulk_entries(p: &Params) -> Vec<BulkEntry> {
    let leaves = [
        "Destination.ToAddresses.member.1",
        "Destination.CcAddresses.member.1",
        "Destination.BccAddresses.member.1",
        "ReplacementTemplateData",
        "ReplacementTags.member.1.Name",
    ];
    (1..=count_members(p, "Destinations", &leaves))
        .map(|n| {
            let base = format!("Destinations.member.{n}");
            BulkEntry {
                destination: destination(
                    p,
                    &format!("{base}.Destination.ToAddresses"),
                    &format!("{base}.Destination.CcAddresses"),
                    &format!("{base}.Destination.BccAddresses"),
                ),
                replacement_data: p
                    .get(&format!("{base}.ReplacementTemplateData"))
                    .map(str::to_string),
            }
        })
        .collect()
}
