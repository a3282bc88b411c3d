//! A send is reported accepted once the spool's group commit has stored its message,
//! also when async code awaits the commit; Sesame's own mail is still accepted when
//! it is sent from an async task.

mod common;

use common::{info, simple, to, world, OWNER};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

#[test]
fn an_awaited_send_is_stored_once_its_commit_completes() {
    let w = world();
    w.verify(OWNER, "example.com");
    w.production(OWNER);
    let pending = w
        .ses
        .send_pending(
            &w.owner,
            &info(),
            simple("news@example.com", to(&["reader@example.org"])),
        )
        .expect("handed to the spool");
    let id = pending.message_id.clone();
    let sent = runtime().block_on(pending.completed()).expect("committed");
    assert_eq!(sent.message_id, id);
    let stored: Vec<String> = w.messages().into_iter().map(|m| m.message_id).collect();
    assert_eq!(stored, vec![id]);
}

#[test]
fn own_mail_is_accepted_from_an_async_task() {
    let w = world();
    runtime()
        .block_on(async { w.ses.verify_email(&w.owner, &info(), "someone@example.net") })
        .expect("verification mail accepted");
    let messages = w.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].destination, vec!["someone@example.net"]);
}
