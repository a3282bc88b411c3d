//! From an access key to a caller (principal, secret for SigV4, and every policy that
//! bears on its requests), and authorization of one action by the policy engine.

use crate::decisions::DecisionLog;
use crate::model::{table, AccessKey, Group, Permissions, Role, Session, User};
use crate::{ids, managed, model, org, Iam, IamError};
use policy::{Context, Decision, PolicySet, Principal, Request};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use store::Docs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    Root,
    User,
    AssumedRole,
    /// A user's GetSessionToken credentials: the user's own permissions.
    UserSession,
}

/// An authenticated caller. The secret is only for verifying signatures; `Debug` hides it.
pub struct Caller {
    pub access_key_id: String,
    pub account: String,
    /// The principal ARN (user, root or assumed-role session).
    pub arn: String,
    /// `UserId` as GetCallerIdentity reports it.
    pub user_id: String,
    /// The name CloudTrail shows (`userName`): user name, role session, or `root`.
    pub user_name: String,
    pub kind: CallerKind,
    pub principal: Principal,
    pub policies: PolicySet,
    /// Tags of the user or role, for `aws:PrincipalTag/...`.
    pub tags: Vec<(String, String)>,
    /// The organization id when the account is in one.
    pub org_id: Option<String>,
    secret: String,
    session_token: Option<String>,
    pub expires_ms: Option<i64>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("access_key_id", &self.access_key_id)
            .field("arn", &self.arn)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Caller {
    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn is_temporary(&self) -> bool {
        self.session_token.is_some()
    }

    /// Checks the request's session token against the session's (constant time).
    pub fn check_session_token(&self, given: Option<&str>, now_ms: i64) -> Result<(), IamError> {
        match (&self.session_token, given) {
            (None, None) => Ok(()),
            (Some(expected), Some(given)) if constant_eq(expected.as_bytes(), given.as_bytes()) => {
                match self.expires_ms {
                    Some(exp) if exp <= now_ms => Err(IamError::ExpiredToken),
                    _ => Ok(()),
                }
            }
            _ => Err(IamError::InvalidClientTokenId),
        }
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Facts about the request that become global condition keys.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub source_ip: String,
    pub secure_transport: bool,
    pub user_agent: String,
    pub region: String,
    pub time_ms: i64,
    /// Every authorization decision taken for this request, for the audit trail.
    pub decisions: DecisionLog,
}

/// A denied action, with AWS's IAM-style message and the trace behind it.
#[derive(Debug, Clone)]
pub struct Denial {
    pub decision: Decision,
    pub message: String,
    pub trace: Vec<String>,
}

impl Iam {
    /// The caller behind an access key id, from cache when nothing changed since.
    pub fn caller(&self, access_key_id: &str) -> Result<Arc<Caller>, IamError> {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some((g, c)) = self
            .callers
            .read()
            .ok()
            .and_then(|m| m.get(access_key_id).cloned())
        {
            if g == generation {
                return Ok(c);
            }
        }
        let caller = Arc::new(self.read(|tx| self.load_caller(tx, access_key_id))?);
        if let Ok(mut m) = self.callers.write() {
            m.insert(access_key_id.to_string(), (generation, caller.clone()));
        }
        Ok(caller)
    }

    fn load_caller(&self, tx: &mut Docs<'_>, akid: &str) -> Result<Caller, IamError> {
        if let Some(key) = tx.get::<AccessKey>(table::ACCESS_KEYS, akid)? {
            if !key.active {
                return Err(IamError::InvalidClientTokenId);
            }
            let secret = self.key.open(&key.secret)?;
            return self.long_term_caller(tx, key, secret);
        }
        let session = tx
            .get::<Session>(table::SESSIONS, akid)?
            .ok_or(IamError::InvalidClientTokenId)?;
        self.session_caller(tx, session)
    }

    /// The caller a principal ARN stands for (a user, the account root, or a session
    /// of a role), with its policies, for offline checks such as `sesame doctor`. It
    /// carries no credentials.
    pub fn caller_for_principal(&self, arn: &str) -> Result<Caller, IamError> {
        let principal = Principal::parse(arn).map_err(|e| IamError::InvalidInput(e.to_string()))?;
        let account = principal.account.clone();
        self.read(|tx| {
            let base = match &principal.caller {
                policy::principal::Caller::Root => self.root_base(&account),
                policy::principal::Caller::User { name } => {
                    let user = tx
                        .get::<User>(table::USERS, &model::entity_key(&account, name))?
                        .ok_or_else(|| {
                            IamError::NoSuchEntity(format!(
                                "The user with name {name} cannot be found."
                            ))
                        })?;
                    self.user_base(tx, &user, CallerKind::User)?
                }
                policy::principal::Caller::AssumedRole { role, session } => {
                    self.role_session(tx, &account, role, session)?
                }
                policy::principal::Caller::Role { name } => {
                    self.role_session(tx, &account, name, "doctor")?
                }
                _ => {
                    return Err(IamError::InvalidInput(format!(
                        "{arn} is not a user, role or root principal of an account"
                    )))
                }
            };
            self.finish(tx, base, String::new(), String::new(), None, None)
        })
    }

    fn role_session(
        &self,
        tx: &mut Docs<'_>,
        account: &str,
        role: &str,
        session: &str,
    ) -> Result<Base, IamError> {
        let r = tx
            .get::<Role>(table::ROLES, &model::entity_key(account, role))?
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!("The role with name {role} cannot be found."))
            })?;
        self.role_base(tx, &r, session)
    }

    fn long_term_caller(
        &self,
        tx: &mut Docs<'_>,
        key: AccessKey,
        secret: String,
    ) -> Result<Caller, IamError> {
        let base = if key.user.is_empty() {
            self.root_base(&key.account)
        } else {
            let user = tx
                .get::<User>(table::USERS, &model::entity_key(&key.account, &key.user))?
                .ok_or(IamError::InvalidClientTokenId)?;
            self.user_base(tx, &user, CallerKind::User)?
        };
        self.finish(tx, base, key.id, secret, None, None)
    }

    fn session_caller(&self, tx: &mut Docs<'_>, s: Session) -> Result<Caller, IamError> {
        let secret = self.key.open(&s.secret)?;
        let token = self.key.open(&s.token)?;
        let mut base = match (&s.role, &s.user) {
            (Some(role_name), _) => {
                let role = tx
                    .get::<Role>(table::ROLES, &model::entity_key(&s.account, role_name))?
                    .ok_or(IamError::InvalidClientTokenId)?;
                self.role_base(tx, &role, &s.session_name)?
            }
            (None, Some(user_name)) => {
                let user = tx
                    .get::<User>(table::USERS, &model::entity_key(&s.account, user_name))?
                    .ok_or(IamError::InvalidClientTokenId)?;
                self.user_base(tx, &user, CallerKind::UserSession)?
            }
            (None, None) => self.root_base(&s.account),
        };
        if let Some(doc) = &s.session_policy {
            base.policies.session = Some(self.compile(doc)?);
        }
        self.finish(
            tx,
            base,
            s.access_key_id,
            secret,
            Some(token),
            Some(s.expires_ms),
        )
    }

    fn root_base(&self, account: &str) -> Base {
        Base {
            account: account.to_string(),
            arn: format!("arn:aws:iam::{account}:root"),
            user_id: account.to_string(),
            user_name: "root".to_string(),
            kind: CallerKind::Root,
            policies: PolicySet::default(),
            tags: Vec::new(),
        }
    }

    fn user_base(
        &self,
        tx: &mut Docs<'_>,
        user: &User,
        kind: CallerKind,
    ) -> Result<Base, IamError> {
        let mut identity = self.permissions(tx, &user.account, &user.permissions)?;
        for g in &user.groups {
            if let Some(group) =
                tx.get::<Group>(table::GROUPS, &model::entity_key(&user.account, g))?
            {
                identity.extend(self.permissions(tx, &user.account, &group.permissions)?);
            }
        }
        Ok(Base {
            account: user.account.clone(),
            arn: model::iam_arn(&user.account, "user", &user.path, &user.name),
            user_id: user.id.clone(),
            user_name: user.name.clone(),
            kind,
            policies: PolicySet {
                identity,
                boundary: self.boundary(tx, user.boundary.as_deref())?,
                ..PolicySet::default()
            },
            tags: user.tags.clone(),
        })
    }

    fn role_base(&self, tx: &mut Docs<'_>, role: &Role, session: &str) -> Result<Base, IamError> {
        Ok(Base {
            account: role.account.clone(),
            arn: format!(
                "arn:aws:sts::{}:assumed-role/{}/{session}",
                role.account, role.name
            ),
            user_id: format!("{}:{session}", role.id),
            user_name: format!("{}/{session}", role.name),
            kind: CallerKind::AssumedRole,
            policies: PolicySet {
                identity: self.permissions(tx, &role.account, &role.permissions)?,
                boundary: self.boundary(tx, role.boundary.as_deref())?,
                ..PolicySet::default()
            },
            tags: role.tags.clone(),
        })
    }

    fn finish(
        &self,
        tx: &mut Docs<'_>,
        mut base: Base,
        access_key_id: String,
        secret: String,
        session_token: Option<String>,
        expires_ms: Option<i64>,
    ) -> Result<Caller, IamError> {
        let org = org::membership(self, tx, &base.account)?;
        base.policies.scps = org.scps;
        let principal =
            Principal::parse(&base.arn).map_err(|e| IamError::InvalidInput(e.to_string()))?;
        Ok(Caller {
            access_key_id,
            account: base.account,
            arn: base.arn,
            user_id: base.user_id,
            user_name: base.user_name,
            kind: base.kind,
            principal,
            policies: base.policies,
            tags: base.tags,
            org_id: org.org_id,
            secret,
            session_token,
            expires_ms,
        })
    }

    /// Compiled inline and attached policies of one entity.
    pub(crate) fn permissions(
        &self,
        tx: &mut Docs<'_>,
        account: &str,
        p: &Permissions,
    ) -> Result<Vec<Arc<policy::Policy>>, IamError> {
        let mut out = Vec::new();
        for (name, doc) in &p.inline {
            out.push(Arc::new(
                (*self.compile(doc)?).clone().with_name(name.clone()),
            ));
        }
        for arn in &p.attached {
            if let Some(doc) = managed::default_document(tx, account, arn)? {
                out.push(Arc::new(
                    (*self.compile(&doc)?).clone().with_name(arn.clone()),
                ));
            }
        }
        Ok(out)
    }

    fn boundary(
        &self,
        tx: &mut Docs<'_>,
        arn: Option<&str>,
    ) -> Result<Option<Arc<policy::Policy>>, IamError> {
        let Some(arn) = arn else { return Ok(None) };
        let doc = managed::default_document(tx, "", arn)?;
        doc.map(|d| {
            Ok(Arc::new(
                (*self.compile(&d)?).clone().with_name(arn.to_string()),
            ))
        })
        .transpose()
    }

    /// Decides `action` on `resource` for the caller, with an optional resource-based
    /// policy owned by `resource_account`.
    pub fn authorize(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
        info: &RequestInfo,
        resource_policy: Option<(Arc<policy::Policy>, String)>,
        extra: &[(&str, Vec<String>)],
    ) -> Result<Decision, Denial> {
        let mut ctx = request_context(caller, info);
        for (k, v) in extra {
            ctx.insert(k, v.clone());
        }
        let (policies, resource_account) = match resource_policy {
            Some((p, account)) => {
                let mut set = caller.policies.clone();
                set.resource = Some(p);
                (std::borrow::Cow::Owned(set), Some(account))
            }
            // AWS-owned resources (account `aws`) have no owning account: the engine
            // decides them on the caller's own policies.
            None => (std::borrow::Cow::Borrowed(&caller.policies), None),
        };
        let request = Request::new(
            caller.principal.clone(),
            action,
            resource,
            resource_account,
            ctx,
        );
        let decision = policy::evaluate(&policies, &request);
        count_decision(&decision);
        if decision.is_allowed() {
            info.decisions
                .push(crate::decisions::record(&policies, request, &decision));
            return Ok(decision);
        }
        let (traced, trace) = policy::evaluate_traced(&policies, &request);
        let message = policy::message::iam_denial(&request, &traced).unwrap_or_default();
        info.decisions
            .push(crate::decisions::record(&policies, request, &decision));
        Err(Denial {
            decision: traced,
            message,
            trace: trace.lines,
        })
    }
}

/// Counts a decision for `/metrics`: its outcome and the layer that decided it.
fn count_decision(decision: &Decision) {
    let outcome = match decision.outcome {
        policy::Outcome::Allowed => metrics::Outcome::Allowed,
        policy::Outcome::ExplicitDeny => metrics::Outcome::ExplicitDeny,
        policy::Outcome::ImplicitDeny => metrics::Outcome::ImplicitDeny,
    };
    let layer = match decision.denied_by.or(decision.statement.map(|s| s.layer)) {
        Some(policy::Layer::Scp) => metrics::Layer::Scp,
        Some(policy::Layer::Rcp) => metrics::Layer::Rcp,
        Some(policy::Layer::Resource) => metrics::Layer::Resource,
        Some(policy::Layer::Identity) => metrics::Layer::Identity,
        Some(policy::Layer::Boundary) => metrics::Layer::Boundary,
        Some(policy::Layer::Session) => metrics::Layer::Session,
        None => metrics::Layer::NoStatement,
    };
    metrics::decision(outcome, layer);
}

/// The partial caller every kind of credential resolves to.
struct Base {
    account: String,
    arn: String,
    user_id: String,
    user_name: String,
    kind: CallerKind,
    policies: PolicySet,
    tags: Vec<(String, String)>,
}

/// Global condition keys of a request.
pub fn request_context(caller: &Caller, info: &RequestInfo) -> Context {
    let mut ctx = Context::default();
    let one = |v: String| vec![v];
    ctx.insert("aws:SourceIp", one(info.source_ip.clone()));
    ctx.insert(
        "aws:SecureTransport",
        one(info.secure_transport.to_string()),
    );
    ctx.insert("aws:UserAgent", one(info.user_agent.clone()));
    ctx.insert("aws:RequestedRegion", one(info.region.clone()));
    ctx.insert("aws:CurrentTime", one(ids::iso8601(info.time_ms)));
    ctx.insert("aws:EpochTime", one((info.time_ms / 1000).to_string()));
    ctx.insert("aws:userid", one(caller.user_id.clone()));
    if caller.kind == CallerKind::User || caller.kind == CallerKind::UserSession {
        ctx.insert("aws:username", one(caller.user_name.clone()));
    }
    if let Some(org) = &caller.org_id {
        ctx.insert("aws:PrincipalOrgID", one(org.clone()));
    }
    for (k, v) in &caller.tags {
        ctx.insert(&format!("aws:PrincipalTag/{k}"), one(v.clone()));
    }
    ctx
}
