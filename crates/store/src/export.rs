//! Configuration export: the documents of chosen tables as one JSON document
//! (export), and bringing a store in line with such a document (import).
//!
//! The document has one object per [`Section`] (store key → document) and a
//! `sesame_export` header. Keys come out sorted, so two exports of the same state are
//! byte-identical and diff well. Two things differ from the stored form:
//! - policy documents (the section's `policy_paths`) are embedded as JSON objects
//!   rather than escaped strings; on import they are stored as compact JSON again;
//! - sealed secrets become `{"plaintext_secret": "…"}` when secrets are included and
//!   `{"redacted_secret": true}` otherwise. Import seals plaintext secrets under the
//!   target's master key; a redacted secret keeps the target's current one, and an
//!   object whose secret is redacted and that the target lacks is skipped.
//!
//! Import makes each section's table equal to the document: objects are added,
//! changed or removed. It compares in exported form, so importing the same document
//! twice changes nothing the second time.

use crate::{Docs, MasterKey, Result, SealedSecret, Store, StoreError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The document format this module writes and reads.
pub const FORMAT_VERSION: u64 = 1;
const HEADER: &str = "sesame_export";
const PLAINTEXT: &str = "plaintext_secret";
const REDACTED: &str = "redacted_secret";

/// One part of the document: a store table under a readable name.
pub struct Section {
    pub name: &'static str,
    pub table: &'static str,
    /// Where policy documents (JSON text) sit in each record: dot-separated field
    /// names, `*` for every value of a map or element of a list.
    pub policy_paths: &'static [&'static str],
    /// Checks that a record, in stored form, is what the table holds under its key.
    pub check: fn(&str, &Value) -> std::result::Result<(), String>,
}

/// What importing does to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added,
    /// The record's fields (dotted paths) that differ.
    Changed(Vec<String>),
    Removed,
    /// Not imported, with the reason.
    Skipped(String),
}

/// One object's change: section name, store key and what happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectChange {
    pub section: String,
    pub key: String,
    pub change: Change,
}

/// The sections' documents as one export document.
pub fn export(store: &Store, sections: &[Section], secrets: Option<&MasterKey>) -> Result<Value> {
    let mut tx = store.read()?;
    let mut out = Map::new();
    out.insert(
        HEADER.into(),
        serde_json::json!({ "format_version": FORMAT_VERSION, "secrets_included": secrets.is_some() }),
    );
    for section in sections {
        out.insert(
            section.name.into(),
            Value::Object(exported_table(&mut tx, section, secrets)?),
        );
    }
    Ok(Value::Object(out))
}

/// Compares `document` with the store and, unless `dry_run`, applies the difference
/// in one transaction. Returns every object that differs, in document order.
pub fn import(
    store: &Store,
    sections: &[Section],
    key: &MasterKey,
    document: &Value,
    dry_run: bool,
) -> Result<Vec<ObjectChange>> {
    let (secrets_included, wanted) = parse_document(sections, document)?;
    let mut tx = if dry_run {
        store.read()?
    } else {
        store.write()?
    };
    let mut changes = Vec::new();
    for (section, objects) in sections.iter().zip(wanted) {
        let current = exported_table(&mut tx, section, secrets_included.then_some(key))?;
        for (name, object) in &objects {
            let change = match current.get(name) {
                Some(old) if old == object => continue,
                Some(old) => Change::Changed(differing_fields(old, object)),
                None => Change::Added,
            };
            let change = match stored_form(&mut tx, section, name, object, key)? {
                Ok(record) => {
                    if !dry_run {
                        put_value(&mut tx, section.table, name, &record)?;
                    }
                    change
                }
                Err(reason) => Change::Skipped(reason),
            };
            changes.push(ObjectChange {
                section: section.name.into(),
                key: name.clone(),
                change,
            });
        }
        for name in current.keys().filter(|k| !objects.contains_key(*k)) {
            if !dry_run {
                tx.delete(section.table, name)?;
            }
            changes.push(ObjectChange {
                section: section.name.into(),
                key: name.clone(),
                change: Change::Removed,
            });
        }
    }
    if !dry_run {
        tx.commit()?;
    }
    Ok(changes)
}

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::Snapshot(message.into())
}

/// The header's secrets flag and each section's objects, checked for shape.
fn parse_document(
    sections: &[Section],
    document: &Value,
) -> Result<(bool, Vec<Map<String, Value>>)> {
    let top = document
        .as_object()
        .ok_or_else(|| invalid("the document is not a JSON object"))?;
    let header = top
        .get(HEADER)
        .ok_or_else(|| invalid(format!("the document has no \"{HEADER}\" header")))?;
    let version = header.get("format_version").and_then(Value::as_u64);
    if version != Some(FORMAT_VERSION) {
        return Err(invalid(format!(
            "format_version must be {FORMAT_VERSION}, found {}",
            header.get("format_version").unwrap_or(&Value::Null)
        )));
    }
    let secrets = header
        .get("secrets_included")
        .and_then(Value::as_bool)
        .ok_or_else(|| invalid("the header's secrets_included must be true or false"))?;
    if let Some(unknown) = top
        .keys()
        .find(|k| *k != HEADER && !sections.iter().any(|s| s.name == k.as_str()))
    {
        return Err(invalid(format!("unknown section \"{unknown}\"")));
    }
    let objects = sections
        .iter()
        .map(|s| match top.get(s.name) {
            None => Ok(Map::new()),
            Some(Value::Object(objects)) => match objects.iter().find(|(_, v)| !v.is_object()) {
                Some((k, _)) => Err(invalid(format!("{}.{k} is not an object", s.name))),
                None => Ok(objects.clone()),
            },
            Some(_) => Err(invalid(format!("section {} is not an object", s.name))),
        })
        .collect::<Result<_>>()?;
    Ok((secrets, objects))
}

/// A table's records in exported form, by key.
fn exported_table(
    tx: &mut Docs<'_>,
    section: &Section,
    secrets: Option<&MasterKey>,
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (key, bytes) in tx.tx.scan(section.table, "")? {
        let mut record: Value =
            serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
                table: section.table.into(),
                key: key.clone(),
                source,
            })?;
        for path in section.policy_paths {
            for_each_at(&mut record, path, &mut embed_policy);
        }
        reveal_secrets(&mut record, secrets)?;
        out.insert(key, record);
    }
    Ok(out)
}

/// An exported object in stored form, or why it cannot be imported.
fn stored_form(
    tx: &mut Docs<'_>,
    section: &Section,
    key: &str,
    object: &Value,
    master: &MasterKey,
) -> Result<std::result::Result<Value, String>> {
    let mut record = object.clone();
    for path in section.policy_paths {
        for_each_at(&mut record, path, &mut |v| {
            if v.is_object() {
                *v = Value::String(v.to_string());
            }
        });
    }
    let current = match tx.tx.get(section.table, key)? {
        Some(bytes) => serde_json::from_slice(&bytes).ok(),
        None => None,
    };
    if !seal_secrets(&mut record, current.as_ref(), master)? {
        return Ok(Err(
            "its secret is not in the document (export with --include-secrets)".into(),
        ));
    }
    if let Err(e) = (section.check)(key, &record) {
        return Err(invalid(format!("{}.{key}: {e}", section.name)));
    }
    Ok(Ok(record))
}

fn put_value(tx: &mut Docs<'_>, table: &str, key: &str, record: &Value) -> Result<()> {
    tx.put(table, key, record)
}

/// Calls `f` on every value at `path` (see [`Section::policy_paths`]).
fn for_each_at(value: &mut Value, path: &str, f: &mut dyn FnMut(&mut Value)) {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    let mut visit = |child: &mut Value| match rest {
        Some(rest) => for_each_at(child, rest, f),
        None => f(child),
    };
    match (head, value) {
        ("*", Value::Object(map)) => map.values_mut().for_each(&mut visit),
        ("*", Value::Array(list)) => list.iter_mut().for_each(&mut visit),
        (field, Value::Object(map)) => {
            if let Some(child) = map.get_mut(field) {
                visit(child);
            }
        }
        _ => {}
    }
}

/// A policy document string becomes the JSON object it holds.
fn embed_policy(value: &mut Value) {
    if let Value::String(text) = value {
        if let Ok(parsed @ Value::Object(_)) = serde_json::from_str::<Value>(text) {
            *value = parsed;
        }
    }
}

fn is_sealed(map: &Map<String, Value>) -> bool {
    map.len() == 2
        && map.get("nonce").is_some_and(Value::is_string)
        && map.get("ciphertext").is_some_and(Value::is_string)
}

/// Replaces every sealed secret with its plaintext (`key` given) or a redaction mark.
fn reveal_secrets(value: &mut Value, key: Option<&MasterKey>) -> Result<()> {
    match value {
        Value::Object(map) if is_sealed(map) => {
            let sealed: SealedSecret =
                serde_json::from_value(Value::Object(map.clone())).map_err(StoreError::Encode)?;
            *value = match key {
                Some(key) => serde_json::json!({ PLAINTEXT: key.open(&sealed)? }),
                None => serde_json::json!({ REDACTED: true }),
            };
        }
        Value::Object(map) => {
            for child in map.values_mut() {
                reveal_secrets(child, key)?;
            }
        }
        Value::Array(list) => {
            for child in list {
                reveal_secrets(child, key)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Seals plaintext secrets and puts back the current record's secret for redacted
/// ones. Returns false when a redacted secret has nothing to stand for.
fn seal_secrets(value: &mut Value, current: Option<&Value>, key: &MasterKey) -> Result<bool> {
    match value {
        Value::Object(map) if map.len() == 1 && map.contains_key(PLAINTEXT) => {
            let plain = map[PLAINTEXT]
                .as_str()
                .ok_or_else(|| invalid(format!("{PLAINTEXT} must be a string")))?;
            *value = serde_json::to_value(key.seal(plain)?).map_err(StoreError::Encode)?;
        }
        Value::Object(map) if map.len() == 1 && map.contains_key(REDACTED) => match current {
            Some(Value::Object(old)) if is_sealed(old) => *value = Value::Object(old.clone()),
            _ => return Ok(false),
        },
        Value::Object(map) => {
            for (name, child) in map.iter_mut() {
                if !seal_secrets(child, current.and_then(|c| c.get(name)), key)? {
                    return Ok(false);
                }
            }
        }
        Value::Array(list) => {
            for (i, child) in list.iter_mut().enumerate() {
                if !seal_secrets(child, current.and_then(|c| c.get(i)), key)? {
                    return Ok(false);
                }
            }
        }
        _ => {}
    }
    Ok(true)
}

/// The dotted paths where two objects differ (lists compare whole).
fn differing_fields(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_differences(old, new, "", &mut out);
    out
}

fn collect_differences(old: &Value, new: &Value, prefix: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let names: BTreeMap<&String, ()> = a.keys().chain(b.keys()).map(|k| (k, ())).collect();
            for name in names.keys() {
                let path = if prefix.is_empty() {
                    (*name).clone()
                } else {
                    format!("{prefix}.{name}")
                };
                match (a.get(*name), b.get(*name)) {
                    (Some(x), Some(y)) => collect_differences(x, y, &path, out),
                    _ => out.push(path),
                }
            }
        }
        (a, b) if a != b => out.push(prefix.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteBackend;
    use std::sync::Arc;

    fn any(_: &str, _: &Value) -> std::result::Result<(), String> {
        Ok(())
    }

    const SECTIONS: &[Section] = &[
        Section {
            name: "users",
            table: "users",
            policy_paths: &["inline.*"],
            check: any,
        },
        Section {
            name: "keys",
            table: "keys",
            policy_paths: &[],
            check: any,
        },
    ];

    fn fresh() -> (tempfile::TempDir, Store, MasterKey) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(Arc::new(SqliteBackend::open(dir.path()).unwrap()));
        let key = MasterKey::load(dir.path(), None).unwrap();
        (dir, store, key)
    }

    fn seed(store: &Store, key: &MasterKey) {
        let mut tx = store.write().unwrap();
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:*","Resource":"*"}]}"#;
        tx.put(
            "users",
            "1/alice",
            &serde_json::json!({ "name": "alice", "inline": { "send": policy } }),
        )
        .unwrap();
        tx.put(
            "keys",
            "AKIA1",
            &serde_json::json!({ "secret": key.seal("s3cret").unwrap() }),
        )
        .unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn embeds_policies_and_redacts_secrets_unless_asked() {
        let (_dir, store, key) = fresh();
        seed(&store, &key);
        let doc = export(&store, SECTIONS, None).unwrap();
        assert_eq!(
            doc["users"]["1/alice"]["inline"]["send"]["Version"],
            "2012-10-17"
        );
        assert_eq!(
            doc["keys"]["AKIA1"]["secret"],
            serde_json::json!({ REDACTED: true })
        );
        assert!(!doc.to_string().contains("s3cret"));
        let with = export(&store, SECTIONS, Some(&key)).unwrap();
        assert_eq!(with["keys"]["AKIA1"]["secret"][PLAINTEXT], "s3cret");
    }

    #[test]
    fn import_round_trips_and_is_idempotent() {
        let (_a, source, source_key) = fresh();
        seed(&source, &source_key);
        let doc = export(&source, SECTIONS, Some(&source_key)).unwrap();
        let (_b, target, target_key) = fresh();
        let planned = import(&target, SECTIONS, &target_key, &doc, true).unwrap();
        assert_eq!(planned.len(), 2);
        assert!(export(&target, SECTIONS, None).unwrap()["users"]
            .as_object()
            .unwrap()
            .is_empty());
        let applied = import(&target, SECTIONS, &target_key, &doc, false).unwrap();
        assert_eq!(applied, planned);
        assert_eq!(export(&target, SECTIONS, Some(&target_key)).unwrap(), doc);
        assert!(import(&target, SECTIONS, &target_key, &doc, false)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn reports_changed_fields_removals_and_skips_redacted_secrets() {
        let (_a, source, source_key) = fresh();
        seed(&source, &source_key);
        let mut doc = export(&source, SECTIONS, None).unwrap();
        let (_b, target, target_key) = fresh();
        seed(&target, &target_key);
        doc["users"]["1/alice"]["name"] = "alicia".into();
        doc["keys"]["AKIA2"] = serde_json::json!({ "secret": { REDACTED: true } });
        doc["users"]
            .as_object_mut()
            .unwrap()
            .insert("1/bob".into(), serde_json::json!({}));
        doc["keys"].as_object_mut().unwrap().remove("AKIA1");
        let changes = import(&target, SECTIONS, &target_key, &doc, false).unwrap();
        let summary: Vec<_> = changes
            .iter()
            .map(|c| (c.key.as_str(), c.change.clone()))
            .collect();
        assert_eq!(
            summary[0],
            ("1/alice", Change::Changed(vec!["name".into()]))
        );
        assert_eq!(summary[1], ("1/bob", Change::Added));
        assert!(matches!(summary[2], ("AKIA2", Change::Skipped(_))));
        assert_eq!(summary[3], ("AKIA1", Change::Removed));
    }

    #[test]
    fn rejects_unknown_sections_and_versions() {
        let (_dir, store, key) = fresh();
        let bad = serde_json::json!({ HEADER: { "format_version": 1, "secrets_included": false }, "userz": {} });
        assert!(import(&store, SECTIONS, &key, &bad, true).is_err());
        let old = serde_json::json!({ HEADER: { "format_version": 9, "secrets_included": false } });
        assert!(import(&store, SECTIONS, &key, &old, true).is_err());
    }
}
