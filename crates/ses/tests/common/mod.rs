//! A store, IAM with two accounts (A owns identities, B is a delegate sender), and
//! helpers to send through the pipeline.

#![allow(dead_code)]

use iam::{Caller, EntityKind, Iam, RequestInfo};
use ses::{Content, Destination, SendRequest, Ses};
use std::sync::Arc;

pub const OWNER: &str = "111111111111";
pub const DELEGATE: &str = "222222222222";
pub const REGION: &str = "us-east-1";

pub struct World {
    pub _dir: tempfile::TempDir,
    pub iam: Arc<Iam>,
    pub ses: Ses,
    pub owner: Arc<Caller>,
    pub delegate: Arc<Caller>,
}

pub fn world() -> World {
    world_with(|ses| ses)
}

/// A world whose SES is adjusted by `f` (e.g. given a DNS resolver).
pub fn world_with(f: impl FnOnce(Ses) -> Ses) -> World {
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = store::SqliteBackend::open(dir.path()).expect("store");
    let store = store::Store::new(Arc::new(backend));
    let key = store::MasterKey::load(dir.path(), None).expect("master key");
    let iam = Arc::new(Iam::new(store.clone(), key));
    iam.bootstrap(
        OWNER,
        "AKIAOWNER00000000000",
        "owner-secret-000000000000000000000000",
    )
    .expect("owner account");
    iam.bootstrap(
        DELEGATE,
        "AKIADELEGATE00000000",
        "delegate-secret-00000000000000000000",
    )
    .expect("delegate account");
    let ses = f(Ses::new(store, iam.clone(), "http://sesame.test".into()));
    let owner = iam.caller("AKIAOWNER00000000000").expect("owner caller");
    let delegate = iam.caller("AKIADELEGATE00000000").expect("delegate caller");
    World {
        _dir: dir,
        iam,
        ses,
        owner,
        delegate,
    }
}

pub fn info() -> RequestInfo {
    RequestInfo {
        source_ip: "127.0.0.1".into(),
        secure_transport: true,
        user_agent: "test".into(),
        region: REGION.into(),
        time_ms: iam::ids::now_ms(),
        decisions: Default::default(),
    }
}

impl World {
    /// A user of `account`'s root with one inline policy; returns its caller.
    pub fn user(&self, root: &Caller, name: &str, policy: &str) -> Arc<Caller> {
        self.iam
            .create_user(root, &info(), name, None)
            .expect("user");
        self.iam
            .put_inline_policy(root, &info(), EntityKind::User, name, "p", policy)
            .expect("policy");
        let key = self
            .iam
            .create_access_key(root, &info(), Some(name))
            .expect("key");
        self.iam.caller(&key.id).expect("user caller")
    }

    pub fn verify(&self, account: &str, name: &str) {
        self.ses
            .mark_verified(account, REGION, name)
            .expect("verified");
    }

    pub fn production(&self, account: &str) {
        self.ses
            .grant_production_access(account, REGION)
            .expect("production");
    }

    pub fn messages(&self) -> Vec<ses::model::StoredMessage> {
        self.ses.captured().expect("captured")
    }
}

pub fn to(addresses: &[&str]) -> Destination {
    Destination {
        to: addresses.iter().map(|a| a.to_string()).collect(),
        ..Destination::default()
    }
}

/// A simple v2 SendEmail.
pub fn simple(from: &str, destination: Destination) -> SendRequest {
    SendRequest {
        action: "ses:SendEmail",
        api_version: "2",
        from: Some(from.to_string()),
        destination,
        return_path: None,
        source_arn: None,
        from_arn: None,
        return_path_arn: None,
        configuration_set: None,
        tags: Vec::new(),
        content: Content::Simple {
            subject: "Hello".into(),
            text: Some("Hi there".into()),
            html: None,
            reply_to: vec![],
        },
    }
}
