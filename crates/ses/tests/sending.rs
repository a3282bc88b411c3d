//! The send pipeline's additions: bulk sends, the suppression list, statistics
//! attributed to the delegate, configuration sets, the production access request.

mod common;

use common::{info, simple, to, world, DELEGATE, OWNER, REGION};
use ses::model::{
    ConfigurationSetOptions, EventDestination, EventTarget, EventType, SuppressionReason,
};
use ses::{
    Api, BulkEntry, BulkOutcome, BulkStatus, ConfigurationSetInput, Content, SesError,
    TemplateInput, TemplateParts, TemplateSource,
};

fn bulk_request(from: &str) -> ses::SendRequest {
    let mut req = simple(from, to(&[]));
    req.action = "ses:SendBulkTemplatedEmail";
    req.api_version = "1";
    req.content = Content::Template {
        source: TemplateSource::Stored {
            name: Some("Bulk".into()),
            arn: None,
        },
        data: r#"{"name":"friend","animal":"unknown"}"#.into(),
        reply_to: vec![],
    };
    req
}

fn entry(address: &str, data: Option<&str>) -> BulkEntry {
    BulkEntry {
        destination: to(&[address]),
        replacement_data: data.map(str::to_string),
    }
}

fn bulk_template(w: &common::World) {
    let t = TemplateInput {
        name: "Bulk".into(),
        parts: TemplateParts {
            subject: Some("Hi {{name}}".into()),
            text: Some("{{name}} likes {{animal}}".into()),
            html: None,
        },
        tags: vec![],
    };
    w.ses
        .create_template(&w.owner, &info(), Api::V1, t)
        .unwrap();
}

#[test]
fn bulk_sends_report_a_status_per_destination() {
    let w = world();
    let i = &info();
    w.verify(OWNER, "example.com");
    w.production(OWNER);
    bulk_template(&w);
    let entries = vec![
        entry(
            "anaya@example.org",
            Some(r#"{"name":"Anaya","animal":"angelfish"}"#),
        ),
        entry("richard@example.org", Some("{}")),
        entry("not an address", None),
        entry("liu@example.org", Some("not json")),
    ];
    let outcomes = w
        .ses
        .send_bulk(&w.owner, i, bulk_request("news@example.com"), entries)
        .unwrap();
    assert_eq!(outcomes.len(), 4);
    assert!(matches!(outcomes[0], BulkOutcome::Sent { .. }));
    assert!(matches!(outcomes[1], BulkOutcome::Sent { .. }));
    assert!(matches!(
        &outcomes[2],
        BulkOutcome::Failed {
            status: BulkStatus::InvalidParameterValue,
            ..
        }
    ));
    assert!(matches!(
        &outcomes[3],
        BulkOutcome::Failed {
            status: BulkStatus::InvalidParameterValue,
            ..
        }
    ));
    let messages = w.messages();
    assert_eq!(messages.len(), 2);
    assert!(messages[0].raw.text().contains("Anaya likes angelfish"));
    assert!(
        messages[1].raw.text().contains("friend likes unknown"),
        "an empty replacement keeps the defaults"
    );

    let e = w
        .ses
        .send_bulk(
            &w.owner,
            i,
            bulk_request("news@unverified.example"),
            vec![entry("a@example.org", None)],
        )
        .unwrap_err();
    assert_eq!(
        e.v1_code(),
        "MessageRejected",
        "a call-level failure is an error"
    );
    let e = w
        .ses
        .send_bulk(&w.owner, i, bulk_request("news@example.com"), vec![])
        .unwrap_err();
    assert_eq!(e.v1_code(), "InvalidParameterValue");
}

#[test]
fn bulk_in_the_sandbox_rejects_unverified_destinations_only() {
    let w = world();
    let i = &info();
    w.verify(OWNER, "example.com");
    w.verify(OWNER, "friend@example.net");
    bulk_template(&w);
    let outcomes = w
        .ses
        .send_bulk(
            &w.owner,
            i,
            bulk_request("news@example.com"),
            vec![
                entry("friend@example.net", None),
                entry("stranger@example.org", None),
            ],
        )
        .unwrap();
    assert!(matches!(outcomes[0], BulkOutcome::Sent { .. }));
    match &outcomes[1] {
        BulkOutcome::Failed { status, error } => {
            assert_eq!(status.v1_name(), "MessageRejected");
            assert_eq!(status.v2_name(), "MESSAGE_REJECTED");
            assert!(error.contains("stranger@example.org"), "{error}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn suppressed_recipients_are_dropped_and_recorded() {
    let w = world();
    let (c, i) = (&w.owner, &info());
    w.verify(OWNER, "example.com");
    w.production(OWNER);
    w.ses
        .put_suppressed_destination(c, i, "gone@example.org", SuppressionReason::Bounce)
        .unwrap();
    w.ses
        .put_suppressed_destination(c, i, "angry@example.org", SuppressionReason::Complaint)
        .unwrap();
    assert!(w
        .ses
        .put_suppressed_destination(c, i, "Name <x@example.org>", SuppressionReason::Bounce)
        .is_err());

    w.ses
        .send(
            c,
            i,
            simple(
                "news@example.com",
                to(&["Gone@Example.org", "ok@example.org"]),
            ),
        )
        .unwrap();
    let m = &w.messages()[0];
    assert_eq!(m.destination, ["ok@example.org"]);
    assert_eq!(m.suppressed.len(), 1);
    assert_eq!(m.suppressed[0].address, "Gone@Example.org");
    assert_eq!(m.suppressed[0].reason, SuppressionReason::Bounce);
    let bounce = w.ses.sending_events(OWNER).unwrap();
    assert_eq!(bounce[0].event_type, EventType::Bounce);
    assert!(bounce[0].detail.starts_with("OnAccountSuppressionList"));

    let all = w
        .ses
        .send(
            c,
            i,
            simple(
                "news@example.com",
                to(&["gone@example.org", "angry@example.org"]),
            ),
        )
        .expect("accepted although every recipient is suppressed");
    let m = w.messages().pop().unwrap();
    assert_eq!(m.message_id, all.message_id);
    assert!(m.destination.is_empty());
    assert_eq!(m.suppressed.len(), 2);

    // Only BOUNCE applies now.
    w.ses
        .put_account_suppression_attributes(c, i, vec![SuppressionReason::Bounce])
        .unwrap();
    w.ses
        .send(c, i, simple("news@example.com", to(&["angry@example.org"])))
        .unwrap();
    assert_eq!(
        w.messages().pop().unwrap().destination,
        ["angry@example.org"]
    );

    // A configuration set's own reasons override the account's.
    let set = ConfigurationSetInput {
        name: "NoSuppression".into(),
        sending_enabled: true,
        options: ConfigurationSetOptions {
            suppressed_reasons: Some(vec![]),
            ..Default::default()
        },
        tags: vec![],
    };
    w.ses.create_configuration_set(c, i, set).unwrap();
    let mut req = simple("news@example.com", to(&["gone@example.org"]));
    req.configuration_set = Some("NoSuppression".into());
    w.ses.send(c, i, req).unwrap();
    assert_eq!(
        w.messages().pop().unwrap().destination,
        ["gone@example.org"]
    );

    let filter = ses::SuppressionFilter {
        reasons: vec![SuppressionReason::Complaint],
        ..Default::default()
    };
    let (listed, _) = w
        .ses
        .list_suppressed_destinations(c, i, &filter, None, None)
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].email_address, "angry@example.org");
    let future = ses::SuppressionFilter {
        start_ms: Some(iam::ids::now_ms() + 60_000),
        ..Default::default()
    };
    assert!(w
        .ses
        .list_suppressed_destinations(c, i, &future, None, None)
        .unwrap()
        .0
        .is_empty());
    w.ses
        .delete_suppressed_destination(c, i, "GONE@example.org")
        .unwrap();
    let e = w
        .ses
        .get_suppressed_destination(c, i, "gone@example.org")
        .unwrap_err();
    assert_eq!(e.v2_code(), "NotFoundException");
}

#[test]
fn statistics_count_against_the_delegate() {
    let w = world();
    let i = &info();
    w.ses
        .verify_email(&w.delegate, i, "someone@example.net")
        .expect("a verification mail, not counted as sending");
    w.verify(OWNER, "example.com");
    w.production(DELEGATE);
    w.production(OWNER);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"ses:SendEmail","Resource":"arn:aws:ses:us-east-1:111111111111:identity/example.com"}]}"#;
    w.ses
        .put_policy(&w.owner, i, "example.com", "delegate", policy)
        .unwrap();
    let mut req = simple(
        "news@example.com",
        to(&[
            "a@example.org",
            "bounce@simulator.amazonses.com",
            "complaint@simulator.amazonses.com",
        ]),
    );
    req.source_arn = Some(format!("arn:aws:ses:{REGION}:{OWNER}:identity/example.com"));
    w.ses.send(&w.delegate, i, req).unwrap();

    let mine = w.ses.send_statistics(&w.delegate, i).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].delivery_attempts, 3);
    assert_eq!(
        (mine[0].bounces, mine[0].complaints),
        (0, 0),
        "the mailbox simulator's bounces and complaints touch no reputation metric"
    );
    assert_eq!(mine[0].rejects, 0);
    assert_eq!(mine[0].timestamp_ms % (15 * 60 * 1000), 0);
    assert!(
        w.ses.send_statistics(&w.owner, i).unwrap().is_empty(),
        "the identity owner's statistics do not move"
    );
    let (_, _, sent) = w.ses.send_quota(&w.delegate, i).unwrap();
    assert_eq!(
        sent, 1,
        "the delegate's quota is used, by the regular recipient only (not the simulator's)"
    );
    assert_eq!(w.messages()[0].account, DELEGATE);
}

#[test]
fn configuration_sets_pause_and_hold_event_destinations() {
    let w = world();
    let (c, i) = (&w.owner, &info());
    w.verify(OWNER, "example.com");
    w.production(OWNER);
    let set = ConfigurationSetInput {
        name: "Marketing".into(),
        sending_enabled: true,
        options: Default::default(),
        tags: vec![],
    };
    w.ses.create_configuration_set(c, i, set.clone()).unwrap();
    let e = w.ses.create_configuration_set(c, i, set).unwrap_err();
    assert_eq!(e.v1_code(), "ConfigurationSetAlreadyExists");
    let bad = ConfigurationSetInput {
        name: "bad name".into(),
        sending_enabled: true,
        options: Default::default(),
        tags: vec![],
    };
    assert_eq!(
        w.ses
            .create_configuration_set(c, i, bad)
            .unwrap_err()
            .v1_code(),
        "InvalidConfigurationSet"
    );

    let sns = EventDestination {
        name: "to-sns".into(),
        enabled: true,
        matching_event_types: vec![EventType::Bounce, EventType::RenderingFailure],
        target: EventTarget::Sns {
            topic_arn: "arn:aws:sns:us-east-1:111111111111:events".into(),
        },
    };
    w.ses
        .create_event_destination(c, i, "Marketing", sns.clone())
        .unwrap();
    assert_eq!(
        w.ses
            .create_event_destination(c, i, "Marketing", sns.clone())
            .unwrap_err()
            .v1_code(),
        "EventDestinationAlreadyExists"
    );
    let mut broken = sns.clone();
    broken.target = EventTarget::Sns {
        topic_arn: "not-an-arn".into(),
    };
    assert_eq!(
        w.ses
            .update_event_destination(c, i, "Marketing", broken)
            .unwrap_err()
            .v1_code(),
        "InvalidSNSDestination"
    );
    let mut disabled = sns.clone();
    disabled.enabled = false;
    w.ses
        .update_event_destination(c, i, "Marketing", disabled)
        .unwrap();
    let got = w.ses.get_event_destinations(c, i, "Marketing").unwrap();
    assert_eq!(got.len(), 1);
    assert!(!got[0].enabled);
    let e = w
        .ses
        .delete_event_destination(c, i, "Marketing", "nope")
        .unwrap_err();
    assert_eq!(
        (e.v1_code(), e.v2_code()),
        ("EventDestinationDoesNotExist", "NotFoundException")
    );

    let mut req = simple("news@example.com", to(&["a@example.org"]));
    req.configuration_set = Some("Marketing".into());
    w.ses.send(c, i, req.clone()).unwrap();
    assert_eq!(
        w.messages()[0].configuration_set.as_deref(),
        Some("Marketing")
    );

    w.ses
        .set_configuration_set_sending(c, i, Api::V1, "Marketing", false)
        .unwrap();
    let e = w.ses.send(c, i, req.clone()).unwrap_err();
    assert!(matches!(e, SesError::ConfigurationSetSendingPaused(_)));
    assert_eq!(e.v1_code(), "ConfigurationSetSendingPausedException");
    assert_eq!(e.v2_code(), "SendingPausedException");

    req.configuration_set = Some("Missing".into());
    let e = w.ses.send(c, i, req).unwrap_err();
    assert_eq!(e.v1_code(), "ConfigurationSetDoesNotExist");
    assert_eq!(e.to_string(), "Configuration set <Missing> does not exist.");

    w.ses.delete_configuration_set(c, i, "Marketing").unwrap();
    assert_eq!(
        w.ses
            .delete_configuration_set(c, i, "Marketing")
            .unwrap_err()
            .v2_status(),
        404
    );
}

#[test]
fn production_access_requests_wait_for_the_operator() {
    let w = world();
    let (c, i) = (&w.owner, &info());
    let details = ses::AccountDetailsInput {
        mail_type: "TRANSACTIONAL".into(),
        website_url: "https://example.com".into(),
        use_case_description: Some("receipts".into()),
        production_access_enabled: true,
        ..Default::default()
    };
    w.ses.put_account_details(c, i, details.clone()).unwrap();
    let settings = w.ses.settings(OWNER, REGION).unwrap();
    assert!(!settings.production, "a request does not grant access");
    assert_eq!(
        settings.details.as_ref().unwrap().review_status.as_deref(),
        Some("PENDING")
    );
    assert_eq!(
        w.ses
            .put_account_details(c, i, details)
            .unwrap_err()
            .v2_code(),
        "ConflictException"
    );
    w.production(OWNER);
    let settings = w.ses.settings(OWNER, REGION).unwrap();
    assert!(settings.production);
    assert_eq!(
        settings.details.unwrap().review_status.as_deref(),
        Some("GRANTED")
    );
    let bad = ses::AccountDetailsInput {
        mail_type: "SPAM".into(),
        website_url: "https://example.com".into(),
        ..Default::default()
    };
    assert_eq!(
        w.ses.put_account_details(c, i, bad).unwrap_err().v2_code(),
        "BadRequestException"
    );
}

#[test]
fn message_and_recipient_limits() {
    let w = world();
    let (c, i) = (&w.owner, &info());
    w.verify(OWNER, "example.com");
    w.production(OWNER);
    let many: Vec<String> = (0..51).map(|n| format!("r{n}@example.org")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let e = w
        .ses
        .send(c, i, simple("news@example.com", to(&refs)))
        .unwrap_err();
    assert_eq!(e.to_string(), "Recipient count exceeds 50.");

    let mut big = simple("news@example.com", to(&["a@example.org"]));
    big.api_version = "1";
    big.content = Content::Simple {
        subject: "big".into(),
        text: Some("x".repeat(10 * 1024 * 1024 + 1)),
        html: None,
        reply_to: vec![],
    };
    let e = w.ses.send(c, i, big.clone()).unwrap_err();
    assert_eq!(e.v1_code(), "MessageRejected");
    big.api_version = "2";
    w.ses.send(c, i, big).expect("v2 takes up to 40 MB");
}
