//! The policy simulator through the IAM service: which policies are simulated for a
//! user, group or role, and the AWS-shaped details of every evaluation result.

use iam::simulate::{ContextEntry, EvaluationResult, SimulationInput};
use iam::{Caller, EntityKind, Iam, RequestInfo};
use policy::Outcome;
use std::sync::Arc;

const ACCOUNT: &str = "111122223333";
const ROOT_KEY: &str = "AKIAROOTKEY000000001";

struct Fixture {
    iam: Iam,
    root: Arc<Caller>,
    info: RequestInfo,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let backend = store::SqliteBackend::open(dir.path()).unwrap();
    let store = store::Store::new(Arc::new(backend));
    let key = store::MasterKey::load(dir.path(), None).unwrap();
    let iam = Iam::new(store, key);
    iam.bootstrap(ACCOUNT, ROOT_KEY, "root-secret").unwrap();
    let root = iam.caller(ROOT_KEY).unwrap();
    Fixture {
        iam,
        root,
        info: RequestInfo::default(),
        _dir: dir,
    }
}

const SEND_FROM_BOB: &str = r#"{"Version":"2012-10-17","Statement":{"Sid":"Send","Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*","Condition":{"StringEquals":{"ses:FromAddress":"bob@example.com"}}}}"#;
const SES_ONLY: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ses:*","Resource":"*"}}"#;
const DENY_BLOCKED: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendEmail","Resource":"*"},
  {"Effect":"Deny","Action":"ses:Send*","Resource":"arn:aws:ses:us-east-1:111122223333:identity/blocked.example"}]}"#;

/// bob: inline SEND_FROM_BOB; group `admins` with AdministratorAccess attached and
/// DENY_BLOCKED inline; permissions boundary `ses-only` (ses:*).
fn bob(f: &Fixture) {
    let (iam, root, info) = (&f.iam, f.root.as_ref(), &f.info);
    iam.create_user(root, info, "bob", None).unwrap();
    iam.put_inline_policy(root, info, EntityKind::User, "bob", "send", SEND_FROM_BOB)
        .unwrap();
    iam.create_group(root, info, "admins", None).unwrap();
    iam.add_user_to_group(root, info, "admins", "bob").unwrap();
    iam.attach_policy(
        root,
        info,
        EntityKind::Group,
        "admins",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    )
    .unwrap();
    iam.put_inline_policy(
        root,
        info,
        EntityKind::Group,
        "admins",
        "blocked",
        DENY_BLOCKED,
    )
    .unwrap();
    let boundary = iam
        .create_policy(root, info, "ses-only", None, SES_ONLY, "")
        .unwrap();
    iam.set_boundary(root, info, EntityKind::User, "bob", Some(&boundary.arn))
        .unwrap();
}

fn input(actions: &[&str]) -> SimulationInput {
    SimulationInput {
        action_names: actions.iter().map(|a| a.to_string()).collect(),
        ..SimulationInput::default()
    }
}

fn from_bob() -> ContextEntry {
    ContextEntry {
        key: "ses:FromAddress".into(),
        values: vec!["bob@example.com".into()],
        kind: Some("string".into()),
    }
}

fn simulate_bob(f: &Fixture, input: &SimulationInput) -> Vec<EvaluationResult> {
    f.iam
        .simulate_principal_policy(
            &f.root,
            &f.info,
            "arn:aws:iam::111122223333:user/bob",
            input,
        )
        .unwrap()
}

#[test]
fn user_allowed_by_its_inline_policy_with_positions_and_boundary_detail() {
    let f = fixture();
    bob(&f);
    let mut request = input(&["ses:SendRawEmail", "iam:CreateUser"]);
    request.context_entries = vec![from_bob()];
    let results = simulate_bob(&f, &request);
    assert_eq!(results.len(), 2);
    let send = &results[0];
    assert_eq!(
        (send.action.as_str(), send.resource.as_str()),
        ("ses:SendRawEmail", "*")
    );
    assert_eq!(send.decision, Outcome::Allowed);
    // Every identity Allow that applies: bob's own, then his group's managed policy.
    let ids: Vec<_> = send
        .matched
        .iter()
        .map(|m| (m.source_policy_id.as_str(), m.source_policy_type))
        .collect();
    assert_eq!(
        ids,
        [("send", "user"), ("AdministratorAccess", "aws-managed")]
    );
    let m = &send.matched[0];
    let span = m.span.unwrap();
    assert_eq!((span.start.line, span.start.col), (1, 38));
    assert_eq!(span.end.col as usize, SEND_FROM_BOB.len());
    assert!(send.missing_context.is_empty());
    assert_eq!(send.allowed_by_boundary, Some(true));
    assert_eq!(send.allowed_by_organizations, None);
    assert_eq!(send.decision_details, None);

    // The group's AdministratorAccess allows iam:CreateUser, the boundary does not.
    let create = &results[1];
    assert_eq!(create.decision, Outcome::ImplicitDeny);
    assert!(create.matched.is_empty());
    assert_eq!(create.allowed_by_boundary, Some(false));
}

#[test]
fn missing_context_values_name_the_keys_the_request_lacks() {
    let f = fixture();
    bob(&f);
    let results = simulate_bob(&f, &input(&["ses:SendRawEmail"]));
    // Allowed by the group's AdministratorAccess; bob's own statement could not be
    // decided without ses:FromAddress.
    assert_eq!(results[0].decision, Outcome::Allowed);
    assert_eq!(results[0].missing_context, ["ses:FromAddress"]);
    let ids: Vec<_> = results[0]
        .matched
        .iter()
        .map(|m| m.source_policy_id.as_str())
        .collect();
    assert_eq!(ids, ["AdministratorAccess"]);
}

#[test]
fn explicit_deny_from_a_group_policy_on_a_named_resource() {
    let f = fixture();
    bob(&f);
    let mut request = input(&["ses:SendRawEmail"]);
    request.context_entries = vec![from_bob()];
    request.resource_arns = vec![
        "arn:aws:ses:us-east-1:111122223333:identity/blocked.example".into(),
        "arn:aws:ses:us-east-1:111122223333:identity/ok.example".into(),
    ];
    let results = simulate_bob(&f, &request);
    assert_eq!(results.len(), 2);
    let blocked = &results[0];
    assert_eq!(blocked.decision, Outcome::ExplicitDeny);
    let ids: Vec<_> = blocked
        .matched
        .iter()
        .map(|m| (m.source_policy_id.as_str(), m.source_policy_type))
        .collect();
    assert_eq!(ids, [("blocked", "group")]);
    let span = blocked.matched[0].span.unwrap();
    assert_eq!((span.start.line, span.start.col), (2, 4));
    // Same-account resource: details present but empty.
    assert_eq!(blocked.decision_details, Some(Vec::new()));
    assert_eq!(results[1].decision, Outcome::Allowed);
}

#[test]
fn custom_policy_with_boundary_input_resource_policy_and_cross_account_details() {
    let f = fixture();
    let resource_policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/carol"},"Action":"ses:SendEmail","Resource":"*"}}"#;
    let request = SimulationInput {
        action_names: vec!["ses:SendEmail".into(), "ses:DeleteIdentity".into()],
        resource_arns: vec!["arn:aws:ses:us-east-1:999999999999:identity/x.example".into()],
        policy_inputs: vec![SES_ONLY.into()],
        boundary_inputs: vec![
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["ses:Send*","ses:DeleteIdentity"],"Resource":"*"}}"#.into(),
        ],
        resource_policy: Some(resource_policy.into()),
        caller_arn: Some("arn:aws:iam::111122223333:user/carol".into()),
        ..SimulationInput::default()
    };
    let results = f
        .iam
        .simulate_custom_policy(&f.root, &f.info, &request)
        .unwrap();
    let send = &results[0];
    assert_eq!(send.decision, Outcome::Allowed);
    let ids: Vec<_> = send
        .matched
        .iter()
        .map(|m| (m.source_policy_id.as_str(), m.source_policy_type))
        .collect();
    assert_eq!(
        ids,
        [
            ("ResourcePolicy", "resource"),
            ("PolicyInputList.1", "none")
        ]
    );
    assert_eq!(send.allowed_by_boundary, Some(true));
    assert_eq!(
        send.decision_details,
        Some(vec![
            ("IAM Policy", Outcome::Allowed),
            ("Resource Policy", Outcome::Allowed)
        ])
    );
    // The other account's resource policy does not grant DeleteIdentity.
    let delete = &results[1];
    assert_eq!(delete.decision, Outcome::ImplicitDeny);
    assert_eq!(
        delete.decision_details,
        Some(vec![
            ("IAM Policy", Outcome::Allowed),
            ("Resource Policy", Outcome::ImplicitDeny)
        ])
    );
}

#[test]
fn group_and_role_sources_and_bad_inputs() {
    let f = fixture();
    bob(&f);
    let (iam, root, info) = (&f.iam, f.root.as_ref(), &f.info);
    let results = iam
        .simulate_principal_policy(
            root,
            info,
            "arn:aws:iam::111122223333:group/admins",
            &input(&["iam:CreateUser"]),
        )
        .unwrap();
    assert_eq!(results[0].decision, Outcome::Allowed);
    assert_eq!(
        results[0].matched[0].source_policy_id,
        "AdministratorAccess"
    );
    assert_eq!(results[0].matched[0].source_policy_type, "aws-managed");
    assert_eq!(results[0].allowed_by_boundary, None);

    let trust = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ses.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
    iam.create_role(root, info, "sender", None, trust, "", None)
        .unwrap();
    iam.put_inline_policy(root, info, EntityKind::Role, "sender", "ses", SES_ONLY)
        .unwrap();
    let results = iam
        .simulate_principal_policy(
            root,
            info,
            "arn:aws:iam::111122223333:role/sender",
            &input(&["ses:SendEmail"]),
        )
        .unwrap();
    assert_eq!(results[0].matched[0].source_policy_type, "role");

    let missing = iam.simulate_principal_policy(
        root,
        info,
        "arn:aws:iam::111122223333:user/nobody",
        &input(&["ses:SendEmail"]),
    );
    assert_eq!(missing.unwrap_err().code(), "NoSuchEntity");
    let bad_action = iam.simulate_principal_policy(
        root,
        info,
        "arn:aws:iam::111122223333:user/bob",
        &input(&["SendEmail"]),
    );
    assert_eq!(bad_action.unwrap_err().code(), "InvalidInput");
    let mut bad_policy = input(&["ses:SendEmail"]);
    bad_policy.policy_inputs = vec!["{not json".into()];
    let err = iam
        .simulate_custom_policy(root, info, &bad_policy)
        .unwrap_err();
    assert_eq!(err.code(), "InvalidInput");
}

#[test]
fn simulating_needs_permission() {
    let f = fixture();
    bob(&f);
    let (iam, root, info) = (&f.iam, f.root.as_ref(), &f.info);
    iam.create_user(root, info, "eve", None).unwrap();
    let key = iam.create_access_key(root, info, Some("eve")).unwrap();
    let eve = iam.caller(&key.id).unwrap();
    let err = iam
        .simulate_principal_policy(
            &eve,
            info,
            "arn:aws:iam::111122223333:user/bob",
            &input(&["ses:SendEmail"]),
        )
        .unwrap_err();
    assert_eq!(err.code(), "AccessDenied");
    assert!(err.to_string().contains("iam:SimulatePrincipalPolicy"));
    let err = iam
        .simulate_custom_policy(&eve, info, &{
            let mut i = input(&["ses:SendEmail"]);
            i.policy_inputs = vec![SES_ONLY.into()];
            i
        })
        .unwrap_err();
    assert!(err.to_string().contains("iam:SimulateCustomPolicy"));
}

#[test]
fn service_control_policies_show_in_organizations_detail() {
    let f = fixture();
    let (iam, root, info) = (&f.iam, f.root.as_ref(), &f.info);
    iam.create_organization(root, info, None).unwrap();
    let org_root = iam.list_roots(root, info).unwrap().remove(0);
    let scp_type = "SERVICE_CONTROL_POLICY";
    if !org_root.policy_types.iter().any(|t| t == scp_type) {
        iam.enable_policy_type(root, info, &org_root.id, scp_type)
            .unwrap();
    }
    let created = iam
        .create_account(
            root,
            info,
            &iam::org::NewAccount {
                email: "member@example.com",
                name: "member",
                role_name: None,
                iam_user_access_to_billing: None,
            },
        )
        .unwrap();
    let member = created.account_id.unwrap();
    let scp = iam
        .create_org_policy(
            root,
            info,
            &iam::org::NewPolicy {
                name: "no-raw",
                description: "",
                content: r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ses:SendRawEmail","Resource":"*"}}"#,
                kind: "SERVICE_CONTROL_POLICY",
            },
        )
        .unwrap();
    iam.attach_org_policy(root, info, &scp.id, &member).unwrap();
    let creds = iam
        .assume_role(
            root,
            info,
            &format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole"),
            "admin",
            None,
            None,
        )
        .unwrap();
    let admin = iam.caller(&creds.access_key_id).unwrap();
    iam.create_user(&admin, info, "bob", None).unwrap();
    iam.put_inline_policy(&admin, info, EntityKind::User, "bob", "ses", SES_ONLY)
        .unwrap();
    let results = iam
        .simulate_principal_policy(
            &admin,
            info,
            &format!("arn:aws:iam::{member}:user/bob"),
            &input(&["ses:SendRawEmail", "ses:SendEmail"]),
        )
        .unwrap();
    let raw = &results[0];
    assert_eq!(raw.decision, Outcome::ExplicitDeny);
    assert_eq!(raw.allowed_by_organizations, Some(false));
    assert_eq!(raw.matched.len(), 1);
    assert_eq!(raw.matched[0].source_policy_id, scp.id);
    assert_eq!(raw.matched[0].source_policy_type, "none");
    let send = &results[1];
    assert_eq!(send.decision, Outcome::Allowed);
    assert_eq!(send.allowed_by_organizations, Some(true));
}
