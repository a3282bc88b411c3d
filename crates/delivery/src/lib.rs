//! Outbound delivery: works off the durable queue the SES spool fills (one record
//! per accepted message and recipient domain), through a smarthost (`relay`) or the
//! recipients' MX hosts (`mx`), with retries, bounces, Easy DKIM signing and SES
//! sending events. Nothing here is on the accept path: `kill -9` at any moment
//! loses no accepted message, and a delivery recorded as done is never repeated.

pub mod bounce;
pub mod client;
pub mod config;
pub mod dkim;
pub mod dns;
pub mod events;
mod feedback_mail;
pub mod inbound;
mod journal;
mod mx;
mod notification;
pub mod outbox;
pub mod reply;
pub mod report;
pub mod router;
pub mod simulator;
pub mod sns;
mod tls;
pub mod verp;
pub mod webhook;
mod worker;

pub use config::{parse_relay, Config, Mode};
pub use events::EventSink;
pub use outbox::Outbox;
pub use router::{EventRouter, RouterConfig};
pub use worker::{Deliverer, Feedback, FeedbackHook};
