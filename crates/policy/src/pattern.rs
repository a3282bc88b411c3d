//! Wildcard patterns with policy variables, as used by Action, Resource and string or
//! ARN condition values.
//!
//! A pattern is a list of pieces: literal text, `*` (any run of characters), `?` (any
//! one character) and `${key}` / `${key, 'default'}` variables. Variables resolve to
//! literal text at evaluation time: a `*` inside a substituted value matches only a `*`.

use crate::context::Key;

/// Looks up the single value of a request context key for variable substitution.
pub trait VariableSource {
    /// Returns `None` when the key is absent or multi-valued.
    fn variable(&self, key: &Key) -> Option<&str>;
}

/// One piece of a compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    AnyRun,
    AnyChar,
    Variable { key: Key, default: Option<String> },
}

/// How a pattern source is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syntax {
    /// `*` and `?` are wildcards (StringLike, Action, Resource); otherwise literal.
    pub wildcards: bool,
    /// `${...}` is a variable (policy Version 2012-10-17); otherwise literal.
    pub variables: bool,
}

/// A compiled pattern. `ignore_case` compares case-insensitively (text is stored lower-case).
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pieces: Vec<Piece>,
    ignore_case: bool,
    shape: Shape,
}

/// Common case-sensitive shapes matched without the general algorithm.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Any,
    General,
}

impl Shape {
    fn of(pieces: &[Piece], ignore_case: bool) -> Shape {
        if ignore_case {
            return Shape::General;
        }
        match pieces {
            [Piece::Text(t)] => Shape::Exact(t.clone()),
            [Piece::Text(t), Piece::AnyRun] => Shape::Prefix(t.clone()),
            [Piece::AnyRun, Piece::Text(t)] => Shape::Suffix(t.clone()),
            [Piece::AnyRun] => Shape::Any,
            _ => Shape::General,
        }
    }
}

impl Pattern {
    pub fn new(source: &str, syntax: Syntax, ignore_case: bool) -> Pattern {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(c) = rest.chars().next() {
            if syntax.variables && rest.starts_with("${") {
                if let Some((piece, after)) = parse_variable(rest) {
                    match piece {
                        Piece::Text(t) => text.push_str(&t),
                        other => {
                            flush_text(&mut pieces, &mut text, ignore_case);
                            pieces.push(other);
                        }
                    }
                    rest = after;
                    continue;
                }
            }
            match c {
                '*' if syntax.wildcards => {
                    flush_text(&mut pieces, &mut text, ignore_case);
                    if pieces.last() != Some(&Piece::AnyRun) {
                        pieces.push(Piece::AnyRun);
                    }
                }
                '?' if syntax.wildcards => {
                    flush_text(&mut pieces, &mut text, ignore_case);
                    pieces.push(Piece::AnyChar);
                }
                _ => text.push(c),
            }
            rest = &rest[c.len_utf8()..];
        }
        flush_text(&mut pieces, &mut text, ignore_case);
        let shape = Shape::of(&pieces, ignore_case);
        Pattern {
            pieces,
            ignore_case,
            shape,
        }
    }

    /// True when the pattern has no wildcard and no variable.
    pub fn is_literal(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Text(_)))
    }

    /// True when the pattern is a lone `*`.
    pub fn is_any(&self) -> bool {
        self.shape == Shape::Any
    }

    pub fn has_variables(&self) -> bool {
        self.pieces
            .iter()
            .any(|p| matches!(p, Piece::Variable { .. }))
    }

    /// Matches `text` against the pattern. A variable whose key is absent and has no
    /// default makes the pattern match nothing.
    #[inline]
    pub fn matches(&self, text: &str, vars: &dyn VariableSource) -> bool {
        match &self.shape {
            Shape::Exact(t) => text == t,
            Shape::Prefix(t) => text.starts_with(t.as_str()),
            Shape::Suffix(t) => text.ends_with(t.as_str()),
            Shape::Any => true,
            Shape::General => self.matches_general(text, vars),
        }
    }

    #[inline(never)]
    fn matches_general(&self, text: &str, vars: &dyn VariableSource) -> bool {
        let mut pi = 0;
        let mut ti = 0;
        let mut backtrack: Option<(usize, usize)> = None;
        loop {
            if let Some(piece) = self.pieces.get(pi) {
                let step = match piece {
                    Piece::AnyRun => {
                        backtrack = Some((pi + 1, ti));
                        pi += 1;
                        continue;
                    }
                    Piece::AnyChar => text[ti..].chars().next().map(char::len_utf8),
                    Piece::Text(t) => self.prefix_len(&text[ti..], t),
                    Piece::Variable { key, default } => {
                        match vars.variable(key).or(default.as_deref()) {
                            Some(value) => self.prefix_len(&text[ti..], value),
                            None => return false,
                        }
                    }
                };
                if let Some(len) = step {
                    ti += len;
                    pi += 1;
                    continue;
                }
            } else if ti == text.len() {
                return true;
            }
            match backtrack {
                Some((resume, start)) if start < text.len() => {
                    let next = start + text[start..].chars().next().map_or(1, char::len_utf8);
                    backtrack = Some((resume, next));
                    pi = resume;
                    ti = next;
                }
                _ => return false,
            }
        }
    }

    /// Length in `text` of a prefix equal to `literal`, if `text` starts with it.
    fn prefix_len(&self, text: &str, literal: &str) -> Option<usize> {
        if !self.ignore_case {
            return text.starts_with(literal).then_some(literal.len());
        }
        let mut text_chars = text.char_indices();
        for l in literal.chars() {
            let (_, t) = text_chars.next()?;
            if !t.to_lowercase().eq(l.to_lowercase()) {
                return None;
            }
        }
        Some(text_chars.next().map_or(text.len(), |(i, _)| i))
    }
}

fn flush_text(pieces: &mut Vec<Piece>, text: &mut String, ignore_case: bool) {
    if text.is_empty() {
        return;
    }
    let t = std::mem::take(text);
    pieces.push(Piece::Text(if ignore_case { t.to_lowercase() } else { t }));
}

/// Parses `${...}` at the start of `s`: an escape (`${*}`, `${?}`, `${$}`) becomes text,
/// otherwise a variable with an optional quoted default. `None` when malformed (then
/// the characters are taken literally).
fn parse_variable(s: &str) -> Option<(Piece, &str)> {
    let close = s.find('}')?;
    let inner = &s[2..close];
    let after = &s[close + 1..];
    if let "*" | "?" | "$" = inner {
        return Some((Piece::Text(inner.to_string()), after));
    }
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => (key, Some(parse_default(default)?)),
        None => (inner, None),
    };
    let key = key.trim();
    if key.is_empty() || key.contains(['{', '$', '\'']) {
        return None;
    }
    Some((
        Piece::Variable {
            key: Key::new(key),
            default,
        },
        after,
    ))
}

fn parse_default(s: &str) -> Option<String> {
    let s = s.trim();
    let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.to_string())
}

/// Variable syntax problems worth a validation warning: `${` with no closing brace.
pub fn unterminated_variable(source: &str) -> bool {
    source
        .match_indices("${")
        .any(|(i, _)| !source[i..].contains('}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vars(&'static [(&'static str, &'static str)]);
    impl VariableSource for Vars {
        fn variable(&self, key: &Key) -> Option<&str> {
            self.0
                .iter()
                .find(|(k, _)| *k == key.as_str())
                .map(|(_, v)| *v)
        }
    }
    const NONE: Vars = Vars(&[]);
    const GLOB: Syntax = Syntax {
        wildcards: true,
        variables: true,
    };

    fn glob(p: &str, t: &str) -> bool {
        Pattern::new(p, GLOB, false).matches(t, &NONE)
    }

    #[test]
    fn wildcards() {
        assert!(glob("*", ""));
        assert!(glob("*", "anything"));
        assert!(glob("ses:send*", "ses:sendrawemail"));
        assert!(!glob("ses:send*", "ses:getsendquota"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*@example.com", "x@example.com"));
        assert!(!glob("*@example.com", "x@example.com.evil"));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(!glob("a*b*c", "aXbYbZ"));
        assert!(glob("marketing+.*@example.com", "marketing+.x@example.com"));
        assert!(!glob(
            "marketing+.*@example.com",
            "marketing+spring@example.com"
        ));
        assert!(glob("é?", "éü"));
    }

    #[test]
    fn literal_mode_treats_wildcards_as_text() {
        let p = Pattern::new(
            "a*",
            Syntax {
                wildcards: false,
                variables: false,
            },
            false,
        );
        assert!(p.matches("a*", &NONE));
        assert!(!p.matches("ab", &NONE));
    }

    #[test]
    fn variables_and_escapes() {
        let vars = Vars(&[("aws:username", "j*doe")]);
        let p = Pattern::new("identity/${aws:username}@x", GLOB, false);
        assert!(p.matches("identity/j*doe@x", &vars));
        assert!(
            !p.matches("identity/jxdoe@x", &vars),
            "substituted * is literal"
        );
        assert!(
            !p.matches("identity/j*doe@x", &NONE),
            "missing key matches nothing"
        );
        let d = Pattern::new("${aws:PrincipalTag/m, 'no-reply@x'}", GLOB, false);
        assert!(d.matches("no-reply@x", &NONE));
        let e = Pattern::new("Sale${*}", GLOB, false);
        assert!(e.matches("Sale*", &NONE));
        assert!(!e.matches("Sales", &NONE));
        let plain = Pattern::new(
            "${aws:username}",
            Syntax {
                wildcards: true,
                variables: false,
            },
            false,
        );
        assert!(plain.matches("${aws:username}", &vars));
    }

    #[test]
    fn ignore_case() {
        let p = Pattern::new("Example Corp", GLOB, true);
        assert!(p.matches("EXAMPLE CORP", &NONE));
        assert!(!p.matches("EXAMPLE CORPS", &NONE));
    }
}
