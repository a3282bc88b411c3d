//! Easy DKIM key pairs are made with the domain identity: stored beside it, the
//! selector its first DKIM token, the private key sealed, deleted with it; and which
//! creation paths turn signing on.

mod common;

use common::{info, world, OWNER, REGION};
use ses::dkim_key::{self, StoredKey};
use ses::model::Identity;

fn stored_key(w: &common::World, identity: &Identity) -> Option<std::sync::Arc<StoredKey>> {
    dkim_key::load(w.iam.store(), identity).unwrap()
}

#[test]
fn a_domain_identity_is_created_with_its_key_pair() {
    let w = world();
    let identity = w
        .ses
        .verify_domain_dkim(&w.owner, &info(), "Keys.Example")
        .unwrap();
    assert!(
        identity.dkim_enabled,
        "v2 CreateEmailIdentity signs by default"
    );
    let key = stored_key(&w, &identity).expect("the key exists as soon as the identity");
    assert_eq!(key.domain, "keys.example");
    assert_eq!(key.selector, identity.dkim_tokens[0]);
    assert_eq!(
        key.record_name(),
        format!("{}._domainkey.keys.example", identity.dkim_tokens[0])
    );
    assert!(key.record_text().starts_with("v=DKIM1; k=rsa; p=MII"));
    // PKCS#1 RSA-2048 public key: 270 bytes of DER, 360 characters of Base64.
    assert_eq!(key.public_key.len(), 360);
    // The private key is sealed: neither the stored document nor Debug shows it.
    let private = w.iam.master_key().open(&key.private_key).unwrap();
    let document = serde_json::to_string(&*key).unwrap();
    assert!(!document.contains(private.trim()));
    assert!(!format!("{key:?}").contains(private.trim()));

    // Asking again keeps the identity and its key.
    let again = w
        .ses
        .verify_domain_dkim(&w.owner, &info(), "keys.example")
        .unwrap();
    assert_eq!(again.dkim_tokens, identity.dkim_tokens);
    assert_eq!(stored_key(&w, &again).unwrap().public_key, key.public_key);
}

#[test]
fn verify_domain_identity_makes_the_key_with_signing_off() {
    let w = world();
    let identity = w
        .ses
        .verify_domain(&w.owner, &info(), "plain.example")
        .unwrap();
    assert!(!identity.dkim_enabled);
    assert!(stored_key(&w, &identity).is_some());
    // VerifyDomainDkim afterwards turns signing on, same tokens and key.
    let dkim = w
        .ses
        .verify_domain_dkim(&w.owner, &info(), "plain.example")
        .unwrap();
    assert!(dkim.dkim_enabled);
    assert_eq!(dkim.dkim_tokens, identity.dkim_tokens);
    let reloaded = w
        .ses
        .get_identity(&w.owner, &info(), "ses:GetEmailIdentity", "plain.example")
        .unwrap()
        .unwrap();
    assert!(reloaded.dkim_enabled);
}

#[test]
fn operator_verification_creates_the_key_and_turns_signing_on() {
    let w = world();
    let identity = w
        .ses
        .mark_verified(OWNER, REGION, "operator.example")
        .unwrap();
    assert!(identity.verified && identity.dkim_verified && identity.dkim_enabled);
    let key = stored_key(&w, &identity).expect("key made with the identity");
    assert_eq!(key.selector, identity.dkim_tokens[0]);
    // An address identity has no key of its own.
    let address = w
        .ses
        .mark_verified(OWNER, REGION, "someone@operator.example")
        .unwrap();
    assert!(stored_key(&w, &address).is_none());
}

#[test]
fn deleting_the_identity_deletes_its_key() {
    let w = world();
    let identity = w
        .ses
        .verify_domain_dkim(&w.owner, &info(), "gone.example")
        .unwrap();
    assert!(stored_key(&w, &identity).is_some());
    w.ses
        .delete_identity(&w.owner, &info(), "gone.example")
        .unwrap();
    assert!(stored_key(&w, &identity).is_none());
}

#[test]
fn ensure_repairs_an_identity_without_a_key() {
    let w = world();
    let identity = w
        .ses
        .verify_domain_dkim(&w.owner, &info(), "old.example")
        .unwrap();
    let store = w.iam.store();
    let mut tx = store.write().unwrap();
    tx.delete(dkim_key::TABLE, &dkim_key::key_of(&identity))
        .unwrap();
    tx.commit().unwrap();
    assert!(stored_key(&w, &identity).is_none());
    let made = dkim_key::ensure(store, w.iam.master_key(), &identity).unwrap();
    assert_eq!(made.selector, identity.dkim_tokens[0]);
    let kept = dkim_key::ensure(store, w.iam.master_key(), &identity).unwrap();
    assert_eq!(kept.public_key, made.public_key);
}
