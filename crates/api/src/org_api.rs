//! Organizations' JSON 1.1 API: reads the request members botocore sends, calls the
//! organization operations of the iam crate, and renders their results in the shapes
//! of the `organizations` 2016-11-28 service model (timestamps as epoch seconds).

use crate::protocol::{ApiError, Call, Reply};
use crate::server::AppState;
use iam::org::{
    AccountInfo, CreateAccountRequest, NewAccount, NewPolicy, Node, OrgInfo, OuInfo, PolicyInfo,
    PolicyUpdate, RootInfo, TargetInfo,
};
use serde_json::{json, Value};

/// Largest (and default) page of a List operation.
const PAGE_SIZE: usize = 20;

pub fn handle(state: &AppState, call: &Call, body: &Value) -> Result<Reply, ApiError> {
    let input = Input(body);
    let out = match call.action.as_str() {
        "CreateOrganization" | "DescribeOrganization" | "DeleteOrganization" | "ListRoots" => {
            organization_op(state, call, &input)?
        }
        "CreateOrganizationalUnit"
        | "DescribeOrganizationalUnit"
        | "UpdateOrganizationalUnit"
        | "DeleteOrganizationalUnit"
        | "ListOrganizationalUnitsForParent"
        | "ListChildren"
        | "ListParents" => unit_op(state, call, &input)?,
        "CreateAccount"
        | "DescribeCreateAccountStatus"
        | "ListCreateAccountStatus"
        | "DescribeAccount"
        | "ListAccounts"
        | "ListAccountsForParent"
        | "MoveAccount" => account_op(state, call, &input)?,
        "EnablePolicyType"
        | "DisablePolicyType"
        | "CreatePolicy"
        | "UpdatePolicy"
        | "DeletePolicy"
        | "DescribePolicy"
        | "ListPolicies"
        | "AttachPolicy"
        | "DetachPolicy"
        | "ListPoliciesForTarget"
        | "ListTargetsForPolicy" => policy_op(state, call, &input)?,
        other => {
            return Err(ApiError::new(
                400,
                "UnknownOperationException",
                format!("Unknown operation {other}"),
            ))
        }
    };
    Ok(Reply::json(&out))
}

fn organization_op(state: &AppState, call: &Call, input: &Input<'_>) -> Result<Value, ApiError> {
    let (iam, c, info) = (&state.iam, call.caller.as_ref(), &call.info);
    Ok(match call.action.as_str() {
        "CreateOrganization" => json!({
            "Organization": organization(&iam.create_organization(c, info, input.opt_str("FeatureSet")?)?)
        }),
        "DescribeOrganization" => json!({
            "Organization": organization(&iam.describe_organization(c, info)?)
        }),
        "DeleteOrganization" => {
            iam.delete_organization(c, info)?;
            json!({})
        }
        _ => {
            let roots = iam.list_roots(c, info)?;
            input.page("Roots", roots.iter().map(root).collect())?
        }
    })
}

fn unit_op(state: &AppState, call: &Call, input: &Input<'_>) -> Result<Value, ApiError> {
    let (iam, c, info) = (&state.iam, call.caller.as_ref(), &call.info);
    Ok(match call.action.as_str() {
        "CreateOrganizationalUnit" => json!({
            "OrganizationalUnit": unit(&iam.create_organizational_unit(
                c,
                info,
                input.str("ParentId")?,
                input.str("Name")?,
            )?)
        }),
        "DescribeOrganizationalUnit" => json!({
            "OrganizationalUnit": unit(&iam.describe_organizational_unit(
                c,
                info,
                input.str("OrganizationalUnitId")?,
            )?)
        }),
        "UpdateOrganizationalUnit" => json!({
            "OrganizationalUnit": unit(&iam.update_organizational_unit(
                c,
                info,
                input.str("OrganizationalUnitId")?,
                input.opt_str("Name")?,
            )?)
        }),
        "DeleteOrganizationalUnit" => {
            iam.delete_organizational_unit(c, info, input.str("OrganizationalUnitId")?)?;
            json!({})
        }
        "ListOrganizationalUnitsForParent" => {
            let units =
                iam.list_organizational_units_for_parent(c, info, input.str("ParentId")?)?;
            input.page("OrganizationalUnits", units.iter().map(unit).collect())?
        }
        "ListChildren" => {
            let children =
                iam.list_children(c, info, input.str("ParentId")?, input.str("ChildType")?)?;
            input.page("Children", children.iter().map(node).collect())?
        }
        _ => {
            let parents = iam.list_parents(c, info, input.str("ChildId")?)?;
            input.page("Parents", parents.iter().map(node).collect())?
        }
    })
}

fn account_op(state: &AppState, call: &Call, input: &Input<'_>) -> Result<Value, ApiError> {
    let (iam, c, info) = (&state.iam, call.caller.as_ref(), &call.info);
    Ok(match call.action.as_str() {
        "CreateAccount" => {
            let new = NewAccount {
                email: input.str("Email")?,
                name: input.str("AccountName")?,
                role_name: input.opt_str("RoleName")?,
                iam_user_access_to_billing: input.opt_str("IamUserAccessToBilling")?,
            };
            json!({ "CreateAccountStatus": status(&iam.create_account(c, info, &new)?) })
        }
        "DescribeCreateAccountStatus" => json!({
            "CreateAccountStatus": status(&iam.describe_create_account_status(
                c,
                info,
                input.str("CreateAccountRequestId")?,
            )?)
        }),
        "ListCreateAccountStatus" => {
            let states = input.str_list("States")?;
            let all = iam.list_create_account_status(c, info, &states)?;
            input.page("CreateAccountStatuses", all.iter().map(status).collect())?
        }
        "DescribeAccount" => json!({
            "Account": account(&iam.describe_account(c, info, input.str("AccountId")?)?)
        }),
        "ListAccounts" => {
            let all = iam.list_accounts(c, info)?;
            input.page("Accounts", all.iter().map(account).collect())?
        }
        "ListAccountsForParent" => {
            let all = iam.list_accounts_for_parent(c, info, input.str("ParentId")?)?;
            input.page("Accounts", all.iter().map(account).collect())?
        }
        _ => {
            iam.move_account(
                c,
                info,
                input.str("AccountId")?,
                input.str("SourceParentId")?,
                input.str("DestinationParentId")?,
            )?;
            json!({})
        }
    })
}

fn policy_op(state: &AppState, call: &Call, input: &Input<'_>) -> Result<Value, ApiError> {
    let (iam, c, info) = (&state.iam, call.caller.as_ref(), &call.info);
    Ok(match call.action.as_str() {
        "EnablePolicyType" => json!({
            "Root": root(&iam.enable_policy_type(
                c,
                info,
                input.str("RootId")?,
                input.str("PolicyType")?,
            )?)
        }),
        "DisablePolicyType" => json!({
            "Root": root(&iam.disable_policy_type(
                c,
                info,
                input.str("RootId")?,
                input.str("PolicyType")?,
            )?)
        }),
        "CreatePolicy" => {
            let new = NewPolicy {
                name: input.str("Name")?,
                description: input.str("Description")?,
                content: input.str("Content")?,
                kind: input.str("Type")?,
            };
            json!({ "Policy": policy(&iam.create_org_policy(c, info, &new)?) })
        }
        "UpdatePolicy" => {
            let update = PolicyUpdate {
                name: input.opt_str("Name")?,
                description: input.opt_str("Description")?,
                content: input.opt_str("Content")?,
            };
            let id = input.str("PolicyId")?;
            json!({ "Policy": policy(&iam.update_org_policy(c, info, id, &update)?) })
        }
        "DeletePolicy" => {
            iam.delete_org_policy(c, info, input.str("PolicyId")?)?;
            json!({})
        }
        "DescribePolicy" => json!({
            "Policy": policy(&iam.describe_org_policy(c, info, input.str("PolicyId")?)?)
        }),
        "ListPolicies" => {
            let all = iam.list_org_policies(c, info, input.str("Filter")?)?;
            input.page("Policies", all.iter().map(policy_summary).collect())?
        }
        "AttachPolicy" => {
            iam.attach_org_policy(c, info, input.str("PolicyId")?, input.str("TargetId")?)?;
            json!({})
        }
        "DetachPolicy" => {
            iam.detach_org_policy(c, info, input.str("PolicyId")?, input.str("TargetId")?)?;
            json!({})
        }
        "ListPoliciesForTarget" => {
            let all = iam.list_org_policies_for_target(
                c,
                info,
                input.str("TargetId")?,
                input.str("Filter")?,
            )?;
            input.page("Policies", all.iter().map(policy_summary).collect())?
        }
        _ => {
            let all = iam.list_targets_for_org_policy(c, info, input.str("PolicyId")?)?;
            input.page("Targets", all.iter().map(target).collect())?
        }
    })
}

// ---- request members -----------------------------------------------------------------

/// The JSON request body.
struct Input<'a>(&'a Value);

impl<'a> Input<'a> {
    fn opt_str(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(serialization(name)),
        }
    }

    fn str(&self, name: &str) -> Result<&'a str, ApiError> {
        self.opt_str(name)?.ok_or_else(|| {
            invalid_input(
                "INPUT_REQUIRED",
                "You must include a value for all required parameters.",
            )
        })
    }

    fn str_list(&self, name: &str) -> Result<Vec<&'a str>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().ok_or_else(|| serialization(name)))
                .collect(),
            Some(_) => Err(serialization(name)),
        }
    }

    /// One page of `items` under `key`, from `NextToken` and `MaxResults` (1 to 20).
    fn page(&self, key: &str, items: Vec<Value>) -> Result<Value, ApiError> {
        let size = match self.0.get("MaxResults") {
            None | Some(Value::Null) => PAGE_SIZE,
            Some(v) => page_size(v)?,
        };
        let start = match self.opt_str("NextToken")? {
            None => 0,
            Some(token) => decode_token(token, items.len())?,
        };
        let end = (start + size).min(items.len());
        let mut out = json!({ key: items[start..end].to_vec() });
        if end < items.len() {
            out["NextToken"] = Value::String(encode_token(end));
        }
        Ok(out)
    }
}

fn page_size(v: &Value) -> Result<usize, ApiError> {
    let n = v.as_i64().ok_or_else(|| serialization("MaxResults"))?;
    if n < 1 {
        return Err(invalid_input(
            "MIN_VALUE_EXCEEDED",
            "You provided a numeric parameter that has a smaller value than allowed.",
        ));
    }
    if n > PAGE_SIZE as i64 {
        return Err(invalid_input(
            "MAX_VALUE_EXCEEDED",
            "You provided a numeric parameter that has a larger value than allowed.",
        ));
    }
    Ok(usize::try_from(n).unwrap_or(PAGE_SIZE))
}

/// Tokens are opaque to clients; here they carry the offset of the next item.
fn encode_token(offset: usize) -> String {
    format!("sesame-page-{offset}")
}

fn decode_token(token: &str, len: usize) -> Result<usize, ApiError> {
    token
        .strip_prefix("sesame-page-")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n <= len)
        .ok_or_else(|| {
            invalid_input(
                "INVALID_NEXT_TOKEN",
                "Get the value for the NextToken parameter from the response to a previous call of the operation.",
            )
        })
}

fn invalid_input(reason: &'static str, message: &str) -> ApiError {
    let mut e = ApiError::new(400, "InvalidInputException", message);
    e.reason = Some(reason);
    e
}

fn serialization(name: &str) -> ApiError {
    ApiError::new(
        400,
        "SerializationException",
        format!("Unexpected value type for member {name}"),
    )
}

// ---- response shapes ---------------------------------------------------------------------

/// Epoch seconds, as the JSON protocol carries timestamps.
fn timestamp(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

fn policy_types(types: &[String]) -> Value {
    types
        .iter()
        .map(|t| json!({ "Type": t, "Status": "ENABLED" }))
        .collect()
}

fn organization(o: &OrgInfo) -> Value {
    json!({
        "Id": o.id,
        "Arn": o.arn,
        "FeatureSet": o.feature_set,
        "MasterAccountArn": o.management_account_arn,
        "MasterAccountId": o.management_account_id,
        "MasterAccountEmail": o.management_account_email,
        "AvailablePolicyTypes": policy_types(&o.policy_types),
    })
}

fn root(r: &RootInfo) -> Value {
    json!({
        "Id": r.id,
        "Arn": r.arn,
        "Name": r.name,
        "PolicyTypes": policy_types(&r.policy_types),
    })
}

fn unit(u: &OuInfo) -> Value {
    json!({ "Id": u.id, "Arn": u.arn, "Name": u.name, "Path": u.path })
}

fn node(n: &Node) -> Value {
    json!({ "Id": n.id, "Type": n.kind })
}

fn account(a: &AccountInfo) -> Value {
    json!({
        "Id": a.id,
        "Arn": a.arn,
        "Email": a.email,
        "Name": a.name,
        "Status": "ACTIVE",
        "State": "ACTIVE",
        "Paths": [a.path],
        "JoinedMethod": a.joined_method,
        "JoinedTimestamp": timestamp(a.joined_ms),
    })
}

fn status(r: &CreateAccountRequest) -> Value {
    let mut v = json!({
        "Id": r.id,
        "AccountName": r.account_name,
        "State": r.state,
        "RequestedTimestamp": timestamp(r.requested_ms),
        "CompletedTimestamp": timestamp(r.completed_ms),
    });
    if let Some(id) = &r.account_id {
        v["AccountId"] = json!(id);
    }
    if let Some(reason) = &r.failure_reason {
        v["FailureReason"] = json!(reason);
    }
    v
}

fn policy_summary(p: &PolicyInfo) -> Value {
    json!({
        "Id": p.id,
        "Arn": p.arn,
        "Name": p.name,
        "Description": p.description,
        "Type": p.kind,
        "AwsManaged": p.aws_managed,
    })
}

fn policy(p: &PolicyInfo) -> Value {
    json!({ "PolicySummary": policy_summary(p), "Content": p.content })
}

fn target(t: &TargetInfo) -> Value {
    json!({ "TargetId": t.id, "Arn": t.arn, "Name": t.name, "Type": t.kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paged(body: Value, n: usize) -> Value {
        let items = (0..n).map(|i| json!(i)).collect();
        Input(&body).page("Items", items).unwrap()
    }

    #[test]
    fn pages_follow_tokens() {
        let first = paged(json!({ "MaxResults": 2 }), 5);
        assert_eq!(first["Items"], json!([0, 1]));
        let token = first["NextToken"].as_str().unwrap().to_string();
        let second = paged(json!({ "MaxResults": 2, "NextToken": token }), 5);
        assert_eq!(second["Items"], json!([2, 3]));
        let all = paged(json!({}), 5);
        assert_eq!(all["Items"], json!([0, 1, 2, 3, 4]));
        assert!(all.get("NextToken").is_none());
    }

    #[test]
    fn bad_page_input() {
        let items = || (0..3).map(|i| json!(i)).collect();
        let e = Input(&json!({ "NextToken": "x" }))
            .page("Items", items())
            .unwrap_err();
        assert_eq!(e.code, "InvalidInputException");
        assert_eq!(e.reason, Some("INVALID_NEXT_TOKEN"));
        let e = Input(&json!({ "MaxResults": 0 }))
            .page("Items", items())
            .unwrap_err();
        assert_eq!(e.reason, Some("MIN_VALUE_EXCEEDED"));
    }
}
