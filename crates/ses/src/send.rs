//! The send pipeline shared by the v1 and v2 APIs and SMTP: resolve the From and
//! Return-Path identities (own, or an owner's through SourceArn/FromArn/ReturnPathArn
//! or X-SES-*-ARN headers), authorize every involved resource with the full policy
//! set (the identities with their sending authorization policies; for v2 sends also
//! the template and the configuration set), then the sending switch, configuration
//! set, sandbox, message size, quota, the account-level suppression list, and a
//! durable accept that also counts the send in the sender's statistics.

use crate::address::{domain_of, Mailbox};
use crate::model::{
    scoped_key, table, AccountSettings, ConfigurationSet, EventType, Identity, IdentityKind,
    SendingEvent, StoredMessage,
};
use crate::render::RenderError;
use crate::template::{self, Rendered, TemplateParts, TemplateSource};
use crate::{mime, RawMessage, Ses, SesError};
use iam::{ids, Caller, RequestInfo};
use policy::grammar::Version;
use policy::Policy;
use serde_json::Value;
use std::sync::Arc;
use store::Snapshot;

/// Recipients by field.
#[derive(Debug, Clone, Default)]
pub struct Destination {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
}

impl Destination {
    pub fn all(&self) -> Vec<String> {
        self.to
            .iter()
            .chain(&self.cc)
            .chain(&self.bcc)
            .cloned()
            .collect()
    }
}

/// The message content.
#[derive(Debug, Clone)]
pub enum Content {
    Simple {
        subject: String,
        text: Option<String>,
        html: Option<String>,
        reply_to: Vec<String>,
    },
    /// A complete MIME message; its headers supply what parameters leave out.
    Raw(RawMessage),
    /// A stored or inline template and its data (a JSON object).
    Template {
        source: TemplateSource,
        data: String,
        reply_to: Vec<String>,
    },
}

/// One send, as any interface describes it.
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// `ses:SendEmail`, `ses:SendRawEmail`, `ses:SendTemplatedEmail`, …
    pub action: &'static str,
    /// `ses:ApiVersion`: "1" or "2".
    pub api_version: &'static str,
    /// The From mailbox (v1 `Source`); for raw mail, taken from the From header when absent.
    pub from: Option<String>,
    /// Recipients; for raw mail, taken from the To/Cc/Bcc headers when empty.
    pub destination: Destination,
    pub return_path: Option<String>,
    pub source_arn: Option<String>,
    pub from_arn: Option<String>,
    pub return_path_arn: Option<String>,
    pub configuration_set: Option<String>,
    /// Message tags (v1 `Tags`, v2 `EmailTags`, or the `X-SES-MESSAGE-TAGS` header).
    pub tags: Vec<(String, String)>,
    pub content: Content,
}

#[derive(Debug, Clone)]
pub struct SendResult {
    pub message_id: String,
}

/// A send that passed every check and whose message is on its way to disk: the
/// message id is known, but the send has succeeded only once the spool's group
/// commit has completed ([`PendingSend::wait`] or [`PendingSend::completed`]).
#[must_use = "a send succeeds only once its commit has completed"]
pub struct PendingSend {
    pub message_id: String,
    /// The commit and the number of recipients it accepts; `None` when no message
    /// is stored (a template that did not render is recorded instead).
    commit: Option<(crate::spool::Commit, u64)>,
}

impl PendingSend {
    /// Blocks the calling thread until the message is on disk (panics on an async
    /// worker, where [`PendingSend::completed`] is awaited instead).
    pub fn wait(mut self) -> Result<SendResult, SesError> {
        let committed = self.commit.take().map(|(c, n)| (c.wait(), n));
        self.finish(committed)
    }

    /// Completes once the message is on disk, without holding a thread meanwhile.
    pub async fn completed(mut self) -> Result<SendResult, SesError> {
        let committed = match self.commit.take() {
            Some((c, n)) => Some((c.completed().await, n)),
            None => None,
        };
        self.finish(committed)
    }

    fn finish(
        self,
        committed: Option<(Result<(), SesError>, u64)>,
    ) -> Result<SendResult, SesError> {
        if let Some((result, recipients)) = committed {
            if let Err(e) = result {
                crate::observe::count_rejection(&e);
                return Err(e);
            }
            metrics::MESSAGES_ACCEPTED.inc();
            metrics::RECIPIENTS_ACCEPTED.add(recipients);
        }
        Ok(SendResult {
            message_id: self.message_id,
        })
    }
}

/// One destination of a bulk send, with the data that replaces the defaults.
#[derive(Debug, Clone, Default)]
pub struct BulkEntry {
    pub destination: Destination,
    pub replacement_data: Option<String>,
}

/// What happened to one destination of a bulk send.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkOutcome {
    Sent { message_id: String },
    Failed { status: BulkStatus, error: String },
}

/// Per-destination failure kinds of SendBulkTemplatedEmail / SendBulkEmail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkStatus {
    MessageRejected,
    InvalidParameterValue,
    AccountThrottled,
    AccountDailyQuotaExceeded,
    Failed,
}

impl BulkStatus {
    pub fn v1_name(self) -> &'static str {
        match self {
            BulkStatus::MessageRejected => "MessageRejected",
            BulkStatus::InvalidParameterValue => "InvalidParameterValue",
            BulkStatus::AccountThrottled => "AccountThrottled",
            BulkStatus::AccountDailyQuotaExceeded => "AccountDailyQuotaExceeded",
            BulkStatus::Failed => "Failed",
        }
    }

    pub fn v2_name(self) -> &'static str {
        match self {
            BulkStatus::MessageRejected => "MESSAGE_REJECTED",
            BulkStatus::InvalidParameterValue => "INVALID_PARAMETER",
            BulkStatus::AccountThrottled => "ACCOUNT_THROTTLED",
            BulkStatus::AccountDailyQuotaExceeded => "ACCOUNT_DAILY_QUOTA_EXCEEDED",
            BulkStatus::Failed => "FAILED",
        }
    }

    fn of(e: &SesError) -> BulkStatus {
        match e {
            SesError::MessageRejected(_) => BulkStatus::MessageRejected,
            SesError::InvalidParameter(_) => BulkStatus::InvalidParameterValue,
            SesError::Throttling(m) if m == crate::quota::DAILY_QUOTA_EXCEEDED => {
                BulkStatus::AccountDailyQuotaExceeded
            }
            SesError::Throttling(_) => BulkStatus::AccountThrottled,
            _ => BulkStatus::Failed,
        }
    }
}

const MAX_RECIPIENTS: usize = 50;
const MAX_BULK_DESTINATIONS: usize = 50;
/// Largest message: 10 MB through v1 (and SMTP's limit), 40 MB through v2.
const MAX_MESSAGE_V1: usize = 10 * 1024 * 1024;
const MAX_MESSAGE_V2: usize = 40 * 1024 * 1024;

/// What one send has settled before its recipients are considered.
struct Plan {
    from: Mailbox,
    /// The From header as given (with its display name).
    from_header: String,
    return_path: Option<Mailbox>,
    from_identity: Arc<Identity>,
    return_identity: Option<Arc<Identity>>,
    /// The template's ARN when a stored template is used (an involved resource).
    template_arn: Option<String>,
}

/// A message ready to be accepted.
struct Outgoing {
    message_id: String,
    /// The MIME text, or why the template could not be rendered.
    raw: Result<RawMessage, RenderError>,
    recipients: Vec<String>,
}

impl Ses {
    /// Sends one message; blocks the calling thread until it is on disk (async code
    /// uses [`Ses::send_pending`] and awaits the commit).
    pub fn send(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        req: SendRequest,
    ) -> Result<SendResult, SesError> {
        self.send_pending(caller, info, req)?.wait()
    }

    /// Runs every check of a send and hands its message to the spool; the caller
    /// reports success only once the returned send's commit has completed.
    pub fn send_pending(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        req: SendRequest,
    ) -> Result<PendingSend, SesError> {
        let result = self.send_one(caller, info, req);
        if let Err(e) = &result {
            crate::observe::count_rejection(e);
        }
        result
    }

    fn send_one(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        mut req: SendRequest,
    ) -> Result<PendingSend, SesError> {
        if let Content::Raw(raw) = &req.content {
            let headers = mime::split(&raw.text()).0;
            apply_raw_headers(&mut req, &headers);
        }
        check_tags(&req.tags)?;
        let recipients = recipient_addresses(&req.destination)?;
        // One view of the store for the whole send (each view reads the generation).
        let snapshot = self.store.snapshot()?;
        let plan = self.plan(&snapshot, caller, info, &req)?;
        self.authorize_involved(caller, info, &req, &plan, &recipients)?;
        let (settings, set) = self.check_switches(&snapshot, caller, info, &req)?;
        let template = self.template_of(caller, info, &req)?;
        self.check_sandboxes(&snapshot, caller, info, &settings, &plan, &recipients)?;
        let outgoing =
            self.compose(&req, &plan, template.as_ref(), &req.destination, recipients)?;
        self.consume_quota(caller, info, &settings, &outgoing.recipients)?;
        self.deliver(
            caller,
            info,
            &req,
            &plan,
            (&snapshot, &settings, set.as_ref()),
            outgoing,
        )
    }

    /// SendBulkTemplatedEmail / SendBulkEmail: one templated message per entry, each
    /// with the default data overlaid by the entry's replacement data. Problems shared
    /// by every entry (identities, authorization, switches, the template) fail the
    /// call; an entry's own problems become its status.
    pub fn send_bulk(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        req: SendRequest,
        entries: Vec<BulkEntry>,
    ) -> Result<Vec<BulkOutcome>, SesError> {
        if entries.is_empty() || entries.len() > MAX_BULK_DESTINATIONS {
            return Err(SesError::InvalidParameter(format!(
                "The number of destinations must be between 1 and {MAX_BULK_DESTINATIONS}."
            )));
        }
        let Content::Template { data, .. } = &req.content else {
            return Err(SesError::InvalidParameter(
                "Bulk sends need a template.".into(),
            ));
        };
        check_tags(&req.tags)?;
        let defaults = template::parse_data(data)?;
        let everyone: Vec<String> = entries
            .iter()
            .flat_map(|e| e.destination.all())
            .filter_map(|r| Mailbox::parse(&r).ok().map(|m| m.address))
            .collect();
        let snapshot = self.store.snapshot()?;
        let plan = self.plan(&snapshot, caller, info, &req)?;
        self.authorize_involved(caller, info, &req, &plan, &everyone)?;
        let (settings, set) = self.check_switches(&snapshot, caller, info, &req)?;
        let template = self.template_of(caller, info, &req)?;
        let mut outcomes = Vec::with_capacity(entries.len());
        for entry in entries {
            let one = |req: &SendRequest| -> Result<String, SesError> {
                let recipients = recipient_addresses(&entry.destination)?;
                let data = entry_data(&defaults, entry.replacement_data.as_deref())?;
                self.check_sandboxes(&snapshot, caller, info, &settings, &plan, &recipients)?;
                let parts = template.as_ref().map(|(parts, _)| (parts.clone(), data));
                let outgoing =
                    self.compose(req, &plan, parts.as_ref(), &entry.destination, recipients)?;
                self.consume_quota(caller, info, &settings, &outgoing.recipients)?;
                let sent = self.deliver(
                    caller,
                    info,
                    req,
                    &plan,
                    (&snapshot, &settings, set.as_ref()),
                    outgoing,
                )?;
                Ok(sent.wait()?.message_id)
            };
            outcomes.push(match one(&req) {
                Ok(message_id) => BulkOutcome::Sent { message_id },
                Err(e @ SesError::Store(_)) => return Err(e),
                Err(e) => {
                    crate::observe::count_rejection(&e);
                    BulkOutcome::Failed {
                        status: BulkStatus::of(&e),
                        error: e.to_string(),
                    }
                }
            });
        }
        Ok(outcomes)
    }

    /// Parses the From and Return-Path mailboxes and resolves their identities.
    fn plan(
        &self,
        snapshot: &Snapshot<'_>,
        caller: &Caller,
        info: &RequestInfo,
        req: &SendRequest,
    ) -> Result<Plan, SesError> {
        let from_header = req
            .from
            .clone()
            .ok_or_else(|| SesError::InvalidParameter("Missing required header 'From'.".into()))?;
        let from = Mailbox::parse(&from_header)?;
        let return_path = req.return_path.as_deref().map(Mailbox::parse).transpose()?;
        let from_arn = req.from_arn.as_deref().or(req.source_arn.as_deref());
        let from_identity = self.resolve(snapshot, caller, info, &from.address, from_arn)?;
        let return_identity = match &return_path {
            Some(rp) => Some(self.resolve(
                snapshot,
                caller,
                info,
                &rp.address,
                req.return_path_arn.as_deref().or(req.source_arn.as_deref()),
            )?),
            None => None,
        };
        let template_arn = match &req.content {
            Content::Template {
                source: TemplateSource::Stored { name, arn },
                ..
            } => arn.clone().or_else(|| {
                name.as_deref()
                    .map(|n| template::template_arn(info, caller, n))
            }),
            _ => None,
        };
        Ok(Plan {
            from,
            from_header,
            return_path,
            from_identity,
            return_identity,
            template_arn,
        })
    }

    /// Authorizes the send on every resource it involves: the identities (each with
    /// its owner's sending authorization policies), and for v2 the stored template and
    /// the configuration set (the caller's own resources).
    fn authorize_involved(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        req: &SendRequest,
        plan: &Plan,
        recipients: &[String],
    ) -> Result<(), SesError> {
        let context = send_context(
            &plan.from,
            recipients,
            req.api_version,
            plan.return_path.as_ref(),
        );
        let mut involved = vec![Involved::identity(
            &plan.from_identity,
            &self.merged_policies,
        )?];
        if let Some(r) = &plan.return_identity {
            if r.arn() != plan.from_identity.arn() {
                involved.push(Involved::identity(r, &self.merged_policies)?);
            }
        }
        if req.api_version == "2" {
            if let Some(arn) = &plan.template_arn {
                involved.push(Involved::own(arn.clone()));
            }
            if let Some(set) = &req.configuration_set {
                let arn = crate::config_set::configuration_set_arn(info, &caller.account, set);
                involved.push(Involved::own(arn));
            }
        }
        for resource in involved {
            self.authorize_resource(caller, info, req.action, resource, &context)?;
        }
        Ok(())
    }

    /// The account's sending switch and the configuration set's.
    fn check_switches(
        &self,
        snapshot: &Snapshot<'_>,
        caller: &Caller,
        info: &RequestInfo,
        req: &SendRequest,
    ) -> Result<(AccountSettings, Option<ConfigurationSet>), SesError> {
        let settings = settings_in(snapshot, &caller.account, &info.region)?;
        if !settings.sending_enabled {
            return Err(SesError::AccountSendingPaused);
        }
        let set = match &req.configuration_set {
            Some(name) => {
                Some(self.check_configuration_set(&caller.account, &info.region, name)?)
            }
            None => None,
        };
        Ok((settings, set))
    }

    /// The template parts and data of a templated send.
    fn template_of(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        req: &SendRequest,
    ) -> Result<Option<(TemplateParts, Value)>, SesError> {
        let Content::Template { source, data, .. } = &req.content else {
            return Ok(None);
        };
        let data = template::parse_data(data)?;
        let (parts, _) = self.resolve_template(caller, info, source)?;
        Ok(Some((parts, data)))
    }

    /// Builds (or renders) the message for one destination and checks its size.
    fn compose(
        &self,
        req: &SendRequest,
        plan: &Plan,
        template: Option<&(TemplateParts, Value)>,
        destination: &Destination,
        recipients: Vec<String>,
    ) -> Result<Outgoing, SesError> {
        let message_id = message_id()?;
        let now = ids::now_ms();
        let simple = |subject: &str, text: Option<&str>, html: Option<&str>, reply_to| {
            RawMessage::from(mime::build_simple(&mime::Simple {
                from: &plan.from_header,
                to: &destination.to,
                cc: &destination.cc,
                reply_to,
                subject,
                text,
                html,
                message_id: &message_id,
                date: &mime::rfc5322_date(now),
            }))
        };
        let raw = match (&req.content, template) {
            (Content::Raw(raw), _) => Ok(outgoing_raw(raw)),
            (
                Content::Simple {
                    subject,
                    text,
                    html,
                    reply_to,
                },
                _,
            ) => Ok(simple(subject, text.as_deref(), html.as_deref(), reply_to)),
            (Content::Template { reply_to, .. }, Some((parts, data))) => {
                template::render_parts(parts, data).map(|r: Rendered| {
                    simple(&r.subject, r.text.as_deref(), r.html.as_deref(), reply_to)
                })
            }
            (Content::Template { .. }, None) => {
                return Err(SesError::InvalidParameter("Template is required.".into()))
            }
        };
        let limit = if req.api_version == "2" {
            MAX_MESSAGE_V2
        } else {
            MAX_MESSAGE_V1
        };
        if let Ok(text) = &raw {
            if text.len() > limit {
                return Err(SesError::MessageRejected(format!(
                    "Message length is more than {limit} bytes long: '{}'.",
                    text.len()
                )));
            }
        }
        Ok(Outgoing {
            message_id,
            raw,
            recipients,
        })
    }

    /// The sandbox of the sending account and, under sending authorization, of the
    /// identity owner: a delegate reaches unverified recipients only when the owner
    /// is out of the sandbox too.
    fn check_sandboxes(
        &self,
        snapshot: &Snapshot<'_>,
        caller: &Caller,
        info: &RequestInfo,
        settings: &AccountSettings,
        plan: &Plan,
        recipients: &[String],
    ) -> Result<(), SesError> {
        if !settings.production {
            check_sandbox(snapshot, &caller.account, &info.region, recipients)?;
        }
        let owner = &plan.from_identity.account;
        if owner != &caller.account && !settings_in(snapshot, owner, &info.region)?.production {
            check_sandbox(snapshot, owner, &info.region, recipients)?;
        }
        Ok(())
    }

    fn consume_quota(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        settings: &AccountSettings,
        recipients: &[String],
    ) -> Result<(), SesError> {
        let daily = recipients
            .iter()
            .filter(|r| !crate::reputation::is_simulator(r))
            .count();
        self.quotas.consume(
            &caller.account,
            &info.region,
            recipients.len() as u64,
            daily as u64,
            settings.quota(),
            ids::now_ms(),
        )
    }

    /// Hands the message, with its suppressed recipients dropped (and recorded), to
    /// the spool, which stores it and counts it in the sending account's statistics
    /// in one transaction. A rendering failure is recorded instead of a message.
    fn deliver(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        req: &SendRequest,
        plan: &Plan,
        (snapshot, settings, set): (&Snapshot<'_>, &AccountSettings, Option<&ConfigurationSet>),
        outgoing: Outgoing,
    ) -> Result<PendingSend, SesError> {
        let now = ids::now_ms();
        let (kept, suppressed) = crate::suppression::apply_suppression(
            snapshot,
            &caller.account,
            &info.region,
            settings,
            set,
            outgoing.recipients,
        )?;
        let source = match &plan.return_path {
            Some(rp) => rp.address.clone(),
            None => plan.from.address.clone(),
        };
        let accepted_recipients = kept.len() as u64;
        let mut message = StoredMessage {
            message_id: outgoing.message_id.clone(),
            account: caller.account.clone(),
            region: info.region.clone(),
            source,
            destination: kept,
            raw: String::new().into(),
            created_ms: now,
            from_identity: plan.from_identity.arn(),
            configuration_set: req.configuration_set.clone(),
            suppressed,
            tags: req.tags.clone(),
            caller_identity: caller.user_name.clone(),
            source_ip: client_ip(&info.source_ip),
        };
        let commit = match outgoing.raw {
            Ok(raw) => {
                message.raw = raw;
                Some((self.spool.submit(message)?, accepted_recipients))
            }
            Err(e) => {
                self.rendering_failed(req, plan, message, &e)?;
                None
            }
        };
        Ok(PendingSend {
            message_id: outgoing.message_id,
            commit,
        })
    }

    /// Records a message whose template did not render, and reports it.
    fn rendering_failed(
        &self,
        req: &SendRequest,
        plan: &Plan,
        mut message: StoredMessage,
        error: &RenderError,
    ) -> Result<(), SesError> {
        let recipients = message
            .destination
            .iter()
            .cloned()
            .chain(message.suppressed.iter().map(|s| s.address.clone()));
        let failure = SendingEvent {
            event_type: EventType::RenderingFailure,
            message_id: message.message_id.clone(),
            account: message.account.clone(),
            region: message.region.clone(),
            configuration_set: message.configuration_set.clone(),
            recipients: recipients.collect(),
            detail: error.to_string(),
            created_ms: message.created_ms,
        };
        self.record_events(&[failure])?;
        if let Some(hook) = &self.rendering_failures {
            message.raw = format!(
                "From: {}\r\nTo: {}\r\n\r\n",
                plan.from_header,
                req.destination.to.join(", ")
            )
            .into();
            hook(&message, &template_name(req), &error.to_string());
        }
        Ok(())
    }

    /// The verified identity that covers `address`: the owner's named by `arn`, or the
    /// caller's most specific one (the address itself, then its domain and parents).
    pub(crate) fn resolve(
        &self,
        snapshot: &Snapshot<'_>,
        caller: &Caller,
        info: &RequestInfo,
        address: &str,
        arn: Option<&str>,
    ) -> Result<Arc<Identity>, SesError> {
        let not_verified = || not_verified(&info.region, &[address.to_string()]);
        let Some(arn) = arn else {
            return covering(snapshot, &caller.account, &info.region, address)?
                .ok_or_else(not_verified);
        };
        let parts =
            policy::arn::split(arn).filter(|p| p[2] == "ses" && p[5].starts_with("identity/"));
        let Some([_, _, _, region, account, resource]) = parts else {
            return Err(SesError::InvalidParameter(format!(
                "Invalid identity ARN: {arn}"
            )));
        };
        let name = &resource["identity/".len()..];
        if region != info.region {
            return Err(not_verified());
        }
        let identity = crate::identity::identity_in(snapshot, account, region, name)?
            .filter(|i| i.verified)
            .ok_or_else(not_verified)?;
        if !covers(&identity, address) {
            return Err(not_verified());
        }
        Ok(identity)
    }

    /// Decides the send's action on one involved resource.
    fn authorize_resource(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        action: &str,
        resource: Involved,
        context: &[(&str, Vec<String>)],
    ) -> Result<(), SesError> {
        match self.iam.authorize(
            caller,
            action,
            &resource.arn,
            info,
            resource.policy,
            context,
        ) {
            Ok(_) => Ok(()),
            Err(denial) => Err(SesError::AccessDenied {
                message: policy::message::ses_denial(&caller.arn, action, &resource.arn),
                trace: denial.trace,
            }),
        }
    }

    fn check_configuration_set(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<ConfigurationSet, SesError> {
        let set = self.load_configuration_set(account, region, name)?;
        if !set.sending_enabled {
            return Err(SesError::ConfigurationSetSendingPaused(name.to_string()));
        }
        Ok(set)
    }

    /// (max per 24 h, max per second, sent in the last 24 h) of the caller's account.
    pub fn send_quota(
        &self,
        caller: &Caller,
        info: &RequestInfo,
    ) -> Result<(f64, f64, u64), SesError> {
        self.allow(caller, info, "ses:GetSendQuota", "*")?;
        let (max_24h, rate) = self.settings(&caller.account, &info.region)?.quota();
        Ok((
            max_24h,
            rate,
            self.quotas
                .sent_last_24h(&caller.account, &info.region, ids::now_ms()),
        ))
    }

    /// Turns sending on or off for the caller's account in the region.
    pub fn set_sending_enabled(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        enabled: bool,
    ) -> Result<(), SesError> {
        self.allow(caller, info, "ses:UpdateAccountSendingEnabled", "*")?;
        let mut settings = self.settings(&caller.account, &info.region)?;
        settings.sending_enabled = enabled;
        let mut tx = self.store.write()?;
        tx.put(
            table::ACCOUNTS,
            &scoped_key(&caller.account, &info.region, ""),
            &settings,
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn settings(&self, account: &str, region: &str) -> Result<AccountSettings, SesError> {
        settings_in(&self.store.snapshot()?, account, region)
    }

    /// Operator action: sets the sending quota of an account in a region.
    pub fn set_quota(
        &self,
        account: &str,
        region: &str,
        max_24h: f64,
        max_rate: f64,
    ) -> Result<(), SesError> {
        self.update_settings(account, region, |settings| {
            settings.custom_quota = Some((max_24h, max_rate));
            Ok(())
        })
    }

    /// Operator action: production access (out of the sandbox) for an account in a
    /// region; a pending production access request is marked granted.
    pub fn grant_production_access(&self, account: &str, region: &str) -> Result<(), SesError> {
        self.update_settings(account, region, |settings| {
            settings.production = true;
            if let Some(details) = &mut settings.details {
                details.review_status = Some("GRANTED".into());
            }
            Ok(())
        })
    }

    /// Stores an accepted message durably (the store's commit is synchronous).
    pub(crate) fn accept(&self, message: StoredMessage) -> Result<(), SesError> {
        self.spool.accept(message)
    }

    /// The capture store, oldest first.
    pub fn captured(&self) -> Result<Vec<StoredMessage>, SesError> {
        Ok(self.store.read()?.scan(table::MESSAGES, "")?)
    }

    pub fn clear_captured(&self) -> Result<usize, SesError> {
        let mut tx = self.store.write()?;
        let keys: Vec<StoredMessage> = tx.scan(table::MESSAGES, "")?;
        for m in &keys {
            tx.delete(table::MESSAGES, &crate::spool::message_key(m))?;
        }
        tx.commit()?;
        Ok(keys.len())
    }
}

/// A resource a send involves, with the resource policy its owner attached (only
/// identities have one: their sending authorization policies).
struct Involved {
    arn: String,
    policy: Option<(Arc<Policy>, String)>,
}

impl Involved {
    fn identity(identity: &Identity, cache: &PolicyCache) -> Result<Involved, SesError> {
        Ok(Involved {
            arn: identity.arn(),
            policy: Some((cache.merged(identity)?, identity.account.clone())),
        })
    }

    /// A resource of the caller's own account, decided by the caller's policies.
    fn own(arn: String) -> Involved {
        Involved { arn, policy: None }
    }
}

/// The SES condition keys of a send.
pub(crate) fn send_context(
    from: &Mailbox,
    recipients: &[String],
    api_version: &str,
    return_path: Option<&Mailbox>,
) -> Vec<(&'static str, Vec<String>)> {
    let mut context = vec![
        ("ses:Recipients", recipients.to_vec()),
        ("ses:FromAddress", vec![from.address.clone()]),
        ("ses:ApiVersion", vec![api_version.to_string()]),
    ];
    if let Some(name) = &from.display_name {
        context.push(("ses:FromDisplayName", vec![name.clone()]));
    }
    if let Some(rp) = return_path {
        context.push(("ses:FeedbackAddress", vec![rp.address.clone()]));
    }
    context
}

/// Recipient addresses of a destination: at least one, at most 50, each valid.
fn recipient_addresses(destination: &Destination) -> Result<Vec<String>, SesError> {
    let recipients = destination.all();
    if recipients.is_empty() {
        return Err(SesError::InvalidParameter(
            "Missing required parameter: at least one recipient (To, Cc or Bcc).".into(),
        ));
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(SesError::InvalidParameter(format!(
            "Recipient count exceeds {MAX_RECIPIENTS}."
        )));
    }
    recipients
        .iter()
        .map(|r| Mailbox::parse(r).map(|m| m.address))
        .collect()
}

/// A bulk entry's data: the defaults overlaid with its replacement data.
fn entry_data(defaults: &Value, replacement: Option<&str>) -> Result<Value, SesError> {
    match replacement {
        Some(r) => Ok(template::merge_data(
            defaults,
            Some(&template::parse_data(r)?),
        )),
        None => Ok(defaults.clone()),
    }
}

/// SES's sandbox and unverified-identity rejection.
fn not_verified(region: &str, addresses: &[String]) -> SesError {
    SesError::MessageRejected(format!(
        "Email address is not verified. The following identities failed the check in region {}: {}",
        region.to_ascii_uppercase(),
        addresses.join(", ")
    ))
}

fn covers(identity: &Identity, address: &str) -> bool {
    match identity.kind {
        IdentityKind::EmailAddress => identity.name.eq_ignore_ascii_case(address),
        IdentityKind::Domain => {
            let domain = domain_of(address).to_ascii_lowercase();
            domain == identity.name || domain.ends_with(&format!(".{}", identity.name))
        }
    }
}

/// All of an identity's sending authorization policies as one resource policy.
/// Compiled merged policies of identities, keyed by their policy names and texts, so a
/// send compiles nothing; an edited policy is a new key and takes effect at once.
#[derive(Default)]
pub(crate) struct PolicyCache(std::sync::RwLock<std::collections::HashMap<String, Arc<Policy>>>);

impl PolicyCache {
    /// All of an identity's sending authorization policies as one resource policy.
    pub(crate) fn merged(&self, identity: &Identity) -> Result<Arc<Policy>, SesError> {
        let mut key = String::new();
        for (name, document) in &identity.policies {
            key.extend([name.as_str(), "\0", document.as_str(), "\0"]);
        }
        if let Some(p) = self.0.read().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(p);
        }
        let merged = merged_policy(identity)?;
        if let Ok(mut m) = self.0.write() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(key, merged.clone());
        }
        Ok(merged)
    }
}

pub(crate) fn merged_policy(identity: &Identity) -> Result<Arc<Policy>, SesError> {
    let mut statements = Vec::new();
    for doc in identity.policies.values() {
        let p = Policy::parse(doc).map_err(|e| SesError::InvalidPolicy(e.to_string()))?;
        statements.extend(p.statements);
    }
    let names: Vec<&str> = identity.policies.keys().map(String::as_str).collect();
    Ok(Arc::new(Policy {
        name: Some(if names.is_empty() {
            format!("{} (no policy)", identity.name)
        } else {
            names.join(", ")
        }),
        version: Version::V2012_10_17,
        statements,
    }))
}

/// The settings of an account in a region (the defaults until any is changed).
fn settings_in(
    snapshot: &Snapshot<'_>,
    account: &str,
    region: &str,
) -> Result<AccountSettings, SesError> {
    let key = scoped_key(account, region, "");
    let settings = snapshot.get::<AccountSettings>(table::ACCOUNTS, &key)?;
    Ok(settings.map(|s| (*s).clone()).unwrap_or_default())
}

/// The account's most specific verified identity covering `address`: the address
/// itself, then its domain and the domain's parents (never a bare top-level domain).
fn covering(
    snapshot: &Snapshot<'_>,
    account: &str,
    region: &str,
    address: &str,
) -> Result<Option<Arc<Identity>>, SesError> {
    let mut candidates = vec![address];
    let mut domain = domain_of(address);
    while !domain.is_empty() {
        candidates.push(domain);
        domain = domain.split_once('.').map_or("", |(_, parent)| parent);
        if !domain.contains('.') {
            break;
        }
    }
    for name in candidates {
        let identity = crate::identity::identity_in(snapshot, account, region, name)?;
        if let Some(identity) = identity.filter(|i| i.verified) {
            return Ok(Some(identity));
        }
    }
    Ok(None)
}

/// The sandbox rule: every recipient must be a verified identity of the account
/// (the mailbox simulator excepted).
pub(crate) fn check_sandbox(
    snapshot: &Snapshot<'_>,
    account: &str,
    region: &str,
    recipients: &[String],
) -> Result<(), SesError> {
    let mut failed = Vec::new();
    for r in recipients {
        if domain_of(r).eq_ignore_ascii_case("simulator.amazonses.com") {
            continue;
        }
        if covering(snapshot, account, region, r)?.is_none() {
            failed.push(r.clone());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(not_verified(region, &failed))
    }
}

/// Raw parameters missing from the request come from the message's headers;
/// parameters win over headers.
fn apply_raw_headers(req: &mut SendRequest, h: &mime::Headers) {
    if req.from.is_none() {
        req.from = h.first("From").map(str::to_string);
    }
    if req.destination.all().is_empty() {
        let list = |name: &str| h.all(name).flat_map(mime::address_list).collect::<Vec<_>>();
        req.destination = Destination {
            to: list("To"),
            cc: list("Cc"),
            bcc: list("Bcc"),
        };
    }
    let header = |name: &str| {
        h.first(name)
            .map(|v| v.split_whitespace().collect::<String>())
    };
    req.source_arn = req.source_arn.take().or_else(|| header("X-SES-SOURCE-ARN"));
    req.from_arn = req.from_arn.take().or_else(|| header("X-SES-FROM-ARN"));
    req.return_path_arn = req
        .return_path_arn
        .take()
        .or_else(|| header("X-SES-RETURN-PATH-ARN"));
    req.configuration_set = req
        .configuration_set
        .take()
        .or_else(|| h.first("X-SES-CONFIGURATION-SET").map(str::to_string));
    if req.tags.is_empty() {
        req.tags = h
            .first("X-SES-MESSAGE-TAGS")
            .map(parse_tag_header)
            .unwrap_or_default();
    }
    if req.return_path.is_none() {
        req.return_path = h
            .first("Return-Path")
            .map(|v| v.trim_matches(['<', '>']).to_string())
            .filter(|v| !v.is_empty());
    }
}

/// The name of a send's stored template (empty for an inline template).
fn template_name(req: &SendRequest) -> String {
    match &req.content {
        Content::Template {
            source: TemplateSource::Stored { name, arn },
            ..
        } => name
            .clone()
            .or_else(|| {
                arn.as_deref()
                    .and_then(|a| a.rsplit_once('/'))
                    .map(|(_, n)| n.to_string())
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// `name1=value1, name2=value2`, as the X-SES-MESSAGE-TAGS header lists tags.
fn parse_tag_header(value: &str) -> Vec<(String, String)> {
    value
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            let (name, value) = t.split_once('=').unwrap_or((t, ""));
            (name.trim().to_string(), value.trim().to_string())
        })
        .collect()
}

/// Message tag names and values: 1 to 255 ASCII letters, digits, `_` and `-`.
fn check_tags(tags: &[(String, String)]) -> Result<(), SesError> {
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() < 256
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    for (name, value) in tags {
        if !valid(name) || !valid(value) {
            return Err(SesError::InvalidParameter(format!(
                "Invalid message tag {name}={value}: names and values contain only ASCII letters, numbers, underscores (_) and dashes (-), at most 255 characters."
            )));
        }
    }
    Ok(())
}

/// The IP address of a client (`ADDR` or `ADDR:PORT`).
fn client_ip(source: &str) -> String {
    source
        .parse::<std::net::SocketAddr>()
        .map_or_else(|_| source.to_string(), |a| a.ip().to_string())
}

/// The message as it leaves Sesame: X-SES-* and Bcc headers removed.
fn outgoing_raw(raw: &RawMessage) -> RawMessage {
    raw.without_fields(|name| {
        let n = name.to_ascii_lowercase();
        n.starts_with("x-ses-") || n == "bcc"
    })
}

/// A message id in SES's format: 16 hex digits, a UUID, `-000000`.
pub fn message_id() -> Result<String, SesError> {
    Ok(format!(
        "0100{:012x}-{}-000000",
        ids::now_ms(),
        ids::request_id()
    ))
}
