//! IAM's account-wide reports on the Query API: GetAccountAuthorizationDetails,
//! ListEntitiesForPolicy and GetAccountSummary. Policy documents are URL-encoded
//! (RFC 3986) as IAM returns them.

use crate::iam_api::{boundary, optional_tags, url_encode};
use crate::protocol::{ApiError, Call, Params, Reply};
use crate::server::{AppState, IAM_NAMESPACE};
use crate::xml::{query_response, Xml};
use iam::ids::iso8601;
use iam::model::{self, Group, Role, User};
use iam::{Permissions, PolicyUsage};
use std::collections::BTreeMap;

pub fn handle(state: &AppState, call: &Call, p: &Params) -> Result<Reply, ApiError> {
    let iam = &state.iam;
    let (c, i) = (call.caller.as_ref(), &call.info);
    let mut x = Xml::default();
    match call.action.as_str() {
        "GetAccountAuthorizationDetails" => {
            let filter: Vec<String> = p
                .members("Filter")
                .into_iter()
                .map(str::to_string)
                .collect();
            let d = iam.authorization_details(c, i, &filter)?;
            list(&mut x, "UserDetailList", &d.users, user_detail);
            list(&mut x, "GroupDetailList", &d.groups, group_detail);
            list(&mut x, "RoleDetailList", &d.roles, role_detail);
            list(&mut x, "Policies", &d.policies, policy_detail);
            x.leaf("IsTruncated", "false");
        }
        "ListEntitiesForPolicy" => {
            let e = iam.entities_for_policy(
                c,
                i,
                p.required("PolicyArn")?,
                p.get("EntityFilter"),
                p.get("PathPrefix"),
                p.get("PolicyUsageFilter"),
            )?;
            named(&mut x, "PolicyGroups", "Group", &e.groups);
            named(&mut x, "PolicyUsers", "User", &e.users);
            named(&mut x, "PolicyRoles", "Role", &e.roles);
            x.leaf("IsTruncated", "false");
        }
        "GetAccountSummary" => {
            x.open("SummaryMap");
            for (key, value) in iam.account_summary(c, i)? {
                x.open("entry")
                    .leaf("key", key)
                    .leaf("value", &value.to_string())
                    .close("entry");
            }
            x.close("SummaryMap");
        }
        other => return Err(ApiError::invalid_action(other, p)),
    }
    Ok(Reply::xml(query_response(
        IAM_NAMESPACE,
        &call.action,
        &x.into_string(),
        &call.request_id,
    )))
}

fn list<T>(x: &mut Xml, tag: &str, items: &[T], each: fn(&mut Xml, &T)) {
    x.open(tag);
    for item in items {
        x.open("member");
        each(x, item);
        x.close("member");
    }
    x.close(tag);
}

/// `PolicyUsers` and the like: `<member><UserName/><UserId/></member>`.
fn named(x: &mut Xml, tag: &str, word: &str, items: &[(String, String)]) {
    x.open(tag);
    for (name, id) in items {
        x.open("member")
            .leaf(&format!("{word}Name"), name)
            .leaf(&format!("{word}Id"), id)
            .close("member");
    }
    x.close(tag);
}

fn user_detail(x: &mut Xml, u: &User) {
    x.leaf("Path", &u.path)
        .leaf("UserName", &u.name)
        .leaf("UserId", &u.id)
        .leaf("Arn", &model::iam_arn(&u.account, "user", &u.path, &u.name))
        .leaf("CreateDate", &iso8601(u.created_ms));
    inline_policies(x, "UserPolicyList", &u.permissions.inline);
    x.open("GroupList");
    for g in &u.groups {
        x.leaf("member", g);
    }
    x.close("GroupList");
    attached_policies(x, &u.permissions);
    boundary(x, u.boundary.as_deref());
    optional_tags(x, &u.tags);
}

fn group_detail(x: &mut Xml, g: &Group) {
    x.leaf("Path", &g.path)
        .leaf("GroupName", &g.name)
        .leaf("GroupId", &g.id)
        .leaf(
            "Arn",
            &model::iam_arn(&g.account, "group", &g.path, &g.name),
        )
        .leaf("CreateDate", &iso8601(g.created_ms));
    inline_policies(x, "GroupPolicyList", &g.permissions.inline);
    attached_policies(x, &g.permissions);
}

fn role_detail(x: &mut Xml, r: &Role) {
    x.leaf("Path", &r.path)
        .leaf("RoleName", &r.name)
        .leaf("RoleId", &r.id)
        .leaf("Arn", &model::iam_arn(&r.account, "role", &r.path, &r.name))
        .leaf("CreateDate", &iso8601(r.created_ms))
        .leaf("AssumeRolePolicyDocument", &url_encode(&r.trust_policy));
    x.open("InstanceProfileList").close("InstanceProfileList");
    inline_policies(x, "RolePolicyList", &r.permissions.inline);
    attached_policies(x, &r.permissions);
    boundary(x, r.boundary.as_deref());
    optional_tags(x, &r.tags);
    x.open("RoleLastUsed").close("RoleLastUsed");
}

fn policy_detail(x: &mut Xml, u: &PolicyUsage) {
    let m = &u.policy;
    x.leaf("PolicyName", &m.name)
        .leaf("PolicyId", &m.id)
        .leaf("Arn", &m.arn)
        .leaf("Path", &m.path)
        .leaf("DefaultVersionId", &m.default_version)
        .leaf("AttachmentCount", &u.attachment_count.to_string())
        .leaf(
            "PermissionsBoundaryUsageCount",
            &u.boundary_count.to_string(),
        )
        .leaf("IsAttachable", "true")
        .leaf("Description", &m.description)
        .leaf("CreateDate", &iso8601(m.created_ms))
        .leaf("UpdateDate", &iso8601(m.updated_ms));
    x.open("PolicyVersionList");
    for v in &m.versions {
        x.open("member")
            .leaf("Document", &url_encode(&v.document))
            .leaf("VersionId", &v.id)
            .leaf(
                "IsDefaultVersion",
                if v.id == m.default_version {
                    "true"
                } else {
                    "false"
                },
            )
            .leaf("CreateDate", &iso8601(v.created_ms))
            .close("member");
    }
    x.close("PolicyVersionList");
}

fn inline_policies(x: &mut Xml, tag: &str, inline: &BTreeMap<String, String>) {
    x.open(tag);
    for (name, doc) in inline {
        x.open("member")
            .leaf("PolicyName", name)
            .leaf("PolicyDocument", &url_encode(doc))
            .close("member");
    }
    x.close(tag);
}

fn attached_policies(x: &mut Xml, perms: &Permissions) {
    x.open("AttachedManagedPolicies");
    for arn in &perms.attached {
        let name = arn.rsplit('/').next().unwrap_or(arn);
        x.open("member")
            .leaf("PolicyName", name)
            .leaf("PolicyArn", arn)
            .close("member");
    }
    x.close("AttachedManagedPolicies");
}
