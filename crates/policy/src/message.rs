//! AWS-worded denial messages: IAM's style, which names the deciding policy type, and
//! SES's own style, which does not.

use crate::eval::{Decision, Layer, Outcome, Request};

/// IAM style, e.g. "User: ARN is not authorized to perform: ACTION on resource: ARN
/// because no identity-based policy allows the ACTION action". `None` when allowed.
pub fn iam_denial(req: &Request, decision: &Decision) -> Option<String> {
    let layer = decision.denied_by?;
    let head = format!(
        "User: {} is not authorized to perform: {} on resource: {}",
        req.principal.arn, req.action, req.resource.text
    );
    Some(match decision.outcome {
        Outcome::Allowed => return None,
        Outcome::ExplicitDeny => format!("{head} with an explicit deny in {}", with_article(layer)),
        Outcome::ImplicitDeny => format!(
            "{head} because no {} allows the {} action",
            layer.policy_type(),
            req.action
        ),
    })
}

/// SES style: "User `ARN' is not authorized to perform `ACTION' on resource `ARN'".
pub fn ses_denial(principal_arn: &str, action: &str, resource: &str) -> String {
    format!(
        "User `{principal_arn}' is not authorized to perform `{action}' on resource `{resource}'"
    )
}

fn with_article(layer: Layer) -> String {
    let name = layer.policy_type();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}
