//! Managed policies: AWS managed ones (built in, `arn:aws:iam::aws:policy/...`) and
//! customer managed ones stored per account, resolved to their default version.

use crate::model::{table, ManagedPolicy, PolicyVersion};
use crate::IamError;
use store::Docs;

/// The AWS managed policies Sesame knows: name and document.
const AWS_MANAGED: &[(&str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "ANPAIWMBCKSKIEE64ZLYK",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "AmazonSESFullAccess",
        "ANPAJ2P4NXCHAT7NDPNR4",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ses:*"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonSESReadOnlyAccess",
        "ANPAINV2XPFRMWJJNSCGI",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ses:Get*","ses:List*","ses:Describe*"],"Resource":"*"}]}"#,
    ),
    (
        "IAMFullAccess",
        "ANPAI7XKCFMBPM3QQRRVQ",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "ReadOnlyAccess",
        "ANPAILL3HVNFSB6DCOWYQ",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ses:Get*","ses:List*","ses:Describe*","iam:Get*","iam:List*","organizations:Describe*","organizations:List*","cloudtrail:LookupEvents","sts:GetCallerIdentity"],"Resource":"*"}]}"#,
    ),
];

const AWS_PREFIX: &str = "arn:aws:iam::aws:policy/";

/// An AWS managed policy by ARN, as a record.
pub fn aws_managed(arn: &str) -> Option<ManagedPolicy> {
    let name = arn.strip_prefix(AWS_PREFIX)?;
    let (name, id, doc) = AWS_MANAGED.iter().find(|(n, _, _)| *n == name)?;
    Some(ManagedPolicy {
        arn: arn.to_string(),
        account: "aws".to_string(),
        name: name.to_string(),
        path: "/".to_string(),
        id: id.to_string(),
        description: String::new(),
        created_ms: 1_423_000_000_000,
        updated_ms: 1_423_000_000_000,
        default_version: "v1".to_string(),
        versions: vec![PolicyVersion {
            id: "v1".to_string(),
            document: doc.to_string(),
            created_ms: 1_423_000_000_000,
        }],
        next_version: 2,
    })
}

/// Every AWS managed policy.
pub fn all_aws_managed() -> Vec<ManagedPolicy> {
    AWS_MANAGED
        .iter()
        .filter_map(|(name, _, _)| aws_managed(&format!("{AWS_PREFIX}{name}")))
        .collect()
}

/// A managed policy (AWS or customer) by ARN.
pub fn find(tx: &mut Docs<'_>, arn: &str) -> Result<Option<ManagedPolicy>, IamError> {
    if let Some(p) = aws_managed(arn) {
        return Ok(Some(p));
    }
    Ok(tx.get::<ManagedPolicy>(table::POLICIES, arn)?)
}

/// The default version's document of a managed policy. Customer managed policies of
/// another account than `account` are not visible (an empty `account` skips the check).
pub fn default_document(
    tx: &mut Docs<'_>,
    account: &str,
    arn: &str,
) -> Result<Option<String>, IamError> {
    let Some(p) = find(tx, arn)? else {
        return Ok(None);
    };
    if !account.is_empty() && p.account != "aws" && p.account != account {
        return Ok(None);
    }
    Ok(p.default_document().map(str::to_string))
}
