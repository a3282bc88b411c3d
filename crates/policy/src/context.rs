//! The request context: condition keys (case-insensitive names) and their values.

use crate::pattern::VariableSource;
use crate::value;
use std::net::IpAddr;
use std::sync::OnceLock;

/// Condition keys of one request. Keys are stored lower-case with a hash, so a
/// lookup compares integers before strings; a key holds one or more values
/// (multi-valued keys such as `ses:Recipients` hold several).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    hash: u64,
    key: String,
    values: Vec<String>,
    /// The values read as the typed operators need them, parsed when one first
    /// reads them and kept for the rest of the request (one request is decided for
    /// several resources).
    typed: OnceLock<Vec<Typed>>,
    /// A multivalued key (given as a list): operators without `ForAnyValue:` or
    /// `ForAllValues:` never match it.
    multi: bool,
}

/// Entries are equal when their keys, values and list flags are: the typed readings
/// are a cache.
impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.key == other.key && self.values == other.values && self.multi == other.multi
    }
}

/// A request value read as an IP address, a date, a number and a boolean; `None`
/// where it is not one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Typed {
    pub ip: Option<IpAddr>,
    /// Milliseconds since the epoch.
    pub date: Option<i64>,
    pub number: Option<f64>,
    pub boolean: Option<bool>,
}

impl Typed {
    fn parse(text: &str) -> Typed {
        Typed {
            ip: value::parse_ip(text),
            date: value::parse_date(text),
            number: value::parse_number(text),
            boolean: value::parse_bool(text),
        }
    }
}

/// The values of one key as a condition reads them.
#[derive(Debug, Clone, Copy)]
pub struct RequestValues<'c> {
    texts: &'c [String],
    typed: &'c OnceLock<Vec<Typed>>,
    pub multivalued: bool,
}

/// The typed readings of an absent key: none.
static NO_READINGS: OnceLock<Vec<Typed>> = OnceLock::new();

impl<'c> RequestValues<'c> {
    pub const ABSENT: RequestValues<'static> = RequestValues {
        texts: &[],
        typed: &NO_READINGS,
        multivalued: false,
    };

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// Each value with its typed reading (parsed on first use).
    pub fn iter(&self) -> impl Iterator<Item = RequestValue<'c>> {
        let values = *self;
        self.texts
            .iter()
            .enumerate()
            .map(move |(index, text)| RequestValue {
                text,
                index,
                values,
            })
    }
}

/// One request value.
#[derive(Debug, Clone, Copy)]
pub struct RequestValue<'c> {
    pub text: &'c str,
    index: usize,
    values: RequestValues<'c>,
}

impl RequestValue<'_> {
    pub fn typed(&self) -> Typed {
        let texts = self.values.texts;
        self.values
            .typed
            .get_or_init(|| texts.iter().map(|t| Typed::parse(t)).collect())[self.index]
    }
}

/// A lower-cased key with its hash, computed once (at policy compile time for
/// condition keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    hash: u64,
    name: String,
}

impl Key {
    pub fn new(name: &str) -> Key {
        Key {
            hash: lowercase_hash(name),
            name: name.to_ascii_lowercase(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }
}

/// FNV-1a (64-bit) of the lower-cased name, without making the lower-cased copy:
/// short keys, stable across runs.
fn lowercase_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Context {
    /// Sets a key, replacing any earlier value of the same key (names compare
    /// case-insensitively).
    /// A key with more than one value is multivalued.
    pub fn insert(&mut self, key: &str, values: Vec<String>) {
        let multi = values.len() > 1;
        self.set(key, values, multi);
    }

    /// Sets a multivalued key (such as `ses:Recipients`), whatever the number of
    /// values, as a request context gives it as a list.
    pub fn insert_list(&mut self, key: &str, values: Vec<String>) {
        self.set(key, values, true);
    }

    fn set(&mut self, key: &str, values: Vec<String>, multi: bool) {
        match self.position(key).map(|at| &mut self.entries[at]) {
            Some(entry) => {
                entry.typed = OnceLock::new();
                entry.values = values;
                entry.multi = multi;
            }
            None => self.entries.push(Entry {
                hash: lowercase_hash(key),
                key: key.to_ascii_lowercase(),
                typed: OnceLock::new(),
                values,
                multi,
            }),
        }
    }

    /// Sets a key only when it is absent.
    pub fn insert_default(&mut self, key: &str, value: &str) {
        if self.position(key).is_none() {
            self.insert(key, vec![value.to_string()]);
        }
    }

    /// Where the entry of a key named in any case is.
    fn position(&self, name: &str) -> Option<usize> {
        let hash = lowercase_hash(name);
        self.entries
            .iter()
            .position(|e| e.hash == hash && e.key.eq_ignore_ascii_case(name))
    }

    /// Values of a key.
    pub fn get(&self, key: &Key) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|e| e.hash == key.hash && e.key == key.name)
            .map(|e| e.values.as_slice())
    }

    /// Values of a key with their typed readings and whether the key is
    /// multivalued, in one lookup.
    pub fn lookup(&self, key: &Key) -> Option<RequestValues<'_>> {
        self.entries
            .iter()
            .find(|e| e.hash == key.hash && e.key == key.name)
            .map(|e| RequestValues {
                texts: &e.values,
                typed: &e.typed,
                multivalued: e.multi,
            })
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries
            .iter()
            .map(|e| (e.key.as_str(), e.values.as_slice()))
    }

    /// Every key with its values and whether it is multivalued (to record a context
    /// and rebuild it exactly with `insert_list` / `insert`).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[String], bool)> {
        self.entries
            .iter()
            .map(|e| (e.key.as_str(), e.values.as_slice(), e.multi))
    }

    /// Like [`Context::entries`], giving up the context.
    pub fn into_entries(self) -> impl Iterator<Item = (String, Vec<String>, bool)> {
        self.entries.into_iter().map(|e| (e.key, e.values, e.multi))
    }
}

impl VariableSource for Context {
    fn variable(&self, key: &Key) -> Option<&str> {
        match self.get(key)? {
            [one] => Some(one),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed_numbers(ctx: &Context, key: &str) -> Vec<Option<f64>> {
        ctx.lookup(&Key::new(key))
            .map(|values| values.iter().map(|v| v.typed().number).collect())
            .unwrap_or_default()
    }

    #[test]
    fn keys_match_in_any_case_and_a_default_never_replaces_a_value() {
        let mut ctx = Context::default();
        ctx.insert("aws:SourceIp", vec!["203.0.113.7".into()]);
        ctx.insert_default("AWS:SOURCEIP", "198.51.100.1");
        ctx.insert_default("aws:PrincipalType", "User");
        assert_eq!(
            ctx.get(&Key::new("aws:sourceip")),
            Some(&["203.0.113.7".to_string()][..])
        );
        assert_eq!(
            ctx.get(&Key::new("Aws:PrincipalTYPE")),
            Some(&["User".to_string()][..])
        );
        assert_eq!(ctx.entries().count(), 2);
        let ip = ctx.lookup(&Key::new("aws:sourceip")).unwrap();
        assert_eq!(
            ip.iter().next().unwrap().typed().ip,
            "203.0.113.7".parse().ok()
        );
    }

    #[test]
    fn replacing_a_key_replaces_its_typed_readings() {
        let mut ctx = Context::default();
        ctx.insert_list("test:n", vec!["5".into(), "x".into()]);
        assert_eq!(typed_numbers(&ctx, "test:n"), [Some(5.0), None]);
        ctx.insert("TEST:N", vec!["7".into()]);
        assert_eq!(typed_numbers(&ctx, "test:n"), [Some(7.0)]);
        assert!(!ctx.lookup(&Key::new("test:n")).unwrap().multivalued);
        assert!(typed_numbers(&ctx, "test:absent").is_empty());
    }
}
