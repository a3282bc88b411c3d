//! The send pipeline shared by the v1 and v2 APIs and SMTP: resolve the From and
//! Return-Path identities (own, or an owner's through SourceArn/FromArn/ReturnPathArn
//! or X-SES-*-ARN headers), authorize every involved resource with the full policy
//! set, then the sending switch, sandbox, quota, and a durable accept.

use crate::address::{domain_of, Mailbox};
use crate::model::{scoped_key, table, AccountSettings, Identity, IdentityKind, StoredMessage};
use crate::{mime, Ses, SesError};
use iam::{ids, Caller, RequestInfo};
use policy::grammar::Version;
use policy::Policy;
use std::sync::Arc;

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
    Raw(String),
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
    pub content: Content,
}

#[derive(Debug, Clone)]
pub struct SendResult {
    pub message_id: String,
}

const MAX_RECIPIENTS: usize = 50;

impl Ses {
    pub fn send(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        mut req: SendRequest,
    ) -> Result<SendResult, SesError> {
        let raw_headers = match &req.content {
            Content::Raw(raw) => Some(mime::split(raw).0),
            Content::Simple { .. } => None,
        };
        if let Some(h) = &raw_headers {
            apply_raw_headers(&mut req, h);
        }
        let from = Mailbox::parse(req.from.as_deref().ok_or_else(|| {
            SesError::InvalidParameter("Missing required header 'From'.".into())
        })?)?;
        let recipients = req.destination.all();
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
        let recipient_addresses = recipients
            .iter()
            .map(|r| Mailbox::parse(r).map(|m| m.address))
            .collect::<Result<Vec<_>, _>>()?;
        let return_path = req.return_path.as_deref().map(Mailbox::parse).transpose()?;

        let from_arn = req.from_arn.as_deref().or(req.source_arn.as_deref());
        let from_identity = self.resolve(caller, info, &from.address, from_arn)?;
        let return_identity = match &return_path {
            Some(rp) => Some(self.resolve(
                caller,
                info,
                &rp.address,
                req.return_path_arn.as_deref().or(req.source_arn.as_deref()),
            )?),
            None => None,
        };

        let context = send_context(
            &from,
            &recipient_addresses,
            req.api_version,
            return_path.as_ref(),
        );
        let mut involved = vec![&from_identity];
        if let Some(r) = &return_identity {
            if r.arn() != from_identity.arn() {
                involved.push(r);
            }
        }
        for identity in involved {
            self.authorize_send(caller, info, req.action, identity, &context)?;
        }

        let settings = self.settings(&caller.account, &info.region)?;
        if !settings.sending_enabled {
            return Err(SesError::AccountSendingPaused);
        }
        if let Some(set) = &req.configuration_set {
            self.check_configuration_set(&caller.account, &info.region, set)?;
        }
        if !settings.production {
            self.check_sandbox(&caller.account, &info.region, &recipient_addresses)?;
        }
        let now = ids::now_ms();
        self.quotas.consume(
            &caller.account,
            &info.region,
            recipient_addresses.len() as u64,
            settings.quota(),
            now,
        )?;

        let message_id = message_id()?;
        let raw = match &req.content {
            Content::Raw(raw) => outgoing_raw(raw),
            Content::Simple {
                subject,
                text,
                html,
                reply_to,
            } => mime::build_simple(&mime::Simple {
                from: req.from.as_deref().unwrap_or(&from.address),
                to: &req.destination.to,
                cc: &req.destination.cc,
                reply_to,
                subject,
                text: text.as_deref(),
                html: html.as_deref(),
                message_id: &message_id,
                date: &mime::rfc5322_date(now),
            }),
        };
        self.accept(StoredMessage {
            message_id: message_id.clone(),
            account: caller.account.clone(),
            region: info.region.clone(),
            source: return_path.map_or(from.address, |rp| rp.address),
            destination: recipient_addresses,
            raw,
            created_ms: now,
            from_identity: from_identity.arn(),
            configuration_set: req.configuration_set.clone(),
        })?;
        Ok(SendResult { message_id })
    }

    /// The verified identity that covers `address`: the owner's named by `arn`, or the
    /// caller's most specific one (the address itself, then its domain and parents).
    pub(crate) fn resolve(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        address: &str,
        arn: Option<&str>,
    ) -> Result<Identity, SesError> {
        let not_verified = || not_verified(&info.region, &[address.to_string()]);
        let Some(arn) = arn else {
            return self
                .covering(&caller.account, &info.region, address)?
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
        let identity = self
            .load_identity(account, region, name)?
            .filter(|i| i.verified)
            .ok_or_else(not_verified)?;
        if !covers(&identity, address) {
            return Err(not_verified());
        }
        Ok(identity)
    }

    fn covering(
        &self,
        account: &str,
        region: &str,
        address: &str,
    ) -> Result<Option<Identity>, SesError> {
        let mut candidates = vec![address.to_string()];
        let mut domain = domain_of(address);
        while !domain.is_empty() {
            candidates.push(domain.to_string());
            domain = domain.split_once('.').map_or("", |(_, parent)| parent);
            if !domain.contains('.') {
                break;
            }
        }
        for name in candidates {
            if let Some(identity) = self
                .load_identity(account, region, &name)?
                .filter(|i| i.verified)
            {
                return Ok(Some(identity));
            }
        }
        Ok(None)
    }

    fn authorize_send(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        action: &str,
        identity: &Identity,
        context: &[(&str, Vec<String>)],
    ) -> Result<(), SesError> {
        let arn = identity.arn();
        let policy = merged_policy(identity)?;
        match self.iam.authorize(
            caller,
            action,
            &arn,
            info,
            Some((policy, identity.account.clone())),
            context,
        ) {
            Ok(_) => Ok(()),
            Err(denial) => Err(SesError::AccessDenied {
                message: policy::message::ses_denial(&caller.arn, action, &arn),
                trace: denial.trace,
            }),
        }
    }

    pub(crate) fn check_sandbox(
        &self,
        account: &str,
        region: &str,
        recipients: &[String],
    ) -> Result<(), SesError> {
        let mut failed = Vec::new();
        for r in recipients {
            if domain_of(r).eq_ignore_ascii_case("simulator.amazonses.com") {
                continue;
            }
            if self.covering(account, region, r)?.is_none() {
                failed.push(r.clone());
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(not_verified(region, &failed))
        }
    }

    fn check_configuration_set(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<(), SesError> {
        let set: Option<crate::model::ConfigurationSet> = self
            .store
            .read()?
            .get(table::CONFIG_SETS, &scoped_key(account, region, name))?;
        match set {
            None => Err(SesError::ConfigurationSetDoesNotExist(name.to_string())),
            Some(s) if !s.sending_enabled => {
                Err(SesError::ConfigurationSetSendingPaused(name.to_string()))
            }
            Some(_) => Ok(()),
        }
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
        let s: Option<AccountSettings> = self
            .store
            .read()?
            .get(table::ACCOUNTS, &scoped_key(account, region, ""))?;
        Ok(s.unwrap_or_default())
    }

    /// Operator action: sets the sending quota of an account in a region.
    pub fn set_quota(
        &self,
        account: &str,
        region: &str,
        max_24h: f64,
        max_rate: f64,
    ) -> Result<(), SesError> {
        let mut settings = self.settings(account, region)?;
        settings.custom_quota = Some((max_24h, max_rate));
        let mut tx = self.store.write()?;
        tx.put(table::ACCOUNTS, &scoped_key(account, region, ""), &settings)?;
        tx.commit()?;
        Ok(())
    }

    /// Operator action: production access (out of the sandbox) for an account in a region.
    pub fn grant_production_access(&self, account: &str, region: &str) -> Result<(), SesError> {
        let mut settings = self.settings(account, region)?;
        settings.production = true;
        let mut tx = self.store.write()?;
        tx.put(table::ACCOUNTS, &scoped_key(account, region, ""), &settings)?;
        tx.commit()?;
        Ok(())
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
    if req.return_path.is_none() {
        req.return_path = h
            .first("Return-Path")
            .map(|v| v.trim_matches(['<', '>']).to_string())
            .filter(|v| !v.is_empty());
    }
}

/// The message as it leaves Sesame: X-SES-* and Bcc headers removed.
fn outgoing_raw(raw: &str) -> String {
    let (_, head, body) = mime::split(raw);
    let kept = mime::without_fields(head, |name| {
        let n = name.to_ascii_lowercase();
        n.starts_with("x-ses-") || n == "bcc"
    });
    let separator = if raw.contains("\r\n\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    format!("{kept}{separator}{body}")
}

/// A message id in SES's format: 16 hex digits, a UUID, `-000000`.
pub fn message_id() -> Result<String, SesError> {
    Ok(format!(
        "0100{:012x}-{}-000000",
        ids::now_ms(),
        ids::request_id()
    ))
}
