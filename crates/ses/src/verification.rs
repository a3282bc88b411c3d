//! Domain verification through DNS: a domain identity is verified when the TXT record
//! `_amazonses.DOMAIN` holds its token, or when its three DKIM CNAME records
//! `TOKEN._domainkey.DOMAIN` point to `TOKEN.dkim.amazonses.com` (which also verifies
//! DKIM). Checked on demand when an identity's status is read, and periodically for
//! every pending domain (see [`Ses::verify_pending_domains`]).

use crate::dns::Resolver;
use crate::model::{scoped_key, table, Identity, IdentityKind};
use crate::{Ses, SesError};
use iam::ids;

/// Least time between two on-demand DNS checks of one identity.
const RECHECK_MS: i64 = 1_000;

/// What DNS showed for one domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Findings {
    txt_token: bool,
    dkim: bool,
}

impl Ses {
    /// Checks every pending domain identity of every account; returns how many became
    /// verified. Does nothing without a resolver.
    pub fn verify_pending_domains(&self) -> Result<usize, SesError> {
        if self.resolver.is_none() {
            return Ok(0);
        }
        let all: Vec<Identity> = self.store.read()?.scan(table::IDENTITIES, "")?;
        let mut verified = 0;
        for identity in all.into_iter().filter(needs_check) {
            let was = identity.verified;
            if self.check_dns(identity)?.verified && !was {
                verified += 1;
            }
        }
        Ok(verified)
    }

    /// The identity with its DNS status brought up to date, when a resolver is
    /// configured and the identity is a domain still waiting for verification.
    pub(crate) fn refresh_from_dns(&self, identity: Identity) -> Result<Identity, SesError> {
        let recently = identity
            .last_checked_ms
            .is_some_and(|t| ids::now_ms() - t < RECHECK_MS);
        if self.resolver.is_none() || !needs_check(&identity) || recently {
            return Ok(identity);
        }
        self.check_dns(identity)
    }

    fn check_dns(&self, identity: Identity) -> Result<Identity, SesError> {
        let Some(resolver) = &self.resolver else {
            return Ok(identity);
        };
        let findings = lookup(resolver, &identity);
        self.record_findings(&identity, findings)
    }

    /// Saves what DNS showed, re-reading the identity so concurrent changes survive.
    fn record_findings(
        &self,
        identity: &Identity,
        findings: Option<Findings>,
    ) -> Result<Identity, SesError> {
        let key = scoped_key(
            &identity.account,
            &identity.region,
            &identity.name.to_ascii_lowercase(),
        );
        let now = ids::now_ms();
        let mut tx = self.store.write()?;
        let Some(mut current) = tx.get::<Identity>(table::IDENTITIES, &key)? else {
            return Ok(identity.clone());
        };
        current.last_checked_ms = Some(now);
        if let Some(f) = findings {
            if f.dkim && !current.dkim_verified {
                current.dkim_verified = true;
                current.dkim_enabled = true;
            }
            if f.txt_token || f.dkim {
                current.verified = true;
                current.last_success_ms = Some(now);
            }
        }
        tx.put(table::IDENTITIES, &key, &current)?;
        tx.commit()?;
        Ok(current)
    }
}

/// A domain not verified yet, or verified but with DKIM signing wanted and its
/// CNAME records not seen yet.
fn needs_check(identity: &Identity) -> bool {
    let dkim_pending = identity.dkim_enabled && !identity.dkim_verified;
    identity.kind == IdentityKind::Domain && (!identity.verified || dkim_pending)
}

/// Looks the domain's records up; None when the DNS server could not be asked.
fn lookup(resolver: &Resolver, identity: &Identity) -> Option<Findings> {
    let domain = identity.name.trim_end_matches('.');
    let txt = resolver.txt(&format!("_amazonses.{domain}")).ok()?;
    let txt_token = txt.iter().any(|t| t.trim() == identity.verification_token);
    let mut dkim = identity.dkim_tokens.len() == 3;
    for token in &identity.dkim_tokens {
        if !dkim {
            break;
        }
        let expected = format!("{token}.dkim.amazonses.com").to_ascii_lowercase();
        let targets = resolver
            .cname(&format!("{token}._domainkey.{domain}"))
            .ok()?;
        dkim = targets.contains(&expected);
    }
    Some(Findings { txt_token, dkim })
}
