//! Process-wide counters and histograms for Prometheus `/metrics`, and their text
//! exposition. Every metric is a static of fixed shape (labels are enums, not strings
//! built per request), so recording is one or two relaxed atomic adds: no lock and no
//! allocation on the send path. Values derived from the store (queue depth, per-account
//! rates) are rendered by their owners with [`write_family`].

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing count.
pub struct Counter(AtomicU64);

impl Counter {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds (seconds) of the latency histograms' buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram over [`LATENCY_BUCKETS`] (non-cumulative counts; rendering
/// accumulates them).
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Histogram {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; LATENCY_BUCKETS.len()],
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, elapsed: std::time::Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&le| seconds <= le) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Declares a label enum with its Prometheus label values, in order.
macro_rules! label_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $label:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }
    };
}

label_enum!(
    /// Why a send request (or one bulk entry) was refused.
    RejectReason {
        AccessDenied => "access_denied",
        NotVerified => "not_verified",
        MessageRejected => "message_rejected",
        Throttled => "throttled",
        DailyQuotaExceeded => "daily_quota_exceeded",
        AccountPaused => "account_sending_paused",
        ConfigurationSetPaused => "configuration_set_sending_paused",
        InvalidRequest => "invalid_request",
        Internal => "internal_error",
    }
);

label_enum!(
    /// How an authorization ended.
    Outcome {
        Allowed => "allowed",
        ExplicitDeny => "explicit_deny",
        ImplicitDeny => "implicit_deny",
    }
);

label_enum!(
    /// The policy layer that decided: the denying layer, or the allowing statement's
    /// (`none`: allowed without a statement, as the account root is).
    Layer {
        Scp => "scp",
        Rcp => "rcp",
        Resource => "resource",
        Identity => "identity",
        Boundary => "boundary",
        Session => "session",
        NoStatement => "none",
    }
);

label_enum!(
    /// The API a request came in on.
    Api {
        Iam => "iam",
        Sts => "sts",
        SesV1 => "ses",
        SesV2 => "sesv2",
        Json => "json",
        Internal => "internal",
    }
);

label_enum!(
    /// What one delivery attempt did for one recipient.
    DeliveryResult {
        Delivered => "delivered",
        Bounced => "bounced",
        Deferred => "deferred",
    }
);

/// Messages accepted (sends that returned a message id and were stored).
pub static MESSAGES_ACCEPTED: Counter = Counter::new();
/// Recipients of accepted messages (after suppression).
pub static RECIPIENTS_ACCEPTED: Counter = Counter::new();
static REJECTIONS: [Counter; RejectReason::ALL.len()] =
    [const { Counter::new() }; RejectReason::ALL.len()];
static DECISIONS: [[Counter; Layer::ALL.len()]; Outcome::ALL.len()] =
    [const { [const { Counter::new() }; Layer::ALL.len()] }; Outcome::ALL.len()];
static DELIVERY: [Counter; DeliveryResult::ALL.len()] =
    [const { Counter::new() }; DeliveryResult::ALL.len()];
/// What the sending statistics (GetSendStatistics) counted, as it counted it.
pub static STAT_DELIVERY_ATTEMPTS: Counter = Counter::new();
pub static STAT_BOUNCES: Counter = Counter::new();
pub static STAT_COMPLAINTS: Counter = Counter::new();
pub static STAT_REJECTS: Counter = Counter::new();
static LATENCY: [Histogram; Api::ALL.len()] = [const { Histogram::new() }; Api::ALL.len()];

pub fn reject(reason: RejectReason) {
    REJECTIONS[reason as usize].inc();
}

pub fn decision(outcome: Outcome, layer: Layer) {
    DECISIONS[outcome as usize][layer as usize].inc();
}

pub fn delivery(result: DeliveryResult, recipients: usize) {
    DELIVERY[result as usize].add(recipients as u64);
}

pub fn request_latency(api: Api, elapsed: std::time::Duration) {
    LATENCY[api as usize].observe(elapsed);
}

/// One metric family: `# HELP`, `# TYPE` and its samples (label pairs, value).
pub fn write_family<'a>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: impl IntoIterator<Item = (&'a [(&'a str, &'a str)], f64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        write_sample(out, name, labels, value);
    }
}

fn write_sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", number(value));
}

/// Label values escaped as the text format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{value}")
    }
}

/// The process's counters and histograms in the text exposition format.
pub fn render(out: &mut String) {
    let single = |c: &Counter| [(&[][..], c.get() as f64)];
    write_family(
        out,
        "sesame_messages_accepted_total",
        "counter",
        "Messages accepted for sending.",
        single(&MESSAGES_ACCEPTED),
    );
    write_family(
        out,
        "sesame_recipients_accepted_total",
        "counter",
        "Recipients of accepted messages, after suppression.",
        single(&RECIPIENTS_ACCEPTED),
    );
    let rejections: Vec<[(&str, &str); 1]> = RejectReason::ALL
        .iter()
        .map(|r| [("reason", r.label())])
        .collect();
    write_family(
        out,
        "sesame_send_rejections_total",
        "counter",
        "Send requests (or bulk entries) refused, by reason.",
        rejections
            .iter()
            .zip(&REJECTIONS)
            .map(|(l, c)| (&l[..], c.get() as f64)),
    );
    let mut decisions = Vec::new();
    for outcome in Outcome::ALL {
        for layer in Layer::ALL {
            decisions.push((
                [("outcome", outcome.label()), ("layer", layer.label())],
                DECISIONS[*outcome as usize][*layer as usize].get(),
            ));
        }
    }
    write_family(
        out,
        "sesame_authorization_decisions_total",
        "counter",
        "Authorization decisions by outcome and deciding policy layer.",
        decisions.iter().map(|(l, v)| (&l[..], *v as f64)),
    );
    let results: Vec<[(&str, &str); 1]> = DeliveryResult::ALL
        .iter()
        .map(|r| [("result", r.label())])
        .collect();
    write_family(
        out,
        "sesame_delivery_recipients_total",
        "counter",
        "Outbound delivery attempts per recipient, by result.",
        results
            .iter()
            .zip(&DELIVERY)
            .map(|(l, c)| (&l[..], c.get() as f64)),
    );
    write_family(
        out,
        "sesame_statistics_delivery_attempts_total",
        "counter",
        "Delivery attempts counted in the sending statistics.",
        single(&STAT_DELIVERY_ATTEMPTS),
    );
    write_family(
        out,
        "sesame_statistics_bounces_total",
        "counter",
        "Bounces counted in the sending statistics.",
        single(&STAT_BOUNCES),
    );
    write_family(
        out,
        "sesame_statistics_complaints_total",
        "counter",
        "Complaints counted in the sending statistics.",
        single(&STAT_COMPLAINTS),
    );
    write_family(
        out,
        "sesame_statistics_rejects_total",
        "counter",
        "Rejects counted in the sending statistics.",
        single(&STAT_REJECTS),
    );
    render_latency(out);
}

fn render_latency(out: &mut String) {
    let name = "sesame_request_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time to answer an HTTP API request, by API."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    for api in Api::ALL {
        let h = &LATENCY[*api as usize];
        let mut cumulative = 0;
        for (le, bucket) in LATENCY_BUCKETS.iter().zip(&h.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = le.to_string();
            write_sample(
                out,
                &format!("{name}_bucket"),
                &[("api", api.label()), ("le", &le)],
                cumulative as f64,
            );
        }
        let count = h.count.load(Ordering::Relaxed);
        write_sample(
            out,
            &format!("{name}_bucket"),
            &[("api", api.label()), ("le", "+Inf")],
            count as f64,
        );
        let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        write_sample(out, &format!("{name}_sum"), &[("api", api.label())], sum);
        write_sample(
            out,
            &format!("{name}_count"),
            &[("api", api.label())],
            count as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_the_count() {
        request_latency(Api::Internal, std::time::Duration::from_micros(300));
        request_latency(Api::Internal, std::time::Duration::from_millis(30));
        request_latency(Api::Internal, std::time::Duration::from_secs(60));
        let mut out = String::new();
        render(&mut out);
        let line = |needle: &str| {
            out.lines()
                .find(|l| l.starts_with(needle))
                .unwrap_or_else(|| panic!("no {needle} in\n{out}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .to_string()
        };
        let b = "sesame_request_duration_seconds_bucket{api=\"internal\",";
        assert_eq!(line(&format!("{b}le=\"0.0005\"}}")), "1");
        assert_eq!(line(&format!("{b}le=\"0.05\"}}")), "2");
        assert_eq!(line(&format!("{b}le=\"10\"}}")), "2");
        assert_eq!(line(&format!("{b}le=\"+Inf\"}}")), "3");
        assert_eq!(
            line("sesame_request_duration_seconds_count{api=\"internal\"}"),
            "3"
        );
    }

    #[test]
    fn counters_render_with_their_labels_and_escape_values() {
        reject(RejectReason::Throttled);
        decision(Outcome::ExplicitDeny, Layer::Scp);
        let mut out = String::new();
        render(&mut out);
        assert!(
            out.contains("sesame_send_rejections_total{reason=\"throttled\"} 1\n"),
            "{out}"
        );
        assert!(out.contains(
            "sesame_authorization_decisions_total{outcome=\"explicit_deny\",layer=\"scp\"} 1\n"
        ));
        assert!(out.contains("# TYPE sesame_request_duration_seconds histogram\n"));
        let mut gauge = String::new();
        write_family(
            &mut gauge,
            "g",
            "gauge",
            "h",
            [(&[("a", "x\"y\\z")][..], 0.5)],
        );
        assert_eq!(
            gauge,
            "# HELP g h\n# TYPE g gauge\ng{a=\"x\\\"y\\\\z\"} 0.5\n"
        );
    }
}
