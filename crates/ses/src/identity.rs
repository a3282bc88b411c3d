//! Identities (email addresses and domains) per account and region, their
//! verification, and their sending authorization policies.

use crate::dkim_key::{self, StoredKey};
use crate::model::{scoped_key, table, Identity, IdentityKind, OwnMail, StoredMessage};
use crate::{address, Ses, SesError};
use iam::{ids, Caller, RequestInfo};

/// What GetIdentityVerificationAttributes / GetEmailIdentity report.
#[derive(Debug, Clone)]
pub struct IdentityAttributes {
    pub identity: Identity,
}

const MAX_POLICIES: usize = 20;
const MAX_POLICY_BYTES: usize = 4096;

impl Ses {
    /// Creates (or re-sends verification for) an email address identity. A
    /// verification message with a link is accepted into the capture store.
    pub fn verify_email(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        email: &str,
    ) -> Result<Identity, SesError> {
        let mailbox = address::Mailbox::parse(email)?;
        let arn = Ses::identity_arn(info, &caller.account, &mailbox.address);
        self.allow(caller, info, "ses:VerifyEmailIdentity", &arn)?;
        let identity =
            self.upsert_identity(caller, info, &mailbox.address, IdentityKind::EmailAddress)?;
        if !identity.verified {
            self.send_verification(&identity)?;
        }
        Ok(identity)
    }

    /// Creates a domain identity (with its Easy DKIM key pair, signing off: v1
    /// VerifyDomainIdentity); returns it with its TXT verification token.
    pub fn verify_domain(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        domain: &str,
    ) -> Result<Identity, SesError> {
        let domain = self.allowed_domain(caller, info, domain)?;
        self.create_domain(&caller.account, &info.region, &domain, false)
    }

    /// Creates a domain identity with Easy DKIM signing on (v1 VerifyDomainDkim, v2
    /// CreateEmailIdentity), or turns signing on for an existing one.
    pub fn verify_domain_dkim(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        domain: &str,
    ) -> Result<Identity, SesError> {
        let domain = self.allowed_domain(caller, info, domain)?;
        let mut identity = self.create_domain(&caller.account, &info.region, &domain, true)?;
        if !identity.dkim_enabled {
            identity.dkim_enabled = true;
            self.save_identity(&identity)?;
        }
        Ok(identity)
    }

    /// The normalised domain name, once the caller may create its identity.
    fn allowed_domain(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        domain: &str,
    ) -> Result<String, SesError> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if domain.is_empty() || domain.contains('@') || !domain.contains('.') {
            return Err(SesError::InvalidParameter(format!(
                "Invalid domain name {domain}."
            )));
        }
        let arn = Ses::identity_arn(info, &caller.account, &domain);
        self.allow(caller, info, "ses:VerifyDomainIdentity", &arn)?;
        Ok(domain)
    }

    /// The domain identity `domain` (lower case), created with its DKIM key pair in
    /// one transaction when missing. The key is generated before the transaction
    /// (RSA generation takes a while; callers run on blocking threads).
    fn create_domain(
        &self,
        account: &str,
        region: &str,
        domain: &str,
        signing: bool,
    ) -> Result<Identity, SesError> {
        let master = self.iam.master_key();
        if let Some(existing) = self.load_identity(account, region, domain)? {
            dkim_key::ensure(&self.store, master, &existing)?;
            return Ok(existing);
        }
        let mut identity = new_identity(account, region, domain, IdentityKind::Domain)?;
        identity.dkim_enabled = signing;
        let key = StoredKey::generate(&identity, master)?;
        let mut tx = self.store.write()?;
        if let Some(existing) = tx.get::<Identity>(table::IDENTITIES, &key_of(&identity))? {
            return Ok(existing); // created meanwhile, with its own key
        }
        tx.put(table::IDENTITIES, &key_of(&identity), &identity)?;
        dkim_key::put(&mut tx, &identity, &key)?;
        tx.commit()?;
        Ok(identity)
    }

    fn upsert_identity(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
        kind: IdentityKind,
    ) -> Result<Identity, SesError> {
        let key = scoped_key(&caller.account, &info.region, &name.to_ascii_lowercase());
        let mut tx = self.store.write()?;
        if let Some(existing) = tx.get::<Identity>(table::IDENTITIES, &key)? {
            return Ok(existing);
        }
        let identity = new_identity(&caller.account, &info.region, name, kind)?;
        tx.put(table::IDENTITIES, &key, &identity)?;
        tx.commit()?;
        Ok(identity)
    }

    fn send_verification(&self, identity: &Identity) -> Result<(), SesError> {
        let link = format!(
            "{}/_sesame/verify/{}",
            self.public_url, identity.verification_token
        );
        let message_id = crate::send::message_id()?;
        let raw = format!(
            "From: no-reply-aws@amazon.com\r\nTo: {to}\r\nSubject: Amazon Web Services – Email Address Verification Request in region {region}\r\nMessage-ID: <{message_id}@email.amazonses.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nTo verify your email address, click the following link:\r\n\r\n{link}\r\n",
            to = identity.name,
            region = identity.region,
        );
        let mail = OwnMail {
            message_id,
            account: identity.account.clone(),
            region: identity.region.clone(),
            source: "no-reply-aws@amazon.com".into(),
            to: identity.name.clone(),
            created_ms: ids::now_ms(),
        };
        self.accept(StoredMessage::own(mail, raw.into()))
    }

    /// Follows a verification link; returns the identity it verified.
    pub fn confirm_verification(&self, token: &str) -> Result<Identity, SesError> {
        let mut tx = self.store.write()?;
        let all: Vec<Identity> = tx.scan(table::IDENTITIES, "")?;
        let mut identity = all
            .into_iter()
            .find(|i| i.verification_token == token && i.kind == IdentityKind::EmailAddress)
            .ok_or_else(|| {
                SesError::NotFound("No identity waits for this verification link.".into())
            })?;
        identity.verified = true;
        tx.put(table::IDENTITIES, &key_of(&identity), &identity)?;
        tx.commit()?;
        Ok(identity)
    }

    /// Operator action: marks an identity verified, creating it when missing. A
    /// domain's DKIM records count as found too, which turns signing on the first
    /// time (as when DNS shows them).
    pub fn mark_verified(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Identity, SesError> {
        let kind = if name.contains('@') {
            IdentityKind::EmailAddress
        } else {
            IdentityKind::Domain
        };
        let name = if kind == IdentityKind::Domain {
            let domain = name.to_ascii_lowercase();
            self.create_domain(account, region, &domain, false)?;
            domain
        } else {
            name.to_string()
        };
        let key = scoped_key(account, region, &name.to_ascii_lowercase());
        let mut tx = self.store.write()?;
        let mut identity = match tx.get::<Identity>(table::IDENTITIES, &key)? {
            Some(i) => i,
            None => new_identity(account, region, &name, kind)?,
        };
        identity.verified = true;
        if kind == IdentityKind::Domain && !identity.dkim_verified {
            identity.dkim_verified = true;
            identity.dkim_enabled = true;
        }
        tx.put(table::IDENTITIES, &key, &identity)?;
        tx.commit()?;
        Ok(identity)
    }

    pub fn list_identities(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: Option<IdentityKind>,
    ) -> Result<Vec<Identity>, SesError> {
        self.allow(caller, info, "ses:ListIdentities", "*")?;
        let all: Vec<Identity> = self.store.read()?.scan(
            table::IDENTITIES,
            &format!("{}/{}/", caller.account, info.region),
        )?;
        Ok(all
            .into_iter()
            .filter(|i| kind.is_none_or(|k| i.kind == k))
            .collect())
    }

    pub fn get_identity(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        action: &str,
        name: &str,
    ) -> Result<Option<Identity>, SesError> {
        self.allow(
            caller,
            info,
            action,
            &Ses::identity_arn(info, &caller.account, name),
        )?;
        match self.load_identity(&caller.account, &info.region, name)? {
            Some(identity) => Ok(Some(self.refresh_from_dns(identity)?)),
            None => Ok(None),
        }
    }

    pub fn delete_identity(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
    ) -> Result<(), SesError> {
        self.allow(
            caller,
            info,
            "ses:DeleteIdentity",
            &Ses::identity_arn(info, &caller.account, name),
        )?;
        let key = scoped_key(&caller.account, &info.region, &name.to_ascii_lowercase());
        let mut tx = self.store.write()?;
        tx.delete(table::IDENTITIES, &key)?;
        tx.delete(dkim_key::TABLE, &key)?;
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn load_identity(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<Identity>, store::StoreError> {
        let identity = identity_in(&self.store.snapshot()?, account, region, name)?;
        Ok(identity.map(|i| (*i).clone()))
    }

    /// Adds or replaces a sending authorization policy, validated as SES does.
    pub fn put_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        identity: &str,
        name: &str,
        document: &str,
    ) -> Result<(), SesError> {
        self.allow(
            caller,
            info,
            "ses:PutIdentityPolicy",
            &Ses::identity_arn(info, &caller.account, identity),
        )?;
        validate_policy_name(name)?;
        let mut current = self.owned_identity(caller, info, identity)?;
        validate_policy(&current, document)?;
        if !current.policies.contains_key(name) && current.policies.len() >= MAX_POLICIES {
            return Err(SesError::LimitExceeded(
                "Maximum number of policies (20) for the identity has been reached.".into(),
            ));
        }
        current
            .policies
            .insert(name.to_string(), document.to_string());
        self.save_identity(&current)
    }

    pub fn delete_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        identity: &str,
        name: &str,
    ) -> Result<(), SesError> {
        self.allow(
            caller,
            info,
            "ses:DeleteIdentityPolicy",
            &Ses::identity_arn(info, &caller.account, identity),
        )?;
        let mut current = self.owned_identity(caller, info, identity)?;
        current.policies.remove(name);
        self.save_identity(&current)
    }

    /// Policies of an identity, all or the named ones.
    pub fn get_policies(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        identity: &str,
        names: &[&str],
    ) -> Result<Vec<(String, String)>, SesError> {
        self.allow(
            caller,
            info,
            "ses:GetIdentityPolicies",
            &Ses::identity_arn(info, &caller.account, identity),
        )?;
        let current = self.owned_identity(caller, info, identity)?;
        Ok(current
            .policies
            .into_iter()
            .filter(|(n, _)| names.is_empty() || names.contains(&n.as_str()))
            .collect())
    }

    fn owned_identity(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
    ) -> Result<Identity, SesError> {
        self.load_identity(&caller.account, &info.region, name)?
            .ok_or_else(|| SesError::NotFound(format!("Identity {name} does not exist.")))
    }

    pub(crate) fn save_identity(&self, identity: &Identity) -> Result<(), SesError> {
        let mut tx = self.store.write()?;
        tx.put(table::IDENTITIES, &key_of(identity), identity)?;
        tx.commit()?;
        Ok(())
    }
}

fn new_identity(
    account: &str,
    region: &str,
    name: &str,
    kind: IdentityKind,
) -> Result<Identity, SesError> {
    let dkim_tokens = vec![
        token(32)?.to_ascii_lowercase(),
        token(32)?.to_ascii_lowercase(),
        token(32)?.to_ascii_lowercase(),
    ];
    Ok(Identity::new(
        account,
        region,
        name,
        kind,
        token(44)?,
        dkim_tokens,
        ids::now_ms(),
    ))
}

fn key_of(i: &Identity) -> String {
    scoped_key(&i.account, &i.region, &i.name.to_ascii_lowercase())
}

fn token(len: usize) -> Result<String, SesError> {
    let bytes = store::random_bytes::<48>()?;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    Ok(bytes
        .iter()
        .take(len)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

fn validate_policy_name(name: &str) -> Result<(), SesError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(SesError::InvalidParameter(format!("Invalid policy name {name}: names are 1 to 64 letters, digits, dashes and underscores.")))
    }
}

/// SES's checks of a sending authorization policy: valid grammar, at most 4 KB, a
/// principal in every statement, and a resource that is the identity itself.
fn validate_policy(identity: &Identity, document: &str) -> Result<(), SesError> {
    if document.len() > MAX_POLICY_BYTES {
        return Err(SesError::InvalidPolicy(
            "Policy exceeds the maximum size of 4 KB.".into(),
        ));
    }
    let policy = policy::Policy::parse(document)
        .map_err(|e| SesError::InvalidPolicy(format!("Policy is not valid: {e}")))?;
    let arn = identity.arn();
    for st in &policy.statements {
        if st.principal.is_none() {
            return Err(SesError::InvalidPolicy(
                "Statement must contain a Principal.".into(),
            ));
        }
        let resources = st
            .resources
            .as_ref()
            .map(|r| r.source.clone())
            .unwrap_or_default();
        if resources.is_empty() || resources.iter().any(|r| r != &arn) {
            return Err(SesError::InvalidPolicy(format!(
                "Policy has invalid resource: the resource must be {arn}."
            )));
        }
    }
    Ok(())
}

/// The identity `name` (an address or domain) of an account and region, as
/// `snapshot` sees the store.
pub(crate) fn identity_in(
    snapshot: &store::Snapshot<'_>,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<std::sync::Arc<Identity>>, store::StoreError> {
    let key = scoped_key(account, region, &name.to_ascii_lowercase());
    snapshot.get(table::IDENTITIES, &key)
}
