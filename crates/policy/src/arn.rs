//! ARN splitting: `arn:partition:service:region:account:resource`, where only the
//! first five colons delimit (the resource part may contain colons).

/// The six segments of an ARN, or `None` when `s` is not `arn:` with six segments.
pub fn split(s: &str) -> Option<[&str; 6]> {
    let mut parts = s.splitn(6, ':');
    let arn = [
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    ];
    (arn[0] == "arn").then_some(arn)
}

/// The account that owns an ARN's resource: its account field when that is a 12-digit
/// account id. AWS-owned resources (`arn:aws:iam::aws:policy/…`) and global ones have none.
pub fn account(s: &str) -> Option<&str> {
    split(s)
        .map(|a| a[4])
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_six_segments() {
        let a = split("arn:aws:ses:us-east-1:111122223333:identity/a:b").unwrap();
        assert_eq!(a[5], "identity/a:b");
        assert_eq!(
            account("arn:aws:iam::111122223333:user/x"),
            Some("111122223333")
        );
        assert_eq!(account("arn:aws:iam::aws:policy/AdministratorAccess"), None);
        assert!(split("arn:aws:iam::*").is_none());
        assert!(split("urn:aws:iam::1:x").is_none());
    }
}
