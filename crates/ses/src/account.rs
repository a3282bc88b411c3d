//! Account-level settings beyond the sending switch: the production access request
//! (PutAccountDetails records it; only the operator grants it).

use crate::address::Mailbox;
use crate::model::{scoped_key, table, AccountDetails, AccountSettings};
use crate::{Ses, SesError};
use iam::{ids, Caller, RequestInfo};

/// What PutAccountDetails sends.
#[derive(Debug, Clone, Default)]
pub struct AccountDetailsInput {
    pub mail_type: String,
    pub website_url: String,
    pub contact_language: Option<String>,
    pub use_case_description: Option<String>,
    pub additional_contact_email_addresses: Vec<String>,
    pub production_access_enabled: bool,
}

impl Ses {
    /// Records the account's details and, when asked, a production access request.
    /// The request stays `PENDING` until `sesame admin production-access` grants it.
    pub fn put_account_details(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        input: AccountDetailsInput,
    ) -> Result<(), SesError> {
        self.allow(caller, info, "ses:PutAccountDetails", "*")?;
        validate_details(&input)?;
        let case_id = format!("sesame-{}", ids::request_id());
        self.update_settings(&caller.account, &info.region, |settings| {
            let pending = settings
                .details
                .as_ref()
                .is_some_and(|d| d.review_status.as_deref() == Some("PENDING"));
            if pending && input.production_access_enabled {
                return Err(SesError::Conflict(
                    "A production access request for this account is already under review.".into(),
                ));
            }
            let review_status = match (settings.production, input.production_access_enabled) {
                (true, _) => Some("GRANTED".to_string()),
                (false, true) => Some("PENDING".to_string()),
                (false, false) => settings
                    .details
                    .as_ref()
                    .and_then(|d| d.review_status.clone()),
            };
            settings.details = Some(AccountDetails {
                mail_type: input.mail_type,
                website_url: input.website_url,
                contact_language: input.contact_language,
                use_case_description: input.use_case_description,
                additional_contact_email_addresses: input.additional_contact_email_addresses,
                production_access_requested: input.production_access_enabled,
                review_status,
                case_id: Some(case_id),
                updated_ms: ids::now_ms(),
            });
            Ok(())
        })
    }

    /// Changes an account's settings in one transaction.
    pub(crate) fn update_settings(
        &self,
        account: &str,
        region: &str,
        change: impl FnOnce(&mut AccountSettings) -> Result<(), SesError>,
    ) -> Result<(), SesError> {
        let key = scoped_key(account, region, "");
        let mut tx = self.store.write()?;
        let mut settings: AccountSettings = tx.get(table::ACCOUNTS, &key)?.unwrap_or_default();
        change(&mut settings)?;
        tx.put(table::ACCOUNTS, &key, &settings)?;
        tx.commit()?;
        Ok(())
    }
}

fn validate_details(input: &AccountDetailsInput) -> Result<(), SesError> {
    let bad = |m: &str| Err(SesError::InvalidParameter(m.to_string()));
    if !["MARKETING", "TRANSACTIONAL"].contains(&input.mail_type.as_str()) {
        return bad("MailType must be MARKETING or TRANSACTIONAL.");
    }
    if input.website_url.is_empty() || input.website_url.len() > 1000 {
        return bad("WebsiteURL must be 1 to 1000 characters long.");
    }
    if let Some(lang) = &input.contact_language {
        if !["EN", "JA"].contains(&lang.as_str()) {
            return bad("ContactLanguage must be EN or JA.");
        }
    }
    if input
        .use_case_description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 5000)
    {
        return bad("UseCaseDescription must be at most 5000 characters long.");
    }
    if input.additional_contact_email_addresses.len() > 4 {
        return bad("AdditionalContactEmailAddresses can hold at most 4 addresses.");
    }
    for address in &input.additional_contact_email_addresses {
        Mailbox::parse(address)?;
    }
    Ok(())
}
