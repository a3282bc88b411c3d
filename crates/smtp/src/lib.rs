//! The SMTP interface: it owns the SMTP protocol (command parsing and the session state
//! machine, kept apart from I/O), the listener with STARTTLS and implicit TLS, and
//! SES-style SMTP credentials. Messages go through the same SES send pipeline as the
//! API, and into the same audit trail.

pub mod audit;
pub mod command;
mod server;
pub mod session;
mod submission;
mod tls;

pub use server::{Limits, SmtpServer};
pub use submission::SmtpBackend;
pub use tls::{acceptor, TlsError};
