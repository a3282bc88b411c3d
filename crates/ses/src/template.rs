//! Email templates (v1 `*Template`, v2 `*EmailTemplate`): stored per account and
//! region, validated when saved, rendered for test renders and templated sends.

use crate::model::{scoped_key, table, Template};
use crate::render::{self, RenderError};
use crate::{mime, page, Api, Ses, SesError};
use iam::{ids, Caller, RequestInfo};
use serde_json::Value;

/// Templates per account and region.
const MAX_TEMPLATES: usize = 20_000;
/// Subject, text and HTML together.
const MAX_TEMPLATE_BYTES: usize = 500 * 1024;
/// `TemplateData` and `ReplacementTemplateData`.
pub const MAX_TEMPLATE_DATA: usize = 262_144;

/// The three parts of a template, each optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateParts {
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
}

/// A template to create or replace.
#[derive(Debug, Clone, Default)]
pub struct TemplateInput {
    pub name: String,
    pub parts: TemplateParts,
    pub tags: Vec<(String, String)>,
}

/// The template of a templated send: a stored one (by name or ARN) or, in v2, one
/// given inline.
#[derive(Debug, Clone)]
pub enum TemplateSource {
    Stored {
        name: Option<String>,
        arn: Option<String>,
    },
    Inline(TemplateParts),
}

/// Rendered parts of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
}

impl Ses {
    pub fn create_template(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        api: Api,
        input: TemplateInput,
    ) -> Result<(), SesError> {
        let action = api.pick("ses:CreateTemplate", "ses:CreateEmailTemplate");
        self.allow(
            caller,
            info,
            action,
            &template_arn(info, caller, &input.name),
        )?;
        validate_template(&input.name, &input.parts)?;
        let prefix = scoped_key(&caller.account, &info.region, "");
        let key = scoped_key(&caller.account, &info.region, &input.name);
        let mut tx = self.store.write()?;
        if tx.get::<Template>(table::TEMPLATES, &key)?.is_some() {
            return Err(SesError::TemplateAlreadyExists(input.name));
        }
        if tx.scan::<Template>(table::TEMPLATES, &prefix)?.len() >= MAX_TEMPLATES {
            return Err(SesError::LimitExceeded(format!(
                "Maximum number of templates ({MAX_TEMPLATES}) has been reached."
            )));
        }
        let template = Template {
            name: input.name,
            subject: input.parts.subject,
            html: input.parts.html,
            text: input.parts.text,
            created_ms: ids::now_ms(),
            tags: input.tags,
        };
        tx.put(table::TEMPLATES, &key, &template)?;
        tx.commit()?;
        Ok(())
    }

    pub fn update_template(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        api: Api,
        input: TemplateInput,
    ) -> Result<(), SesError> {
        let action = api.pick("ses:UpdateTemplate", "ses:UpdateEmailTemplate");
        self.allow(
            caller,
            info,
            action,
            &template_arn(info, caller, &input.name),
        )?;
        validate_template(&input.name, &input.parts)?;
        let key = scoped_key(&caller.account, &info.region, &input.name);
        let mut tx = self.store.write()?;
        let mut template = tx
            .get::<Template>(table::TEMPLATES, &key)?
            .ok_or_else(|| SesError::TemplateDoesNotExist(input.name.clone()))?;
        template.subject = input.parts.subject;
        template.text = input.parts.text;
        template.html = input.parts.html;
        tx.put(table::TEMPLATES, &key, &template)?;
        tx.commit()?;
        Ok(())
    }

    pub fn get_template(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        api: Api,
        name: &str,
    ) -> Result<Template, SesError> {
        let action = api.pick("ses:GetTemplate", "ses:GetEmailTemplate");
        self.allow(caller, info, action, &template_arn(info, caller, name))?;
        self.load_template(&caller.account, &info.region, name)
    }

    /// Deletes a template. v1 succeeds when there is none; v2 reports NotFound.
    pub fn delete_template(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        api: Api,
        name: &str,
    ) -> Result<(), SesError> {
        let action = api.pick("ses:DeleteTemplate", "ses:DeleteEmailTemplate");
        self.allow(caller, info, action, &template_arn(info, caller, name))?;
        let mut tx = self.store.write()?;
        let existed = tx.delete(
            table::TEMPLATES,
            &scoped_key(&caller.account, &info.region, name),
        )?;
        if !existed && api == Api::V2 {
            return Err(SesError::TemplateDoesNotExist(name.to_string()));
        }
        tx.commit()?;
        Ok(())
    }

    /// One page of the caller's templates, by name.
    pub fn list_templates(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        api: Api,
        token: Option<&str>,
        size: Option<i64>,
    ) -> Result<(Vec<Template>, Option<String>), SesError> {
        let action = api.pick("ses:ListTemplates", "ses:ListEmailTemplates");
        self.allow(caller, info, action, "*")?;
        let all: Vec<Template> = self.store.read()?.scan(
            table::TEMPLATES,
            &scoped_key(&caller.account, &info.region, ""),
        )?;
        page::page(all, |t| &t.name, token, page::size(size, 10, 100))
    }

    /// Renders a stored template with `data` into the MIME text SES would send.
    pub fn test_render_template(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        api: Api,
        name: &str,
        data: &str,
    ) -> Result<String, SesError> {
        let action = api.pick("ses:TestRenderTemplate", "ses:TestRenderEmailTemplate");
        self.allow(caller, info, action, &template_arn(info, caller, name))?;
        let template = self.load_template(&caller.account, &info.region, name)?;
        let data = parse_data(data).map_err(|e| match e {
            SesError::InvalidParameter(m) => SesError::InvalidRenderingParameter(m),
            other => other,
        })?;
        let rendered = render_parts(&parts_of(&template), &data).map_err(|e| match e {
            RenderError::MissingAttribute(_) => SesError::MissingRenderingAttribute(e.to_string()),
            RenderError::Syntax(m) => SesError::InvalidTemplate(m),
        })?;
        let message_id = crate::send::message_id()?;
        Ok(mime::build_simple(&mime::Simple {
            from: "",
            to: &[],
            cc: &[],
            reply_to: &[],
            subject: &rendered.subject,
            text: rendered.text.as_deref(),
            html: rendered.html.as_deref(),
            message_id: &message_id,
            date: &mime::rfc5322_date(ids::now_ms()),
        }))
    }

    pub(crate) fn load_template(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Template, SesError> {
        let key = scoped_key(account, region, name);
        let template = self
            .store
            .snapshot()?
            .get::<Template>(table::TEMPLATES, &key)?;
        template
            .map(|t| (*t).clone())
            .ok_or_else(|| SesError::TemplateDoesNotExist(name.to_string()))
    }

    /// The parts of a send's template, and the ARN of a stored one (authorized as an
    /// involved resource). A stored template is always the sending account's own.
    pub(crate) fn resolve_template(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        source: &TemplateSource,
    ) -> Result<(TemplateParts, Option<String>), SesError> {
        let (name, arn) = match source {
            TemplateSource::Inline(parts) => {
                validate_parts(parts)?;
                return Ok((parts.clone(), None));
            }
            TemplateSource::Stored { name, arn } => (name.as_deref(), arn.as_deref()),
        };
        let name = match (name, arn) {
            (Some(n), _) => n.to_string(),
            (None, Some(arn)) => name_from_arn(info, caller, arn)?,
            (None, None) => {
                return Err(SesError::InvalidParameter(
                    "Template name or ARN is required.".into(),
                ))
            }
        };
        let template = self.load_template(&caller.account, &info.region, &name)?;
        Ok((parts_of(&template), Some(template_arn(info, caller, &name))))
    }
}

pub fn template_arn(info: &RequestInfo, caller: &Caller, name: &str) -> String {
    format!(
        "arn:aws:ses:{}:{}:template/{name}",
        info.region, caller.account
    )
}

fn name_from_arn(info: &RequestInfo, caller: &Caller, arn: &str) -> Result<String, SesError> {
    let parts = policy::arn::split(arn).filter(|p| p[2] == "ses" && p[5].starts_with("template/"));
    let Some([_, _, _, region, account, resource]) = parts else {
        return Err(SesError::InvalidParameter(format!(
            "Invalid template ARN: {arn}"
        )));
    };
    let name = &resource["template/".len()..];
    if region != info.region || account != caller.account {
        return Err(SesError::TemplateDoesNotExist(name.to_string()));
    }
    Ok(name.to_string())
}

fn parts_of(t: &Template) -> TemplateParts {
    TemplateParts {
        subject: t.subject.clone(),
        text: t.text.clone(),
        html: t.html.clone(),
    }
}

fn validate_template(name: &str, parts: &TemplateParts) -> Result<(), SesError> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return Err(SesError::InvalidParameter(format!(
            "Invalid template name {name}: names are 1 to 64 letters, digits, dashes and underscores."
        )));
    }
    validate_parts(parts)
}

/// Size and syntax of a template's parts.
pub(crate) fn validate_parts(parts: &TemplateParts) -> Result<(), SesError> {
    let all = [&parts.subject, &parts.text, &parts.html];
    let size: usize = all.iter().map(|p| p.as_ref().map_or(0, String::len)).sum();
    if size > MAX_TEMPLATE_BYTES {
        return Err(SesError::InvalidTemplate(format!(
            "Template size of {size} bytes exceeds the maximum of {MAX_TEMPLATE_BYTES} bytes."
        )));
    }
    for (label, part) in ["SubjectPart", "TextPart", "HtmlPart"].iter().zip(all) {
        if let Some(text) = part {
            render::compile(text)
                .map_err(|e| SesError::InvalidTemplate(format!("{label} is invalid: {e}")))?;
        }
    }
    Ok(())
}

/// Template data: a JSON object of at most 262,144 characters.
pub fn parse_data(data: &str) -> Result<Value, SesError> {
    if data.chars().count() > MAX_TEMPLATE_DATA {
        return Err(SesError::InvalidParameter(format!(
            "Template data exceeds the maximum length of {MAX_TEMPLATE_DATA} characters."
        )));
    }
    match serde_json::from_str::<Value>(data) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(SesError::InvalidParameter(
            "Template data must be a valid JSON object.".into(),
        )),
    }
}

/// Default data overlaid with a destination's replacement data (top-level keys).
pub fn merge_data(default: &Value, replacement: Option<&Value>) -> Value {
    let mut merged = default.clone();
    if let (Value::Object(base), Some(Value::Object(extra))) = (&mut merged, replacement) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    merged
}

/// Renders each part of a template.
pub fn render_parts(parts: &TemplateParts, data: &Value) -> Result<Rendered, RenderError> {
    let one = |p: &Option<String>| p.as_deref().map(|t| render::render(t, data)).transpose();
    Ok(Rendered {
        subject: one(&parts.subject)?.unwrap_or_default(),
        text: one(&parts.text)?,
        html: one(&parts.html)?,
    })
}
