//! Organizations end to end inside the iam crate: the tree, policies and attachments,
//! and the SCP levels member accounts' callers get.

use iam::org::{NewAccount, NewPolicy, FULL_AWS_ACCESS, RCP_FULL_AWS_ACCESS, RCP_TYPE, SCP_TYPE};
use iam::{Caller, Iam, IamError, RequestInfo};
use policy::{Layer, Outcome};
use std::sync::Arc;

const MGMT: &str = "111111111111";
const ROOT_KEY: &str = "AKIAROOT000000000001";

struct Env {
    iam: Iam,
    info: RequestInfo,
    _dir: tempfile::TempDir,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let backend = store::SqliteBackend::open(dir.path()).unwrap();
    let store = store::Store::new(Arc::new(backend));
    let key = store::MasterKey::load(dir.path(), None).unwrap();
    let iam = Iam::new(store, key);
    iam.bootstrap(MGMT, ROOT_KEY, "rootsecret0000000000000000000000000000000")
        .unwrap();
    Env {
        iam,
        info: RequestInfo {
            region: "us-east-1".into(),
            ..RequestInfo::default()
        },
        _dir: dir,
    }
}

impl Env {
    fn root(&self) -> Arc<Caller> {
        self.iam.caller(ROOT_KEY).unwrap()
    }

    fn root_id(&self) -> String {
        self.iam.list_roots(&self.root(), &self.info).unwrap()[0]
            .id
            .clone()
    }

    fn organize(&self) -> String {
        self.iam
            .create_organization(&self.root(), &self.info, None)
            .unwrap();
        self.root_id()
    }

    fn new_account(&self, name: &str) -> String {
        let email = format!("{name}@example.com");
        let status = self
            .iam
            .create_account(
                &self.root(),
                &self.info,
                &NewAccount {
                    email: &email,
                    name,
                    ..NewAccount::default()
                },
            )
            .unwrap();
        assert_eq!(status.state, "SUCCEEDED");
        status.account_id.unwrap()
    }

    fn new_ou(&self, parent: &str, name: &str) -> String {
        self.iam
            .create_organizational_unit(&self.root(), &self.info, parent, name)
            .unwrap()
            .id
    }

    fn new_scp(&self, name: &str, content: &str) -> String {
        self.iam
            .create_org_policy(
                &self.root(),
                &self.info,
                &NewPolicy {
                    name,
                    description: "",
                    content,
                    kind: SCP_TYPE,
                },
            )
            .unwrap()
            .id
    }

    fn attach(&self, policy: &str, target: &str) {
        self.iam
            .attach_org_policy(&self.root(), &self.info, policy, target)
            .unwrap();
    }

    fn move_account(&self, account: &str, from: &str, to: &str) {
        self.iam
            .move_account(&self.root(), &self.info, account, from, to)
            .unwrap();
    }

    /// The management root's session in `account`'s OrganizationAccountAccessRole.
    fn admin_of(&self, account: &str) -> Arc<Caller> {
        let arn = format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole");
        let creds = self
            .iam
            .assume_role(&self.root(), &self.info, &arn, "admin", None, None)
            .unwrap();
        self.iam.caller(&creds.access_key_id).unwrap()
    }

    /// Asks again for the caller, as a new request would (SCPs may have changed).
    fn again(&self, caller: &Caller) -> Arc<Caller> {
        self.iam.caller(&caller.access_key_id).unwrap()
    }

    fn decide(&self, caller: &Caller, action: &str) -> (Outcome, Option<Layer>) {
        match self
            .iam
            .authorize(caller, action, "*", &self.info, None, &[])
        {
            Ok(d) => (d.outcome, d.denied_by),
            Err(d) => (d.decision.outcome, d.decision.denied_by),
        }
    }
}

const DENY_SES: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ses:*","Resource":"*"}]}"#;
const ALLOW_IAM: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#;

fn code(e: IamError) -> &'static str {
    e.code()
}

fn level_sizes(caller: &Caller) -> Option<Vec<usize>> {
    caller
        .policies
        .scps
        .as_ref()
        .map(|levels| levels.iter().map(Vec::len).collect())
}

#[test]
fn creating_the_organization_enables_scps_with_full_aws_access() {
    let e = env();
    let org = e.iam.create_organization(&e.root(), &e.info, None).unwrap();
    assert!(org.id.starts_with("o-") && org.id.len() == 12);
    assert_eq!(
        org.arn,
        format!("arn:aws:organizations::{MGMT}:organization/{}", org.id)
    );
    assert_eq!(org.policy_types, vec![SCP_TYPE.to_string()]);
    let root = e.root_id();
    let targets = e
        .iam
        .list_targets_for_org_policy(&e.root(), &e.info, FULL_AWS_ACCESS)
        .unwrap();
    let ids: Vec<&str> = targets.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, vec![root.as_str(), MGMT]);
    let full = e
        .iam
        .describe_org_policy(&e.root(), &e.info, FULL_AWS_ACCESS)
        .unwrap();
    assert!(full.aws_managed);
    assert_eq!(
        full.arn,
        "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess"
    );
    let again = e.iam.create_organization(&e.root(), &e.info, None);
    assert_eq!(code(again.unwrap_err()), "AlreadyInOrganizationException");
}

#[test]
fn outside_an_organization_nothing_answers() {
    let e = env();
    let err = e.iam.describe_organization(&e.root(), &e.info).unwrap_err();
    assert_eq!(code(err), "AWSOrganizationsNotInUseException");
    assert_eq!(level_sizes(&e.root()), None);
}

#[test]
fn management_account_is_never_restricted_by_scps() {
    let e = env();
    let root = e.organize();
    let deny = e.new_scp("DenySES", DENY_SES);
    e.attach(&deny, &root);
    e.attach(&deny, MGMT);
    let caller = e.root();
    assert_eq!(level_sizes(&caller), None);
    assert!(caller.org_id.is_some());
    assert_eq!(e.decide(&caller, "ses:SendEmail").0, Outcome::Allowed);
}

#[test]
fn created_account_gets_an_assumable_admin_role_and_full_aws_access() {
    let e = env();
    let root = e.organize();
    let account = e.new_account("dev");
    let info = e
        .iam
        .describe_account(&e.root(), &e.info, &account)
        .unwrap();
    assert_eq!(info.joined_method, "CREATED");
    assert_eq!(
        info.path,
        format!(
            "{}/{root}/{account}/",
            e.iam.describe_organization(&e.root(), &e.info).unwrap().id
        )
    );
    let admin = e.admin_of(&account);
    assert_eq!(admin.account, account);
    // Root level and account level, each with FullAWSAccess.
    assert_eq!(level_sizes(&admin), Some(vec![1, 1]));
    assert_eq!(e.decide(&admin, "ses:SendEmail").0, Outcome::Allowed);
    assert_eq!(e.decide(&admin, "iam:ListUsers").0, Outcome::Allowed);
}

#[test]
fn scp_levels_follow_the_account_through_moves() {
    let e = env();
    let root = e.organize();
    let account = e.new_account("dev");
    let ou = e.new_ou(&root, "Workloads");
    let inner = e.new_ou(&ou, "Team");
    let deny = e.new_scp("DenySES", DENY_SES);
    e.attach(&deny, &ou);

    let admin = e.admin_of(&account);
    assert_eq!(e.decide(&admin, "ses:SendEmail").0, Outcome::Allowed);

    e.move_account(&account, &root, &inner);
    let admin = e.again(&admin);
    assert_eq!(level_sizes(&admin), Some(vec![1, 2, 1, 1]));
    assert_eq!(
        e.decide(&admin, "ses:SendEmail"),
        (Outcome::ExplicitDeny, Some(Layer::Scp))
    );
    assert_eq!(e.decide(&admin, "iam:ListUsers").0, Outcome::Allowed);
    let denial = e
        .iam
        .authorize(&admin, "ses:SendEmail", "*", &e.info, None, &[])
        .unwrap_err();
    assert!(denial
        .message
        .ends_with("with an explicit deny in a service control policy"));

    e.move_account(&account, &inner, &root);
    let admin = e.again(&admin);
    assert_eq!(level_sizes(&admin), Some(vec![1, 1]));
    assert_eq!(e.decide(&admin, "ses:SendEmail").0, Outcome::Allowed);
}

#[test]
fn every_level_must_allow() {
    let e = env();
    let root = e.organize();
    let account = e.new_account("dev");
    let ou = e.new_ou(&root, "Locked");
    e.move_account(&account, &root, &ou);
    // Allow-list on the OU: replace FullAWSAccess by an IAM-only SCP.
    let iam_only = e.new_scp("IamOnly", ALLOW_IAM);
    e.attach(&iam_only, &ou);
    e.iam
        .detach_org_policy(&e.root(), &e.info, FULL_AWS_ACCESS, &ou)
        .unwrap();
    let admin = e.admin_of(&account);
    assert_eq!(e.decide(&admin, "iam:ListUsers").0, Outcome::Allowed);
    assert_eq!(
        e.decide(&admin, "ses:SendEmail"),
        (Outcome::ImplicitDeny, Some(Layer::Scp))
    );
}

#[test]
fn detach_keeps_at_least_one_scp() {
    let e = env();
    let root = e.organize();
    let ou = e.new_ou(&root, "OU");
    let err = e
        .iam
        .detach_org_policy(&e.root(), &e.info, FULL_AWS_ACCESS, &ou)
        .unwrap_err();
    assert_eq!(err.code(), "ConstraintViolationException");
    assert_eq!(
        err.reason(),
        Some("MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED")
    );
    let deny = e.new_scp("DenySES", DENY_SES);
    let err = e
        .iam
        .detach_org_policy(&e.root(), &e.info, &deny, &ou)
        .unwrap_err();
    assert_eq!(err.code(), "PolicyNotAttachedException");
    e.attach(&deny, &ou);
    let err = e
        .iam
        .attach_org_policy(&e.root(), &e.info, &deny, &ou)
        .unwrap_err();
    assert_eq!(err.code(), "DuplicatePolicyAttachmentException");
    let err = e
        .iam
        .delete_org_policy(&e.root(), &e.info, &deny)
        .unwrap_err();
    assert_eq!(err.code(), "PolicyInUseException");
    e.iam
        .detach_org_policy(&e.root(), &e.info, FULL_AWS_ACCESS, &ou)
        .unwrap();
    let err = e
        .iam
        .detach_org_policy(&e.root(), &e.info, &deny, &ou)
        .unwrap_err();
    assert_eq!(err.code(), "ConstraintViolationException");
}

#[test]
fn at_most_five_scps_per_target() {
    let e = env();
    let root = e.organize();
    for i in 0..4 {
        let p = e.new_scp(&format!("p{i}"), DENY_SES);
        e.attach(&p, &root);
    }
    let sixth = e.new_scp("p4", DENY_SES);
    let err = e
        .iam
        .attach_org_policy(&e.root(), &e.info, &sixth, &root)
        .unwrap_err();
    assert_eq!(
        err.reason(),
        Some("MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED")
    );
}

#[test]
fn disabling_scps_lifts_them_and_enabling_restores_full_aws_access() {
    let e = env();
    let root = e.organize();
    let account = e.new_account("dev");
    let deny = e.new_scp("DenySES", DENY_SES);
    e.attach(&deny, &account);
    let admin = e.admin_of(&account);
    assert_eq!(e.decide(&admin, "ses:SendEmail").0, Outcome::ExplicitDeny);

    e.iam
        .disable_policy_type(&e.root(), &e.info, &root, SCP_TYPE)
        .unwrap();
    let admin = e.again(&admin);
    assert_eq!(level_sizes(&admin), None);
    assert_eq!(e.decide(&admin, "ses:SendEmail").0, Outcome::Allowed);
    let err = e
        .iam
        .attach_org_policy(&e.root(), &e.info, &deny, &account)
        .unwrap_err();
    assert_eq!(err.code(), "PolicyTypeNotEnabledException");

    e.iam
        .enable_policy_type(&e.root(), &e.info, &root, SCP_TYPE)
        .unwrap();
    let admin = e.again(&admin);
    assert_eq!(level_sizes(&admin), Some(vec![1, 1]));
    assert_eq!(e.decide(&admin, "ses:SendEmail").0, Outcome::Allowed);
    let err = e
        .iam
        .enable_policy_type(&e.root(), &e.info, &root, SCP_TYPE)
        .unwrap_err();
    assert_eq!(err.code(), "PolicyTypeAlreadyEnabledException");
}

#[test]
fn member_accounts_may_only_describe_the_organization() {
    let e = env();
    e.organize();
    let account = e.new_account("dev");
    let admin = e.admin_of(&account);
    assert!(e.iam.describe_organization(&admin, &e.info).is_ok());
    let err = e.iam.list_accounts(&admin, &e.info).unwrap_err();
    assert_eq!(err.code(), "AccessDeniedException");
    assert_eq!(
        err.to_string(),
        "You don't have permissions to access this resource."
    );
}

#[test]
fn scp_content_is_checked() {
    let e = env();
    e.organize();
    let make = |content: &str| {
        e.iam.create_org_policy(
            &e.root(),
            &e.info,
            &NewPolicy {
                name: "x",
                description: "",
                content,
                kind: SCP_TYPE,
            },
        )
    };
    let with_principal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ses:*","Resource":"*"}]}"#;
    assert_eq!(
        make(with_principal).unwrap_err().code(),
        "MalformedPolicyDocumentException"
    );
    assert_eq!(
        make("{not json").unwrap_err().code(),
        "MalformedPolicyDocumentException"
    );
    let huge = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Deny","Action":"ses:*","Resource":"*"}}]}}"#,
        "a".repeat(5200)
    );
    assert_eq!(
        make(&huge).unwrap_err().reason(),
        Some("POLICY_CONTENT_LIMIT_EXCEEDED")
    );
}

#[test]
fn moving_requires_the_right_source() {
    let e = env();
    let root = e.organize();
    let account = e.new_account("dev");
    let ou = e.new_ou(&root, "OU");
    let err = e
        .iam
        .move_account(&e.root(), &e.info, &account, &ou, &root)
        .unwrap_err();
    assert_eq!(err.code(), "AccountNotFoundException");
    let err = e
        .iam
        .move_account(&e.root(), &e.info, &account, &root, &root)
        .unwrap_err();
    assert_eq!(err.code(), "DuplicateAccountException");
    let err = e
        .iam
        .move_account(&e.root(), &e.info, &account, &root, "ou-zzzz-zzzzzzzz")
        .unwrap_err();
    assert_eq!(err.code(), "DestinationParentNotFoundException");
}

#[test]
fn organizational_units_nest_and_delete_when_empty() {
    let e = env();
    let root = e.organize();
    let mut parent = root.clone();
    for depth in 0..5 {
        parent = e.new_ou(&parent, &format!("level{depth}"));
    }
    let err = e
        .iam
        .create_organizational_unit(&e.root(), &e.info, &parent, "too deep")
        .unwrap_err();
    assert_eq!(err.reason(), Some("OU_DEPTH_LIMIT_EXCEEDED"));
    let top = e.new_ou(&root, "Top");
    let err = e
        .iam
        .create_organizational_unit(&e.root(), &e.info, &root, "Top")
        .unwrap_err();
    assert_eq!(err.code(), "DuplicateOrganizationalUnitException");
    assert!(top.starts_with(&format!("ou-{}-", root.trim_start_matches("r-"))));
    let child = e.new_ou(&top, "Child");
    let err = e
        .iam
        .delete_organizational_unit(&e.root(), &e.info, &top)
        .unwrap_err();
    assert_eq!(err.code(), "OrganizationalUnitNotEmptyException");
    e.iam
        .delete_organizational_unit(&e.root(), &e.info, &child)
        .unwrap();
    e.iam
        .delete_organizational_unit(&e.root(), &e.info, &top)
        .unwrap();
    let targets = e
        .iam
        .list_targets_for_org_policy(&e.root(), &e.info, FULL_AWS_ACCESS)
        .unwrap();
    assert!(targets.iter().all(|t| t.id != child && t.id != top));
}

#[test]
fn duplicate_email_fails_the_request() {
    let e = env();
    e.organize();
    e.new_account("dev");
    let status = e
        .iam
        .create_account(
            &e.root(),
            &e.info,
            &NewAccount {
                email: "DEV@example.com",
                name: "dev2",
                ..NewAccount::default()
            },
        )
        .unwrap();
    assert_eq!(status.state, "FAILED");
    assert_eq!(
        status.failure_reason.as_deref(),
        Some("EMAIL_ALREADY_EXISTS")
    );
    assert_eq!(status.account_id, None);
}

#[test]
fn organization_deletes_only_when_alone() {
    let e = env();
    e.organize();
    e.iam.delete_organization(&e.root(), &e.info).unwrap();
    assert_eq!(
        e.iam
            .describe_organization(&e.root(), &e.info)
            .unwrap_err()
            .code(),
        "AWSOrganizationsNotInUseException"
    );
    e.organize();
    e.new_account("dev");
    assert_eq!(
        e.iam
            .delete_organization(&e.root(), &e.info)
            .unwrap_err()
            .code(),
        "OrganizationNotEmptyException"
    );
}

#[test]
fn rcps_have_levels_for_member_accounts_once_enabled() {
    let e = env();
    let root = e.organize();
    let account = e.new_account("dev");
    assert!(e.iam.rcp_levels(&account).unwrap().is_none());
    e.iam
        .enable_policy_type(&e.root(), &e.info, &root, RCP_TYPE)
        .unwrap();
    let levels = e.iam.rcp_levels(&account).unwrap().unwrap();
    assert_eq!(levels.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1]);
    assert!(e.iam.rcp_levels(MGMT).unwrap().is_none());
    let err = e
        .iam
        .detach_org_policy(&e.root(), &e.info, RCP_FULL_AWS_ACCESS, &account)
        .unwrap_err();
    assert_eq!(err.reason(), Some("NON_DETACHABLE_POLICY"));
}

#[test]
fn iam_policies_govern_organizations_calls() {
    let e = env();
    e.organize();
    let root = e.root();
    e.iam.create_user(&root, &e.info, "ops", None).unwrap();
    let key = e
        .iam
        .create_access_key(&root, &e.info, Some("ops"))
        .unwrap();
    let ops = e.iam.caller(&key.id).unwrap();
    let err = e.iam.list_accounts(&ops, &e.info).unwrap_err();
    assert_eq!(err.code(), "AccessDeniedException");
    assert_eq!(
        err.to_string(),
        format!("User: arn:aws:iam::{MGMT}:user/ops is not authorized to perform: organizations:ListAccounts on resource: * because no identity-based policy allows the organizations:ListAccounts action")
    );
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"organizations:ListAccounts","Resource":"*"},
        {"Effect":"Allow","Action":"organizations:DescribePolicy","Resource":"arn:aws:organizations::aws:policy/*"},
        {"Effect":"Allow","Action":"organizations:ListPolicies","Resource":"*",
         "Condition":{"StringEquals":{"organizations:PolicyType":"SERVICE_CONTROL_POLICY"}}}]}"#;
    e.iam
        .put_inline_policy(&root, &e.info, iam::EntityKind::User, "ops", "org", policy)
        .unwrap();
    let ops = e.again(&ops);
    assert_eq!(e.iam.list_accounts(&ops, &e.info).unwrap().len(), 1);
    assert!(e
        .iam
        .describe_org_policy(&ops, &e.info, FULL_AWS_ACCESS)
        .is_ok());
    assert!(e.iam.list_org_policies(&ops, &e.info, SCP_TYPE).is_ok());
    let err = e
        .iam
        .list_org_policies(&ops, &e.info, RCP_TYPE)
        .unwrap_err();
    assert_eq!(err.code(), "AccessDeniedException");
    let account = e.new_account("dev");
    let admin = e.admin_of(&account);
    let err = e
        .iam
        .create_organization(&admin, &e.info, None)
        .unwrap_err();
    assert_eq!(err.code(), "AlreadyInOrganizationException");
}
