//! The request context: condition keys (case-insensitive names) and their values.

use crate::pattern::VariableSource;

/// Condition keys of one request. Keys are stored lower-case with a hash, so a
/// lookup compares integers before strings; a key holds one or more values
/// (multi-valued keys such as `ses:Recipients` hold several).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    hash: u64,
    key: String,
    values: Vec<String>,
    /// A multivalued key (given as a list): operators without `ForAnyValue:` or
    /// `ForAllValues:` never match it.
    multi: bool,
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
                entry.values = values;
                entry.multi = multi;
            }
            None => self.entries.push(Entry {
                hash: key.hash,
                key: key.name,
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

    /// Values of a key and whether it is multivalued, in one lookup.
    pub fn lookup(&self, key: &Key) -> Option<(&[String], bool)> {
        self.entries
            .iter()
            .find(|e| e.hash == key.hash && e.key == key.name)
            .map(|e| (e.values.as_slice(), e.multi))
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
