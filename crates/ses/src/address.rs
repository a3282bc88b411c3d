//! Email addresses as SES reads them: `Display Name <local@domain>` or `local@domain`,
//! with SES's error messages for malformed ones.

use crate::SesError;

/// A parsed mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub display_name: Option<String>,
    pub address: String,
}

impl Mailbox {
    pub fn parse(text: &str) -> Result<Mailbox, SesError> {
        let text = text.trim();
        let (display_name, address) = match (text.rfind('<'), text.ends_with('>')) {
            (Some(open), true) => {
                let name = text[..open].trim().trim_matches('"').trim();
                (
                    Some(name.to_string()).filter(|n| !n.is_empty()),
                    &text[open + 1..text.len() - 1],
                )
            }
            _ => (None, text),
        };
        validate(address)?;
        Ok(Mailbox {
            display_name,
            address: address.to_string(),
        })
    }

    pub fn domain(&self) -> &str {
        domain_of(&self.address)
    }
}

/// The domain part of an address (after the last `@`).
pub fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, d)| d)
}

/// The checks SES applies, with its (javax.mail) messages.
fn validate(address: &str) -> Result<(), SesError> {
    let illegal = || SesError::InvalidParameter("Illegal address".into());
    if address.contains(',') || address.contains('<') || address.contains('>') {
        return Err(illegal());
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(SesError::InvalidParameter("Missing final '@domain'".into()));
    };
    if local.is_empty() {
        return Err(SesError::InvalidParameter("Missing local name".into()));
    }
    if domain.is_empty() {
        return Err(SesError::InvalidParameter("Missing domain".into()));
    }
    let domain_ok = domain
        .split('.')
        .all(|label| !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && !domain.starts_with('-');
    let local_ok = local.len() <= 64
        && !local
            .chars()
            .any(|c| c.is_whitespace() || "()[];:\\\"".contains(c));
    if !domain_ok || !local_ok || address.len() > 320 {
        return Err(illegal());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mailboxes() {
        let m = Mailbox::parse("\"Example Corp\" <news@example.com>").unwrap();
        assert_eq!(m.display_name.as_deref(), Some("Example Corp"));
        assert_eq!(m.address, "news@example.com");
        assert_eq!(m.domain(), "example.com");
        assert_eq!(Mailbox::parse("a@b.example").unwrap().display_name, None);
        assert!(Mailbox::parse("nobody")
            .unwrap_err()
            .to_string()
            .contains("Missing final '@domain'"));
        assert!(Mailbox::parse("a b@example.com").is_err());
        assert!(Mailbox::parse("a@exa mple.com").is_err());
    }
}
