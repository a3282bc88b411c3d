//! IAM's Query API: parameters in, AWS's XML shapes out.

use crate::protocol::{ApiError, Call, Params, Reply};
use crate::server::{AppState, IAM_NAMESPACE};
use crate::xml::{query_response, Xml};
use iam::ids::iso8601;
use iam::model::{self, Group, ManagedPolicy, PolicyVersion, Role, User};
use iam::{EntityKind, Permissions};

pub fn handle(state: &AppState, call: &Call, p: &Params) -> Result<Reply, ApiError> {
    let iam = &state.iam;
    let (c, i) = (call.caller.as_ref(), &call.info);
    let mut x = Xml::default();
    match call.action.as_str() {
        "CreateUser" => user(
            &mut x,
            &iam.create_user(c, i, p.required("UserName")?, p.get("Path"))?,
        ),
        "GetUser" => {
            let u = iam.get_user(c, i, p.get("UserName"))?;
            x.open("User");
            user_fields(&mut x, &u);
            optional_tags(&mut x, &u.tags);
            x.close("User");
        }
        "ListUsers" => {
            x.open("Users");
            for u in iam.list_users(c, i, p.get("PathPrefix"))? {
                x.open("member");
                user_fields(&mut x, &u);
                x.close("member");
            }
            x.close("Users").leaf("IsTruncated", "false");
        }
        "DeleteUser" => iam.delete_user(c, i, p.required("UserName")?)?,
        "CreateAccessKey" => {
            let k = iam.create_access_key(c, i, p.get("UserName"))?;
            x.open("AccessKey")
                .leaf("UserName", &k.user)
                .leaf("AccessKeyId", &k.id)
                .leaf("Status", "Active")
                .leaf_opt("SecretAccessKey", k.secret.as_deref())
                .leaf("CreateDate", &iso8601(k.created_ms))
                .close("AccessKey");
        }
        "ListAccessKeys" => {
            let keys = iam.list_access_keys(c, i, p.get("UserName"))?;
            x.open("AccessKeyMetadata");
            for k in keys {
                x.open("member")
                    .leaf("UserName", &k.user)
                    .leaf("AccessKeyId", &k.id)
                    .leaf("Status", if k.active { "Active" } else { "Inactive" })
                    .leaf("CreateDate", &iso8601(k.created_ms))
                    .close("member");
            }
            x.close("AccessKeyMetadata").leaf("IsTruncated", "false");
        }
        "UpdateAccessKey" => {
            let active = match p.required("Status")? {
                "Active" => true,
                "Inactive" => false,
                other => return Err(ApiError::new(400, "ValidationError", format!("1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"))),
            };
            iam.update_access_key(c, i, p.get("UserName"), p.required("AccessKeyId")?, active)?;
        }
        "DeleteAccessKey" => {
            iam.delete_access_key(c, i, p.get("UserName"), p.required("AccessKeyId")?)?
        }
        "CreateGroup" => group(
            &mut x,
            &iam.create_group(c, i, p.required("GroupName")?, p.get("Path"))?,
        ),
        "GetGroup" => {
            let (g, members) = iam.get_group(c, i, p.required("GroupName")?)?;
            group(&mut x, &g);
            x.open("Users");
            for u in members {
                x.open("member");
                user_fields(&mut x, &u);
                x.close("member");
            }
            x.close("Users").leaf("IsTruncated", "false");
        }
        "ListGroups" => groups(&mut x, iam.list_groups(c, i, p.get("PathPrefix"))?),
        "ListGroupsForUser" => groups(
            &mut x,
            iam.list_groups_for_user(c, i, p.required("UserName")?)?,
        ),
        "DeleteGroup" => iam.delete_group(c, i, p.required("GroupName")?)?,
        "TagUser" | "TagRole" => {
            let (kind, name) = tag_target(call, p)?;
            iam.tag_entity(c, i, kind, name, &tag_list(p))?;
        }
        "UntagUser" | "UntagRole" => {
            let (kind, name) = tag_target(call, p)?;
            let keys: Vec<String> = p
                .members("TagKeys")
                .into_iter()
                .map(str::to_string)
                .collect();
            iam.untag_entity(c, i, kind, name, &keys)?;
        }
        "ListUserTags" | "ListRoleTags" => {
            let (kind, name) = tag_target(call, p)?;
            tags(&mut x, &iam.list_entity_tags(c, i, kind, name)?);
            x.leaf("IsTruncated", "false");
        }
        "SimulatePrincipalPolicy" | "SimulateCustomPolicy" => {
            return crate::simulate_api::handle(state, call, p)
        }
        "GetAccountAuthorizationDetails" | "ListEntitiesForPolicy" | "GetAccountSummary" => {
            return crate::iam_details_api::handle(state, call, p)
        }
        "AddUserToGroup" => {
            iam.add_user_to_group(c, i, p.required("GroupName")?, p.required("UserName")?)?
        }
        "RemoveUserFromGroup" => {
            iam.remove_user_from_group(c, i, p.required("GroupName")?, p.required("UserName")?)?
        }
        "CreateRole" => {
            let max = p
                .integer("MaxSessionDuration")?
                .map(|v| u32::try_from(v).unwrap_or(0));
            let r = iam.create_role(
                c,
                i,
                p.required("RoleName")?,
                p.get("Path"),
                p.required("AssumeRolePolicyDocument")?,
                p.get("Description").unwrap_or(""),
                max,
            )?;
            role(&mut x, &r);
        }
        "GetRole" => {
            let r = iam.get_role(c, i, p.required("RoleName")?)?;
            x.open("Role");
            role_fields(&mut x, &r);
            optional_tags(&mut x, &r.tags);
            x.close("Role");
        }
        "ListRoles" => {
            x.open("Roles");
            for r in iam.list_roles(c, i, p.get("PathPrefix"))? {
                x.open("member");
                role_fields(&mut x, &r);
                x.close("member");
            }
            x.close("Roles").leaf("IsTruncated", "false");
        }
        "DeleteRole" => iam.delete_role(c, i, p.required("RoleName")?)?,
        "UpdateAssumeRolePolicy" => iam.update_assume_role_policy(
            c,
            i,
            p.required("RoleName")?,
            p.required("PolicyDocument")?,
        )?,
        "CreatePolicy" => {
            let m = iam.create_policy(
                c,
                i,
                p.required("PolicyName")?,
                p.get("Path"),
                p.required("PolicyDocument")?,
                p.get("Description").unwrap_or(""),
            )?;
            managed(&mut x, &m);
        }
        "GetPolicy" => managed(&mut x, &iam.get_policy(c, i, p.required("PolicyArn")?)?),
        "DeletePolicy" => iam.delete_policy(c, i, p.required("PolicyArn")?)?,
        "ListPolicies" => {
            x.open("Policies");
            for m in iam.list_policies(c, i, p.get("Scope").unwrap_or("All"))? {
                x.open("member");
                managed_fields(&mut x, &m);
                x.close("member");
            }
            x.close("Policies").leaf("IsTruncated", "false");
        }
        "CreatePolicyVersion" => {
            let v = iam.create_policy_version(
                c,
                i,
                p.required("PolicyArn")?,
                p.required("PolicyDocument")?,
                p.boolean("SetAsDefault"),
            )?;
            version(&mut x, &v, p.boolean("SetAsDefault"));
        }
        "GetPolicyVersion" => {
            let arn = p.required("PolicyArn")?;
            let v = iam.get_policy_version(c, i, arn, p.required("VersionId")?)?;
            let is_default = iam.managed_policy(arn)?.default_version == v.id;
            version(&mut x, &v, is_default);
        }
        "ListPolicyVersions" => {
            let m = iam.get_policy(c, i, p.required("PolicyArn")?)?;
            x.open("Versions");
            for v in &m.versions {
                x.open("member")
                    .leaf("VersionId", &v.id)
                    .leaf("IsDefaultVersion", bool_text(v.id == m.default_version))
                    .leaf("CreateDate", &iso8601(v.created_ms))
                    .close("member");
            }
            x.close("Versions").leaf("IsTruncated", "false");
        }
        "SetDefaultPolicyVersion" => iam.set_default_policy_version(
            c,
            i,
            p.required("PolicyArn")?,
            p.required("VersionId")?,
        )?,
        "DeletePolicyVersion" => {
            iam.delete_policy_version(c, i, p.required("PolicyArn")?, p.required("VersionId")?)?
        }
        action => return entity_action(state, call, p, action),
    }
    Ok(Reply::xml(query_response(
        IAM_NAMESPACE,
        &call.action,
        &x.into_string(),
        &call.request_id,
    )))
}

/// The per-entity actions that exist for users, groups and roles alike.
fn entity_action(
    state: &AppState,
    call: &Call,
    p: &Params,
    action: &str,
) -> Result<Reply, ApiError> {
    let iam = &state.iam;
    let (c, i) = (call.caller.as_ref(), &call.info);
    let (verb, kind, noun) =
        split_entity_action(action).ok_or_else(|| ApiError::invalid_action(action, p))?;
    let entity = p.required(&format!("{}Name", kind.title()))?;
    let mut x = Xml::default();
    match (verb, noun) {
        ("Put", "Policy") => iam.put_inline_policy(
            c,
            i,
            kind,
            entity,
            p.required("PolicyName")?,
            p.required("PolicyDocument")?,
        )?,
        ("Delete", "Policy") => {
            iam.delete_inline_policy(c, i, kind, entity, p.required("PolicyName")?)?
        }
        ("Get", "Policy") => {
            let name = p.required("PolicyName")?;
            let doc = iam.get_inline_policy(c, i, kind, entity, name)?;
            x.leaf(&format!("{}Name", kind.title()), entity)
                .leaf("PolicyName", name)
                .leaf("PolicyDocument", &url_encode(&doc));
        }
        ("List", "Policies") => {
            let perms = iam.list_entity_policies(c, i, kind, entity, false)?;
            x.open("PolicyNames");
            for name in perms.inline.keys() {
                x.leaf("member", name);
            }
            x.close("PolicyNames").leaf("IsTruncated", "false");
        }
        ("ListAttached", "Policies") => {
            let perms = iam.list_entity_policies(c, i, kind, entity, true)?;
            attached(&mut x, &perms);
        }
        ("Attach", "Policy") => iam.attach_policy(c, i, kind, entity, p.required("PolicyArn")?)?,
        ("Detach", "Policy") => iam.detach_policy(c, i, kind, entity, p.required("PolicyArn")?)?,
        ("Put", "PermissionsBoundary") => {
            iam.set_boundary(c, i, kind, entity, Some(p.required("PermissionsBoundary")?))?
        }
        ("Delete", "PermissionsBoundary") => iam.set_boundary(c, i, kind, entity, None)?,
        _ => return Err(ApiError::invalid_action(action, p)),
    }
    Ok(Reply::xml(query_response(
        IAM_NAMESPACE,
        action,
        &x.into_string(),
        &call.request_id,
    )))
}

/// `PutUserPolicy` → ("Put", User, "Policy"); `ListAttachedRolePolicies` → ("ListAttached", Role, "Policies").
fn split_entity_action(action: &str) -> Option<(&str, EntityKind, &str)> {
    for verb in [
        "ListAttached",
        "Attach",
        "Detach",
        "Put",
        "Get",
        "Delete",
        "List",
    ] {
        let Some(rest) = action.strip_prefix(verb) else {
            continue;
        };
        for kind in [EntityKind::User, EntityKind::Group, EntityKind::Role] {
            if let Some(noun) = rest.strip_prefix(kind.title()) {
                if ["Policy", "Policies", "PermissionsBoundary"].contains(&noun) {
                    return Some((verb, kind, noun));
                }
            }
        }
    }
    None
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// Percent-encodes a policy document as IAM returns it (botocore decodes it).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn user(x: &mut Xml, u: &User) {
    x.open("User");
    user_fields(x, u);
    x.close("User");
}

fn user_fields(x: &mut Xml, u: &User) {
    x.leaf("Path", &u.path)
        .leaf("UserName", &u.name)
        .leaf("UserId", &u.id)
        .leaf("Arn", &model::iam_arn(&u.account, "user", &u.path, &u.name))
        .leaf("CreateDate", &iso8601(u.created_ms));
    boundary(x, u.boundary.as_deref());
}

pub(crate) fn boundary(x: &mut Xml, arn: Option<&str>) {
    if let Some(arn) = arn {
        x.open("PermissionsBoundary")
            .leaf("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .leaf("PermissionsBoundaryArn", arn)
            .close("PermissionsBoundary");
    }
}

/// `<Tags><member><Key/><Value/></member>…</Tags>`.
pub(crate) fn tags(x: &mut Xml, tags: &[(String, String)]) {
    x.open("Tags");
    for (k, v) in tags {
        x.open("member")
            .leaf("Key", k)
            .leaf("Value", v)
            .close("member");
    }
    x.close("Tags");
}

/// `Tags` only when there are some, as IAM's Get and report operations return them.
pub(crate) fn optional_tags(x: &mut Xml, list: &[(String, String)]) {
    if !list.is_empty() {
        tags(x, list);
    }
}

/// The user or role a tag action addresses.
fn tag_target<'p>(call: &Call, p: &'p Params) -> Result<(EntityKind, &'p str), ApiError> {
    if call.action.contains("User") {
        Ok((EntityKind::User, p.required("UserName")?))
    } else {
        Ok((EntityKind::Role, p.required("RoleName")?))
    }
}

/// `Tags.member.N.Key` / `Tags.member.N.Value`.
fn tag_list(p: &Params) -> Vec<(String, String)> {
    p.structs("Tags")
        .iter()
        .map(|t| {
            (
                t.get("Key").unwrap_or_default().to_string(),
                t.get("Value").unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn groups(x: &mut Xml, groups: Vec<Group>) {
    x.open("Groups");
    for g in &groups {
        x.open("member");
        group_fields(x, g);
        x.close("member");
    }
    x.close("Groups").leaf("IsTruncated", "false");
}

fn group(x: &mut Xml, g: &Group) {
    x.open("Group");
    group_fields(x, g);
    x.close("Group");
}

fn group_fields(x: &mut Xml, g: &Group) {
    x.leaf("Path", &g.path)
        .leaf("GroupName", &g.name)
        .leaf("GroupId", &g.id)
        .leaf(
            "Arn",
            &model::iam_arn(&g.account, "group", &g.path, &g.name),
        )
        .leaf("CreateDate", &iso8601(g.created_ms));
}

fn role(x: &mut Xml, r: &Role) {
    x.open("Role");
    role_fields(x, r);
    x.close("Role");
}

fn role_fields(x: &mut Xml, r: &Role) {
    x.leaf("Path", &r.path)
        .leaf("RoleName", &r.name)
        .leaf("RoleId", &r.id)
        .leaf("Arn", &model::iam_arn(&r.account, "role", &r.path, &r.name))
        .leaf("CreateDate", &iso8601(r.created_ms))
        .leaf("AssumeRolePolicyDocument", &url_encode(&r.trust_policy))
        .leaf("Description", &r.description)
        .leaf("MaxSessionDuration", &r.max_session_duration.to_string());
    boundary(x, r.boundary.as_deref());
}

fn managed(x: &mut Xml, m: &ManagedPolicy) {
    x.open("Policy");
    managed_fields(x, m);
    x.close("Policy");
}

fn managed_fields(x: &mut Xml, m: &ManagedPolicy) {
    x.leaf("PolicyName", &m.name)
        .leaf("PolicyId", &m.id)
        .leaf("Arn", &m.arn)
        .leaf("Path", &m.path)
        .leaf("DefaultVersionId", &m.default_version)
        .leaf("IsAttachable", "true")
        .leaf("Description", &m.description)
        .leaf("CreateDate", &iso8601(m.created_ms))
        .leaf("UpdateDate", &iso8601(m.updated_ms));
}

fn version(x: &mut Xml, v: &PolicyVersion, is_default: bool) {
    x.open("PolicyVersion")
        .leaf("Document", &url_encode(&v.document))
        .leaf("VersionId", &v.id)
        .leaf("IsDefaultVersion", bool_text(is_default))
        .leaf("CreateDate", &iso8601(v.created_ms))
        .close("PolicyVersion");
}

fn attached(x: &mut Xml, perms: &Permissions) {
    x.open("AttachedPolicies");
    for arn in &perms.attached {
        let name = arn.rsplit('/').next().unwrap_or(arn);
        x.open("member")
            .leaf("PolicyName", name)
            .leaf("PolicyArn", arn)
            .close("member");
    }
    x.close("AttachedPolicies").leaf("IsTruncated", "false");
}
