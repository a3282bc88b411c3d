//! `GET /metrics`: Prometheus text exposition of the process's counters and
//! histograms, the outbound queue, and each account's sending statistics and bounce
//! and complaint rates (over the data points GetSendStatistics returns).
//!
//! It is unauthenticated, like the other operator endpoints under `/_sesame/` (a
//! scraper does not sign SigV4 requests). It shows counts, account ids and regions
//! only: never an address, a message, a key or a secret. Deployments that expose the
//! HTTP port beyond their network should filter `/metrics` at the proxy.

use crate::protocol::Reply;
use crate::server::AppState;
use metrics::write_family;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn handle(state: &AppState) -> Reply {
    let mut out = String::with_capacity(8 * 1024);
    metrics::render(&mut out);
    let derived = render_queue(state, &mut out).and_then(|()| render_accounts(state, &mut out));
    match derived {
        Ok(()) => Reply {
            status: 200,
            content_type: CONTENT_TYPE,
            body: out,
        },
        Err(e) => Reply {
            status: 500,
            content_type: CONTENT_TYPE,
            body: format!("# metrics from the store are unavailable: {e}\n"),
        },
    }
}

fn render_queue(state: &AppState, out: &mut String) -> Result<(), ses::SesError> {
    let queue = state.ses.queue_summary()?;
    let age_s = queue.oldest_created_ms.map_or(0.0, |created| {
        (iam::ids::now_ms() - created).max(0) as f64 / 1000.0
    });
    write_family(
        out,
        "sesame_delivery_queue_deliveries",
        "gauge",
        "Queued outbound deliveries (one per message and recipient domain).",
        [(&[][..], queue.deliveries as f64)],
    );
    write_family(
        out,
        "sesame_delivery_queue_pending_recipients",
        "gauge",
        "Recipients still waiting for delivery.",
        [(&[][..], queue.pending_recipients as f64)],
    );
    write_family(
        out,
        "sesame_delivery_queue_oldest_age_seconds",
        "gauge",
        "Age of the oldest queued delivery (0 when the queue is empty).",
        [(&[][..], age_s)],
    );
    Ok(())
}

/// One per-account figure: how to read it from the account's statistics.
type Figure = fn(&ses::observe::AccountReputation) -> f64;

fn render_accounts(state: &AppState, out: &mut String) -> Result<(), ses::SesError> {
    let accounts = state.ses.reputation()?;
    let labels: Vec<[(&str, &str); 2]> = accounts
        .iter()
        .map(|a| {
            [
                ("account", a.account.as_str()),
                ("region", a.region.as_str()),
            ]
        })
        .collect();
    let families: [(&str, &str, Figure); 6] = [
        (
            "sesame_account_delivery_attempts",
            "Delivery attempts in GetSendStatistics' two-week window.",
            |a| a.delivery_attempts as f64,
        ),
        (
            "sesame_account_bounces",
            "Bounces in GetSendStatistics' two-week window.",
            |a| a.bounces as f64,
        ),
        (
            "sesame_account_complaints",
            "Complaints in GetSendStatistics' two-week window.",
            |a| a.complaints as f64,
        ),
        (
            "sesame_account_rejects",
            "Rejects in GetSendStatistics' two-week window.",
            |a| a.rejects as f64,
        ),
        (
            "sesame_account_bounce_rate",
            "Bounces per delivery attempt over the same window.",
            |a| a.bounce_rate(),
        ),
        (
            "sesame_account_complaint_rate",
            "Complaints per delivery attempt over the same window.",
            |a| a.complaint_rate(),
        ),
    ];
    for (name, help, value) in families {
        write_family(
            out,
            name,
            "gauge",
            help,
            labels
                .iter()
                .zip(&accounts)
                .map(|(l, a)| (&l[..], value(a))),
        );
    }
    Ok(())
}
