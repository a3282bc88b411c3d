//! Paging of list operations: the NextToken is the (hex-encoded) key of the first item
//! of the next page, so a page stays correct when items are added or removed between
//! calls.

use crate::SesError;

/// One page of `items` (sorted by `key`), starting at `token`, at most `size` long.
pub fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> &str,
    token: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), SesError> {
    let start = match token {
        Some(t) => decode(t)?,
        None => String::new(),
    };
    let mut rest = items.into_iter().filter(|i| key(i) >= start.as_str());
    let page: Vec<T> = rest.by_ref().take(size.max(1)).collect();
    let next = rest.next().map(|i| encode(key(&i)));
    Ok((page, next))
}

/// The page size a request asked for, within `1..=max`, or `default`.
pub fn size(requested: Option<i64>, default: usize, max: usize) -> usize {
    requested.map_or(default, |n| usize::try_from(n).unwrap_or(1).clamp(1, max))
}

fn encode(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode(token: &str) -> Result<String, SesError> {
    let invalid = || SesError::InvalidParameter("The NextToken is not valid.".into());
    if !token.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(invalid)?;
    String::from_utf8(bytes).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_through_items() {
        let items = vec!["a", "b", "c"];
        let (first, next) = page(items.clone(), |s| s, None, 2).unwrap();
        assert_eq!(first, ["a", "b"]);
        let (second, next) = page(items, |s| s, next.as_deref(), 2).unwrap();
        assert_eq!(second, ["c"]);
        assert!(next.is_none());
        assert!(page(vec!["a"], |s| s, Some("zz"), 2).is_err());
        assert_eq!(size(Some(0), 10, 100), 1);
        assert_eq!(size(Some(500), 10, 100), 100);
        assert_eq!(size(None, 10, 100), 10);
    }
}
