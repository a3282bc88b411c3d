//! `policy lint`: checks in the spirit of Parliament and IAM Access Analyzer's policy
//! checks, specialised for SES. Every finding has a position, a severity and a fix.
//! Lint runs on top of validation (grammar, values) and adds what is legal but wrong.

use crate::condition::SetQualifier;
use crate::grammar::{
    self, ConditionDoc, Effect, Finding, Findings, PolicyDoc, Severity, StatementDoc, Version,
};
use crate::json;
use crate::pattern::{Pattern, Syntax};

/// SES actions (v1 and v2 API names as IAM knows them).
const SES_ACTIONS: &[&str] = &[
    "SendEmail",
    "SendRawEmail",
    "SendTemplatedEmail",
    "SendBulkTemplatedEmail",
    "SendBulkEmail",
    "SendCustomVerificationEmail",
    "VerifyEmailIdentity",
    "VerifyEmailAddress",
    "VerifyDomainIdentity",
    "VerifyDomainDkim",
    "GetIdentityVerificationAttributes",
    "GetIdentityDkimAttributes",
    "ListIdentities",
    "DeleteIdentity",
    "DeleteVerifiedEmailAddress",
    "ListVerifiedEmailAddresses",
    "PutIdentityPolicy",
    "GetIdentityPolicies",
    "ListIdentityPolicies",
    "DeleteIdentityPolicy",
    "CreateTemplate",
    "GetTemplate",
    "UpdateTemplate",
    "DeleteTemplate",
    "ListTemplates",
    "TestRenderTemplate",
    "CreateConfigurationSet",
    "DescribeConfigurationSet",
    "DeleteConfigurationSet",
    "ListConfigurationSets",
    "CreateConfigurationSetEventDestination",
    "UpdateConfigurationSetEventDestination",
    "DeleteConfigurationSetEventDestination",
    "UpdateConfigurationSetSendingEnabled",
    "GetSendQuota",
    "GetSendStatistics",
    "GetAccountSendingEnabled",
    "UpdateAccountSendingEnabled",
    "SetIdentityNotificationTopic",
    "GetIdentityNotificationAttributes",
    "SetIdentityFeedbackForwardingEnabled",
    "SetIdentityMailFromDomain",
    "GetIdentityMailFromDomainAttributes",
    "CreateEmailIdentity",
    "GetEmailIdentity",
    "ListEmailIdentities",
    "DeleteEmailIdentity",
    "CreateEmailIdentityPolicy",
    "UpdateEmailIdentityPolicy",
    "DeleteEmailIdentityPolicy",
    "GetEmailIdentityPolicies",
    "CreateEmailTemplate",
    "GetEmailTemplate",
    "UpdateEmailTemplate",
    "DeleteEmailTemplate",
    "ListEmailTemplates",
    "TestRenderEmailTemplate",
    "GetConfigurationSet",
    "GetConfigurationSetEventDestinations",
    "PutConfigurationSetSendingOptions",
    "GetAccount",
    "PutAccountDetails",
    "PutAccountSendingAttributes",
    "PutAccountSuppressionAttributes",
    "PutSuppressedDestination",
    "GetSuppressedDestination",
    "DeleteSuppressedDestination",
    "ListSuppressedDestinations",
    "PutEmailIdentityDkimAttributes",
    "PutEmailIdentityFeedbackAttributes",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

const STS_ACTIONS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetCallerIdentity",
    "GetSessionToken",
    "GetFederationToken",
    "DecodeAuthorizationMessage",
    "GetAccessKeyInfo",
    "TagSession",
    "SetSourceIdentity",
];

/// The SES send actions: the only ones that set the `ses:` sending condition keys.
const SEND_ACTIONS: &[&str] = &[
    "sendemail",
    "sendrawemail",
    "sendtemplatedemail",
    "sendbulktemplatedemail",
    "sendbulkemail",
];

const SES_KEYS: &[&str] = &[
    "ses:recipients",
    "ses:fromaddress",
    "ses:fromdisplayname",
    "ses:feedbackaddress",
    "ses:apiversion",
];

/// Global keys; `*/` entries are prefixes of tag keys.
const GLOBAL_KEYS: &[&str] = &[
    "aws:currenttime",
    "aws:epochtime",
    "aws:securetransport",
    "aws:sourceip",
    "aws:useragent",
    "aws:requestedregion",
    "aws:principalorgid",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principaltype",
    "aws:username",
    "aws:userid",
    "aws:multifactorauthpresent",
    "aws:multifactorauthage",
    "aws:principalorgpaths",
    "aws:principalisawsservice",
    "aws:principalservicename",
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:vpcsourceip",
    "aws:referer",
    "aws:tokenissuetime",
    "aws:viaawsservice",
    "aws:calledvia",
    "aws:calledviafirst",
    "aws:calledvialast",
    "aws:federatedprovider",
    "aws:sourceidentity",
    "aws:resourceaccount",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
    "aws:tagkeys",
    "aws:ec2instancesourcevpc",
    "aws:ec2instancesourceprivateipv4",
    "aws:principaltag/",
    "aws:resourcetag/",
    "aws:requesttag/",
];

/// Keys with several values per request: the only ones set qualifiers make sense for.
const MULTI_VALUED: &[&str] = &[
    "ses:recipients",
    "aws:tagkeys",
    "aws:calledvia",
    "aws:principalorgpaths",
];

/// Lints a policy text. `identity_arn` names the SES identity when the policy is that
/// identity's sending authorization policy.
pub fn lint(text: &str, identity_arn: Option<&str>) -> Vec<Finding> {
    let mut findings = Findings(crate::validate::validate(text, None));
    let Ok(tree) = json::parse(text) else {
        return findings.0;
    };
    let mut ignored = Findings::default();
    let Some(doc) = grammar::read_policy(&tree, &mut ignored) else {
        return findings.0;
    };
    for (i, st) in doc.statements.iter().enumerate() {
        check_actions(st, &mut findings);
        check_conditions(&doc, st, &mut findings);
        check_send_scope(st, identity_arn, &mut findings);
        check_shadowed(&doc.statements[..i], st, &mut findings);
    }
    let mut all = findings.0;
    all.sort_by_key(|f| (f.at.offset, f.severity));
    all.dedup();
    all
}

fn check_actions(st: &StatementDoc, f: &mut Findings) {
    for a in &st.action.values {
        let Some((service, name)) = a.text.split_once(':') else {
            continue;
        };
        let catalog = match service.to_ascii_lowercase().as_str() {
            "ses" | "email" => SES_ACTIONS,
            "sts" => STS_ACTIONS,
            _ => continue,
        };
        let pattern = Pattern::new(
            &name.to_ascii_lowercase(),
            Syntax {
                wildcards: true,
                variables: false,
            },
            false,
        );
        let none = NoVariables;
        if !catalog
            .iter()
            .any(|known| pattern.matches(&known.to_ascii_lowercase(), &none))
        {
            f.error(a.at, format!("`{}` matches no {service} action: check the spelling (e.g. ses:SendRawEmail); as written the statement never applies", a.text));
        }
    }
}

fn check_conditions(doc: &PolicyDoc, st: &StatementDoc, f: &mut Findings) {
    for c in &st.conditions {
        let key = c.key.text.to_ascii_lowercase();
        let known_global = GLOBAL_KEYS.iter().any(|g| {
            if g.ends_with('/') {
                key.starts_with(g)
            } else {
                key == *g
            }
        });
        if key.starts_with("ses:") && !SES_KEYS.contains(&key.as_str()) {
            f.error(c.key.at, format!("`{}` is not an SES condition key (ses:Recipients, ses:FromAddress, ses:FromDisplayName, ses:FeedbackAddress, ses:ApiVersion): the condition never sees a value", c.key.text));
        } else if key.starts_with("aws:") && !known_global {
            f.warning(
                c.key.at,
                format!(
                    "`{}` is not a known global condition key: check the spelling",
                    c.key.text
                ),
            );
        }
        if key.starts_with("ses:") && key != "ses:apiversion" && !sets_ses_keys(st) {
            f.warning(c.key.at, format!("`{}` is only set by the SES send actions ({}), which this statement does not cover: the condition can never see a value", c.key.text, "ses:SendEmail, ses:SendRawEmail, ses:SendTemplatedEmail, ses:SendBulkTemplatedEmail, ses:SendBulkEmail"));
        }
        check_qualifier(st, c, &key, f);
        if doc.version != Version::V2012_10_17 && c.values.iter().any(|v| v.text.contains("${")) {
            f.warning(c.values[0].at, "policy variables are recognised only under \"Version\": \"2012-10-17\"; here `${...}` is literal text");
        }
    }
    if doc.version != Version::V2012_10_17 {
        for r in st.resource.iter().flat_map(|r| &r.values) {
            if r.text.contains("${") {
                f.warning(r.at, "policy variables are recognised only under \"Version\": \"2012-10-17\"; this Resource is matched literally");
            }
        }
    }
}

fn check_qualifier(st: &StatementDoc, c: &ConditionDoc, key: &str, f: &mut Findings) {
    let multi = MULTI_VALUED.contains(&key);
    match c.operator.qualifier {
        SetQualifier::ForAnyValue | SetQualifier::ForAllValues if !multi => {
            f.warning(
                c.operator_at,
                format!(
                    "`{}` takes one value per request: drop the set qualifier ({})",
                    c.key.text,
                    c.operator.canonical_name()
                ),
            );
        }
        SetQualifier::ForAllValues if st.effect == Effect::Allow && !c.operator.negated => {
            f.warning(c.operator_at, format!("ForAllValues is true when `{}` is absent or empty: this Allow also applies to requests without it; add a Null condition (\"{}\": \"false\")", c.key.text, c.key.text));
        }
        SetQualifier::Single if multi && c.operator.negated => {
            f.warning(c.operator_at, format!("`{}` has several values: a negated operator without ForAnyValue/ForAllValues is unclear; for \"any recipient outside\" use ForAnyValue:{}", c.key.text, c.operator.canonical_name()));
        }
        _ => {}
    }
}

fn sets_ses_keys(st: &StatementDoc) -> bool {
    st.action.negated
        || st.action.values.iter().any(|a| {
            let lower = a.text.to_ascii_lowercase();
            let pattern = Pattern::new(
                &lower,
                Syntax {
                    wildcards: true,
                    variables: false,
                },
                false,
            );
            SEND_ACTIONS
                .iter()
                .any(|s| pattern.matches(&format!("ses:{s}"), &NoVariables))
        })
}

/// `Resource: "*"` on a send Allow, and a sending authorization policy naming another resource.
fn check_send_scope(st: &StatementDoc, identity_arn: Option<&str>, f: &mut Findings) {
    let Some(resources) = &st.resource else {
        return;
    };
    if st.effect == Effect::Allow && sets_ses_keys(st) && !st.action.negated {
        for r in &resources.values {
            if r.text == "*" && st.principal.is_none() {
                f.warning(r.at, "send actions allowed on every identity: scope Resource to the identity ARNs used (arn:aws:ses:REGION:ACCOUNT:identity/example.com)");
            }
        }
    }
    if let Some(arn) = identity_arn {
        for r in &resources.values {
            if r.text != arn {
                f.error(r.at, format!("a sending authorization policy's Resource must be its identity, {arn}; SES rejects `{}`", r.text));
            }
        }
    }
}

/// A statement that an earlier one of the same effect already covers entirely.
fn check_shadowed(earlier: &[StatementDoc], st: &StatementDoc, f: &mut Findings) {
    if !st.conditions.is_empty()
        || st.action.negated
        || st.resource.as_ref().is_some_and(|r| r.negated)
    {
        return;
    }
    for e in earlier {
        let same_scope = e.effect == st.effect
            && e.conditions.is_empty()
            && !e.action.negated
            && e.principal == st.principal;
        if same_scope
            && covers(&e.action.values, &st.action.values, true)
            && covers_resources(e, st)
        {
            let label = e
                .sid
                .clone()
                .unwrap_or_else(|| "an earlier statement".into());
            f.warning(st.at, format!("this statement adds nothing: {label} already {} every action and resource it names", if st.effect == Effect::Allow { "allows" } else { "denies" }));
            return;
        }
    }
}

fn covers_resources(e: &StatementDoc, st: &StatementDoc) -> bool {
    match (&e.resource, &st.resource) {
        (None, _) => true,
        (Some(er), Some(sr)) if !er.negated => covers(&er.values, &sr.values, false),
        _ => false,
    }
}

/// Every value of `inner` is matched by some pattern of `outer`.
fn covers(outer: &[grammar::Spanned], inner: &[grammar::Spanned], lower: bool) -> bool {
    let norm = |s: &str| {
        if lower {
            s.to_ascii_lowercase()
        } else {
            s.to_string()
        }
    };
    inner.iter().all(|i| {
        outer.iter().any(|o| {
            let p = Pattern::new(
                &norm(&o.text),
                Syntax {
                    wildcards: true,
                    variables: false,
                },
                false,
            );
            p.matches(&norm(&i.text), &NoVariables)
        })
    })
}

struct NoVariables;

impl crate::pattern::VariableSource for NoVariables {
    fn variable(&self, _: &crate::context::Key) -> Option<&str> {
        None
    }
}

/// True when no finding is an error.
pub fn passes(findings: &[Finding]) -> bool {
    findings.iter().all(|f| f.severity != Severity::Error)
}
