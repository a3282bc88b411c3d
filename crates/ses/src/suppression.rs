//! The account-level suppression list (v2): addresses SES does not deliver to, per
//! account and region, and which reasons the list applies for. The send pipeline still
//! accepts mail to a suppressed address; it drops the recipient and records why.

use crate::address::Mailbox;
use crate::model::{
    scoped_key, table, AccountSettings, ConfigurationSet, SuppressedDestination,
    SuppressedRecipient, SuppressionReason,
};
use crate::{page, Ses, SesError};
use iam::{ids, Caller, RequestInfo};
use store::Snapshot;

/// Which entries ListSuppressedDestinations returns.
#[derive(Debug, Clone, Default)]
pub struct SuppressionFilter {
    /// Empty means every reason.
    pub reasons: Vec<SuppressionReason>,
    /// Inclusive bounds on the last update time.
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}

impl Ses {
    pub fn put_suppressed_destination(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        email: &str,
        reason: SuppressionReason,
    ) -> Result<(), SesError> {
        self.allow(caller, info, "ses:PutSuppressedDestination", "*")?;
        let address = plain_address(email)?;
        let entry = SuppressedDestination {
            email_address: address.clone(),
            reason,
            last_update_ms: ids::now_ms(),
            message_id: None,
            feedback_id: None,
        };
        let mut tx = self.store.write()?;
        tx.put(
            table::SUPPRESSED,
            &suppression_key(&caller.account, &info.region, &address),
            &entry,
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn get_suppressed_destination(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        email: &str,
    ) -> Result<SuppressedDestination, SesError> {
        self.allow(caller, info, "ses:GetSuppressedDestination", "*")?;
        self.store
            .read()?
            .get(
                table::SUPPRESSED,
                &suppression_key(&caller.account, &info.region, email),
            )?
            .ok_or_else(|| not_listed(email))
    }

    pub fn delete_suppressed_destination(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        email: &str,
    ) -> Result<(), SesError> {
        self.allow(caller, info, "ses:DeleteSuppressedDestination", "*")?;
        let mut tx = self.store.write()?;
        if !tx.delete(
            table::SUPPRESSED,
            &suppression_key(&caller.account, &info.region, email),
        )? {
            return Err(not_listed(email));
        }
        tx.commit()?;
        Ok(())
    }

    pub fn list_suppressed_destinations(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        filter: &SuppressionFilter,
        token: Option<&str>,
        size: Option<i64>,
    ) -> Result<(Vec<SuppressedDestination>, Option<String>), SesError> {
        self.allow(caller, info, "ses:ListSuppressedDestinations", "*")?;
        let all: Vec<SuppressedDestination> = self.store.read()?.scan(
            table::SUPPRESSED,
            &scoped_key(&caller.account, &info.region, ""),
        )?;
        let mut matching: Vec<(String, SuppressedDestination)> = all
            .into_iter()
            .filter(|d| filter.reasons.is_empty() || filter.reasons.contains(&d.reason))
            .filter(|d| filter.start_ms.is_none_or(|s| d.last_update_ms >= s))
            .filter(|d| filter.end_ms.is_none_or(|e| d.last_update_ms <= e))
            .map(|d| (d.email_address.to_ascii_lowercase(), d))
            .collect();
        matching.sort_by(|a, b| a.0.cmp(&b.0));
        let (items, next) = page::page(matching, |(k, _)| k, token, page::size(size, 1000, 1000))?;
        Ok((items.into_iter().map(|(_, d)| d).collect(), next))
    }

    /// Sets the reasons the account-level suppression list applies for (none: off).
    pub fn put_account_suppression_attributes(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        reasons: Vec<SuppressionReason>,
    ) -> Result<(), SesError> {
        self.allow(caller, info, "ses:PutAccountSuppressionAttributes", "*")?;
        self.update_settings(&caller.account, &info.region, |s| {
            let mut reasons = reasons;
            reasons.sort();
            reasons.dedup();
            s.suppressed_reasons = reasons;
            Ok(())
        })
    }
}

/// Splits recipients into those to deliver and those the suppression list holds
/// back. A configuration set with its own suppression options overrides the
/// account's reasons (from `settings`, the sending account's).
pub(crate) fn apply_suppression(
    snapshot: &Snapshot<'_>,
    account: &str,
    region: &str,
    settings: &AccountSettings,
    set: Option<&ConfigurationSet>,
    recipients: Vec<String>,
) -> Result<(Vec<String>, Vec<SuppressedRecipient>), SesError> {
    let reasons = match set.and_then(|s| s.options.suppressed_reasons.as_ref()) {
        Some(r) => r,
        None => &settings.suppressed_reasons,
    };
    if reasons.is_empty() {
        return Ok((recipients, Vec::new()));
    }
    let (mut kept, mut suppressed) = (Vec::new(), Vec::new());
    for address in recipients {
        let entry = snapshot.get::<SuppressedDestination>(
            table::SUPPRESSED,
            &suppression_key(account, region, &address),
        )?;
        match entry.filter(|e| reasons.contains(&e.reason)) {
            Some(e) => suppressed.push(SuppressedRecipient {
                address,
                reason: e.reason,
            }),
            None => kept.push(address),
        }
    }
    Ok((kept, suppressed))
}

pub(crate) fn suppression_key(account: &str, region: &str, email: &str) -> String {
    scoped_key(account, region, &email.trim().to_ascii_lowercase())
}

fn plain_address(email: &str) -> Result<String, SesError> {
    let mailbox = Mailbox::parse(email)?;
    if mailbox.display_name.is_some() || mailbox.address != email.trim() {
        return Err(SesError::InvalidParameter(format!(
            "Invalid email address {email}: give the address alone."
        )));
    }
    Ok(mailbox.address)
}

fn not_listed(email: &str) -> SesError {
    SesError::NotFound(format!(
        "Email address {email} does not exist on your suppression list."
    ))
}
