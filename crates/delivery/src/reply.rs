//! SMTP replies (RFC 5321 §4.2) and their enhanced status codes (RFC 3463).

/// One complete (possibly multi-line) SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The text of every line, joined with a space.
    pub text: String,
    /// Keywords of the lines after the first (EHLO extensions).
    pub lines: Vec<String>,
}

impl Reply {
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// The enhanced status code at the start of the text, e.g. `5.1.1`.
    pub fn enhanced(&self) -> Option<(u8, u16, u16)> {
        parse_enhanced(&self.text)
    }

    /// `CODE TEXT`, as SES reports it in `smtpResponse` and `diagnosticCode`.
    pub fn summary(&self) -> String {
        format!("{} {}", self.code, self.text)
    }

    /// Whether an EHLO reply announced `keyword`.
    pub fn has_extension(&self, keyword: &str) -> bool {
        self.lines.iter().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
        })
    }

    /// The parameters of an EHLO extension, e.g. the mechanisms of `AUTH`.
    pub fn extension_params(&self, keyword: &str) -> Vec<String> {
        self.lines
            .iter()
            .find(|l| {
                l.split_whitespace()
                    .next()
                    .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
            })
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .map(|s| s.to_ascii_uppercase())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Parses `class.subject.detail` at the start of `text`.
pub fn parse_enhanced(text: &str) -> Option<(u8, u16, u16)> {
    let word = text.split_whitespace().next()?;
    let mut parts = word.split('.');
    let class: u8 = parts.next()?.parse().ok()?;
    let subject: u16 = parts.next()?.parse().ok()?;
    let detail: u16 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !matches!(class, 2 | 4 | 5) {
        return None;
    }
    Some((class, subject, detail))
}

/// Parses one reply line: `(code, is_last, text)`.
pub fn parse_line(line: &str) -> Option<(u16, bool, &str)> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.len() < 3 || !line.is_char_boundary(3) {
        return None;
    }
    let code: u16 = line[..3].parse().ok()?;
    if !(200..600).contains(&code) {
        return None;
    }
    let rest = &line[3..];
    match rest.chars().next() {
        None => Some((code, true, "")),
        Some(' ') => Some((code, true, &rest[1..])),
        Some('-') => Some((code, false, &rest[1..])),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_enhanced_codes() {
        assert_eq!(
            parse_line("250-PIPELINING\r\n"),
            Some((250, false, "PIPELINING"))
        );
        assert_eq!(parse_line("250 OK"), Some((250, true, "OK")));
        assert_eq!(parse_line("250"), Some((250, true, "")));
        assert_eq!(parse_line("25"), None);
        assert_eq!(parse_line("999 x"), None);
        assert_eq!(parse_line("2é0 x"), None);
        assert_eq!(parse_enhanced("5.1.1 no such user"), Some((5, 1, 1)));
        assert_eq!(parse_enhanced("no such user"), None);
        assert_eq!(parse_enhanced("3.1.1 x"), None);
    }
}
