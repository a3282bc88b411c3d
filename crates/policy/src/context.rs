//! The request context: condition keys (case-insensitive names) and their values.

use crate::pattern::VariableSource;

/// Condition keys of one request. Keys are stored lower-case; a key holds one or
/// more values (multi-valued keys such as `ses:Recipients` hold several).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    entries: Vec<(String, Vec<String>)>,
}

impl Context {
    /// Sets a key, replacing any earlier value of the same key (names compare
    /// case-insensitively).
    pub fn insert(&mut self, key: &str, values: Vec<String>) {
        let key = key.to_ascii_lowercase();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = values,
            None => self.entries.push((key, values)),
        }
    }

    /// Sets a key only when it is absent.
    pub fn insert_default(&mut self, key: &str, value: &str) {
        if self.get(&key.to_ascii_lowercase()).is_none() {
            self.insert(key, vec![value.to_string()]);
        }
    }

    /// Values of a key; `key` must be lower-case.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

impl VariableSource for Context {
    fn variable(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            [one] => Some(one),
            _ => None,
        }
    }
}
