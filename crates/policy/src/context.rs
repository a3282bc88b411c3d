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
    /// Each value read as the typed operators need it, parsed at first use and kept
    /// for the rest of the request (one request is decided for several resources).
    typed: Vec<OnceLock<Typed>>,
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
    typed: &'c [OnceLock<Typed>],
    pub multivalued: bool,
}

impl<'c> RequestValues<'c> {
    pub const ABSENT: RequestValues<'static> = RequestValues {
        texts: &[],
        typed: &[],
        multivalued: false,
    };

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// Each value with its typed reading (parsed on first use).
    pub fn iter(&self) -> impl Iterator<Item = RequestValue<'c>> {
        self.texts
            .iter()
            .zip(self.typed)
            .map(|(text, typed)| RequestValue { text, typed })
    }
}

/// One request value.
#[derive(Debug, Clone, Copy)]
pub struct RequestValue<'c> {
    pub text: &'c str,
    typed: &'c OnceLock<Typed>,
}

impl RequestValue<'_> {
    pub fn typed(&self) -> &Typed {
        self.typed.get_or_init(|| Typed::parse(self.text))
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
        let name = name.to_ascii_lowercase();
        Key {
            hash: fnv1a(name.as_bytes()),
            name,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }
}

/// FNV-1a, 64-bit: short keys, no allocation, stable across runs.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
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
        let key = Key::new(key);
        match self
            .entries
            .iter_mut()
            .find(|e| e.hash == key.hash && e.key == key.name)
        {
            Some(entry) => {
                entry.typed = vec![OnceLock::new(); values.len()];
                entry.values = values;
                entry.multi = multi;
            }
            None => self.entries.push(Entry {
                hash: key.hash,
                key: key.name,
                typed: vec![OnceLock::new(); values.len()],
                values,
                multi,
            }),
        }
    }

    /// Sets a key only when it is absent.
    pub fn insert_default(&mut self, key: &str, value: &str) {
        if self.get(&Key::new(key)).is_none() {
            self.insert(key, vec![value.to_string()]);
        }
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
}

impl VariableSource for Context {
    fn variable(&self, key: &Key) -> Option<&str> {
        match self.get(key)? {
            [one] => Some(one),
            _ => None,
        }
    }
}
