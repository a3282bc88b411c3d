//! Amazon SES: identities and their verification (by link, operator or DNS), sending
//! authorization policies on identities, templates, configuration sets with event
//! destinations, the account-level suppression list, sending statistics, and the one
//! send pipeline every interface shares (resolve identities → authorize every involved
//! resource → sending switch → sandbox → quota → suppression → durable accept into the
//! capture store). It knows nothing of wire formats.

mod account;
pub mod address;
mod config_set;
pub mod dkim_key;
pub mod dns;
pub mod doctor;
mod error;
mod feedback;
mod identity;
pub mod least_privilege;
pub mod mime;
pub mod model;
pub mod observe;
pub mod outbound;
mod page;
mod quota;
mod raw;
pub mod render;
pub mod replay;
pub mod reputation;
mod send;
mod spool;
mod stats;
mod suppression;
pub mod template;
mod verification;

pub use account::AccountDetailsInput;
pub use config_set::ConfigurationSetInput;
pub use error::SesError;
pub use identity::IdentityAttributes;
pub use model::IdentityKind;
pub use raw::RawMessage;
pub use send::{
    BulkEntry, BulkOutcome, BulkStatus, Content, Destination, PendingSend, SendRequest, SendResult,
};
pub use spool::{store_message, Outbound};
pub use stats::Feedback;
pub use suppression::SuppressionFilter;
pub use template::{TemplateInput, TemplateParts, TemplateSource};

use iam::{Caller, Iam, RequestInfo};
use std::sync::Arc;
use store::Store;

/// Which SES API a management call came through; some actions and behaviours differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    V1,
    V2,
}

impl Api {
    /// The v1 or the v2 name of an action.
    pub fn pick(self, v1: &'static str, v2: &'static str) -> &'static str {
        match self {
            Api::V1 => v1,
            Api::V2 => v2,
        }
    }
}

/// The SES service.
pub struct Ses {
    store: Store,
    iam: Arc<Iam>,
    quotas: quota::Quotas,
    spool: spool::Spool,
    /// Compiled sending authorization policies, by the identity's policy texts.
    merged_policies: send::PolicyCache,
    /// Where verification links point (the server's own URL).
    public_url: String,
    /// The DNS server for domain verification; none means DNS is never consulted.
    resolver: Option<dns::Resolver>,
    rendering_failures: Option<RenderingFailureHook>,
}

/// Told of every templated message that failed to render after its send was
/// accepted: the message as far as it is known (headers only), the template name and
/// the error. The place to publish its Rendering Failure event.
pub type RenderingFailureHook = Box<dyn Fn(&model::StoredMessage, &str, &str) + Send + Sync>;

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
            merged_policies: send::PolicyCache::default(),
            public_url,
            resolver: None,
            rendering_failures: None,
        }
    }

    /// Verifies domain identities through this DNS server.
    pub fn with_resolver(mut self, resolver: dns::Resolver) -> Ses {
        self.resolver = Some(resolver);
        self
    }

    /// Reports rendering failures to `hook`.
    pub fn with_rendering_failure_hook(mut self, hook: RenderingFailureHook) -> Ses {
        self.rendering_failures = Some(hook);
        self
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
