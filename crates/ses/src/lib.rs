//! Amazon SES: identities and their verification, sending authorization policies on
//! identities, and the one send pipeline every interface shares (resolve identities →
//! authorize every involved resource → sending switch → sandbox → quota → durable
//! accept into the capture store). It knows nothing of wire formats.

pub mod address;
pub mod doctor;
mod error;
mod identity;
pub mod mime;
pub mod model;
pub mod outbound;
mod quota;
mod send;
mod spool;

pub use error::SesError;
pub use identity::IdentityAttributes;
pub use model::IdentityKind;
pub use send::{Content, Destination, SendRequest, SendResult};
pub use spool::Outbound;

use iam::{Caller, Iam, RequestInfo};
use std::sync::Arc;
use store::Store;

/// The SES service.
pub struct Ses {
    store: Store,
    iam: Arc<Iam>,
    quotas: quota::Quotas,
    spool: spool::Spool,
    /// Where verification links point (the server's own URL).
    public_url: String,
}

impl Ses {
    pub fn new(store: Store, iam: Arc<Iam>, public_url: String) -> Ses {
        Ses::with_outbound(store, iam, public_url, Outbound::Off)
    }

    /// Like [`Ses::new`]; with [`Outbound::Queue`] every accepted message is also
    /// queued for delivery in the same transaction.
    pub fn with_outbound(
        store: Store,
        iam: Arc<Iam>,
        public_url: String,
        outbound: Outbound,
    ) -> Ses {
        Ses {
            spool: spool::Spool::start(store.clone(), outbound),
            store,
            iam,
            quotas: quota::Quotas::default(),
            public_url,
        }
    }

    /// Authorizes a management action (IAM-style denial).
    fn allow(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        action: &str,
        resource: &str,
    ) -> Result<(), SesError> {
        Ok(self.iam.allow(caller, info, action, resource)?)
    }

    fn identity_arn(info: &RequestInfo, account: &str, name: &str) -> String {
        format!("arn:aws:ses:{}:{account}:identity/{name}", info.region)
    }
}
