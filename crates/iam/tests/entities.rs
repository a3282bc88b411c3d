//! Groups (GetGroup, ListGroupsForUser, DeleteGroup's conflicts), user and role tags
//! (and their effect on `aws:PrincipalTag`), and the account-wide reports.

use iam::{EntityKind, Iam, RequestInfo};
use std::sync::Arc;

const ACCOUNT: &str = "111122223333";
const ROOT_KEY: &str = "AKIAROOTKEY000000001";

fn iam() -> (Iam, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let backend = store::SqliteBackend::open(dir.path()).unwrap();
    let store = store::Store::new(Arc::new(backend));
    let key = store::MasterKey::load(dir.path(), None).unwrap();
    let iam = Iam::new(store, key);
    iam.bootstrap(ACCOUNT, ROOT_KEY, "root-secret").unwrap();
    (iam, dir)
}

fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn groups_list_their_members_and_refuse_deletion_while_used() {
    let (iam, _dir) = iam();
    let root = iam.caller(ROOT_KEY).unwrap();
    let info = RequestInfo::default();
    iam.create_user(&root, &info, "ann", None).unwrap();
    iam.create_group(&root, &info, "ops", Some("/team/"))
        .unwrap();
    iam.create_group(&root, &info, "dev", None).unwrap();
    iam.add_user_to_group(&root, &info, "OPS", "ann").unwrap();
    let (group, members) = iam.get_group(&root, &info, "ops").unwrap();
    assert_eq!(group.path, "/team/");
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].name, "ann");
    let names = |groups: Vec<iam::model::Group>| -> Vec<String> {
        groups.into_iter().map(|g| g.name).collect()
    };
    assert_eq!(
        names(iam.list_groups_for_user(&root, &info, "ann").unwrap()),
        ["ops"]
    );
    assert_eq!(
        names(iam.list_groups(&root, &info, Some("/team/")).unwrap()),
        ["ops"]
    );
    assert_eq!(iam.list_groups(&root, &info, None).unwrap().len(), 2);

    let err = iam.delete_group(&root, &info, "ops").unwrap_err();
    assert_eq!(err.code(), "DeleteConflict");
    assert!(err.to_string().contains("remove users from group"));
    iam.remove_user_from_group(&root, &info, "ops", "ann")
        .unwrap();
    iam.put_inline_policy(
        &root,
        &info,
        EntityKind::Group,
        "ops",
        "p",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ses:*","Resource":"*"}}"#,
    )
    .unwrap();
    let err = iam.delete_group(&root, &info, "ops").unwrap_err();
    assert!(err.to_string().contains("delete policies"));
    iam.delete_inline_policy(&root, &info, EntityKind::Group, "ops", "p")
        .unwrap();
    iam.delete_group(&root, &info, "ops").unwrap();
    assert_eq!(
        iam.get_group(&root, &info, "ops").unwrap_err().code(),
        "NoSuchEntity"
    );
}

#[test]
fn tags_replace_case_insensitively_and_feed_principal_tags() {
    let (iam, _dir) = iam();
    let root = iam.caller(ROOT_KEY).unwrap();
    let info = RequestInfo::default();
    iam.create_user(&root, &info, "ann", None).unwrap();
    iam.put_inline_policy(
        &root,
        &info,
        EntityKind::User,
        "ann",
        "by-team",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"mail"}}}}"#,
    )
    .unwrap();
    let key = iam.create_access_key(&root, &info, Some("ann")).unwrap();
    let ann = iam.caller(&key.id).unwrap();
    assert!(iam.get_user(&ann, &info, None).is_err());

    iam.tag_entity(
        &root,
        &info,
        EntityKind::User,
        "ann",
        &tags(&[("team", "web"), ("cost", "1")]),
    )
    .unwrap();
    iam.tag_entity(
        &root,
        &info,
        EntityKind::User,
        "ann",
        &tags(&[("Team", "mail")]),
    )
    .unwrap();
    assert_eq!(
        iam.list_entity_tags(&root, &info, EntityKind::User, "ann")
            .unwrap(),
        tags(&[("team", "mail"), ("cost", "1")])
    );
    let ann = iam.caller(&key.id).unwrap();
    assert!(iam.get_user(&ann, &info, None).is_ok());

    iam.untag_entity(
        &root,
        &info,
        EntityKind::User,
        "ann",
        &["COST".to_string(), "absent".to_string()],
    )
    .unwrap();
    assert_eq!(
        iam.list_entity_tags(&root, &info, EntityKind::User, "ann")
            .unwrap(),
        tags(&[("team", "mail")])
    );

    let bad = |t: &[(&str, &str)]| {
        iam.tag_entity(&root, &info, EntityKind::User, "ann", &tags(t))
            .unwrap_err()
            .code()
    };
    assert_eq!(bad(&[]), "ValidationError");
    assert_eq!(bad(&[("a", "1"), ("A", "2")]), "InvalidInput");
    assert_eq!(bad(&[("aws:x", "1")]), "InvalidInput");
    assert_eq!(bad(&[("bad*key", "1")]), "ValidationError");
    let many: Vec<(String, String)> = (0..50).map(|i| (format!("k{i}"), String::new())).collect();
    let err = iam
        .tag_entity(&root, &info, EntityKind::User, "ann", &many)
        .unwrap_err();
    assert_eq!(err.code(), "LimitExceeded");
    assert_eq!(
        iam.tag_entity(&root, &info, EntityKind::Role, "nope", &tags(&[("a", "b")]))
            .unwrap_err()
            .code(),
        "NoSuchEntity"
    );
}

#[test]
fn tagging_is_authorized_with_request_tags() {
    let (iam, _dir) = iam();
    let root = iam.caller(ROOT_KEY).unwrap();
    let info = RequestInfo::default();
    iam.create_user(&root, &info, "ann", None).unwrap();
    iam.create_user(&root, &info, "tagger", None).unwrap();
    iam.put_inline_policy(
        &root,
        &info,
        EntityKind::User,
        "tagger",
        "only-team",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:TagUser","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}}}"#,
    )
    .unwrap();
    let key = iam.create_access_key(&root, &info, Some("tagger")).unwrap();
    let tagger = iam.caller(&key.id).unwrap();
    iam.tag_entity(
        &tagger,
        &info,
        EntityKind::User,
        "ann",
        &tags(&[("team", "x")]),
    )
    .unwrap();
    let err = iam
        .tag_entity(
            &tagger,
            &info,
            EntityKind::User,
            "ann",
            &tags(&[("cost", "1")]),
        )
        .unwrap_err();
    assert_eq!(err.code(), "AccessDenied");
}

#[test]
fn authorization_details_and_entities_for_policy() {
    let (iam, _dir) = iam();
    let root = iam.caller(ROOT_KEY).unwrap();
    let info = RequestInfo::default();
    let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ses:*","Resource":"*"}}"#;
    let local = iam
        .create_policy(&root, &info, "ses", None, doc, "")
        .unwrap();
    iam.create_user(&root, &info, "ann", None).unwrap();
    iam.attach_policy(&root, &info, EntityKind::User, "ann", &local.arn)
        .unwrap();
    iam.create_group(&root, &info, "g", None).unwrap();
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    iam.attach_policy(&root, &info, EntityKind::Group, "g", admin)
        .unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ses.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
    iam.create_role(&root, &info, "r", None, trust, "", None)
        .unwrap();
    iam.set_boundary(&root, &info, EntityKind::Role, "r", Some(&local.arn))
        .unwrap();

    let all = iam.authorization_details(&root, &info, &[]).unwrap();
    assert_eq!(
        (all.users.len(), all.groups.len(), all.roles.len()),
        (1, 1, 1)
    );
    let arns: Vec<(&str, usize, usize)> = all
        .policies
        .iter()
        .map(|p| (p.policy.arn.as_str(), p.attachment_count, p.boundary_count))
        .collect();
    assert_eq!(arns, [(admin, 1, 0), (local.arn.as_str(), 1, 1)]);
    let only_roles = iam
        .authorization_details(&root, &info, &["Role".to_string()])
        .unwrap();
    assert!(only_roles.users.is_empty() && only_roles.policies.is_empty());
    assert_eq!(only_roles.roles.len(), 1);
    assert_eq!(
        iam.authorization_details(&root, &info, &["Users".to_string()])
            .unwrap_err()
            .code(),
        "ValidationError"
    );

    let e = iam
        .entities_for_policy(&root, &info, &local.arn, None, None, None)
        .unwrap();
    assert_eq!(e.users.len(), 1);
    assert!(e.roles.is_empty());
    let e = iam
        .entities_for_policy(
            &root,
            &info,
            &local.arn,
            None,
            None,
            Some("PermissionsBoundary"),
        )
        .unwrap();
    assert_eq!(e.roles[0].0, "r");
    assert!(e.users.is_empty());
    let e = iam
        .entities_for_policy(&root, &info, admin, Some("Group"), None, None)
        .unwrap();
    assert_eq!(e.groups[0].0, "g");
    assert_eq!(
        iam.entities_for_policy(
            &root,
            &info,
            "arn:aws:iam::111122223333:policy/nope",
            None,
            None,
            None
        )
        .unwrap_err()
        .code(),
        "NoSuchEntity"
    );

    let summary = iam.account_summary(&root, &info).unwrap();
    let get = |k: &str| summary.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    assert_eq!(get("Users"), Some(1));
    assert_eq!(get("Policies"), Some(1));
    assert_eq!(get("AccountAccessKeysPresent"), Some(1));
}
