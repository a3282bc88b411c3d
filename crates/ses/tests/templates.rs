//! Templates: management, test renders, templated sends and their failures.

mod common;

use common::{info, simple, to, world, OWNER};
use ses::model::EventType;
use ses::{Api, Content, SesError, TemplateInput, TemplateParts, TemplateSource};

fn template(name: &str, subject: &str, text: &str) -> TemplateInput {
    TemplateInput {
        name: name.into(),
        parts: TemplateParts {
            subject: Some(subject.into()),
            text: Some(text.into()),
            html: Some("<h1>Hello {{name}}</h1>".into()),
        },
        tags: vec![],
    }
}

fn templated(name: &str, data: &str) -> Content {
    Content::Template {
        source: TemplateSource::Stored {
            name: Some(name.into()),
            arn: None,
        },
        data: data.into(),
        reply_to: vec![],
    }
}

#[test]
fn manage_and_test_render() {
    let w = world();
    let (c, i) = (&w.owner, &info());
    let t = template(
        "Welcome",
        "Greetings, {{name}}!",
        "Dear {{name}}, you like {{animal}}.",
    );
    w.ses.create_template(c, i, Api::V1, t.clone()).unwrap();
    assert!(matches!(
        w.ses.create_template(c, i, Api::V1, t),
        Err(SesError::TemplateAlreadyExists(_))
    ));
    let rendered = w
        .ses
        .test_render_template(
            c,
            i,
            Api::V1,
            "Welcome",
            r#"{"name":"Alejandro","animal":"alligators"}"#,
        )
        .unwrap();
    assert!(
        rendered.contains("Subject: Greetings, Alejandro!"),
        "{rendered}"
    );
    assert!(rendered.contains("Dear Alejandro, you like alligators."));
    assert!(rendered.contains("multipart/alternative"));

    let missing = w
        .ses
        .test_render_template(c, i, Api::V1, "Welcome", r#"{"name":"A"}"#)
        .unwrap_err();
    assert_eq!(missing.v1_code(), "MissingRenderingAttribute");
    let bad_json = w
        .ses
        .test_render_template(c, i, Api::V1, "Welcome", "{not json")
        .unwrap_err();
    assert_eq!(bad_json.v1_code(), "InvalidRenderingParameter");

    let mut changed = template("Welcome", "Hi {{name}}", "x");
    changed.parts.html = None;
    w.ses.update_template(c, i, Api::V2, changed).unwrap();
    let got = w.ses.get_template(c, i, Api::V2, "Welcome").unwrap();
    assert_eq!(got.subject.as_deref(), Some("Hi {{name}}"));
    assert_eq!(got.html, None);

    let invalid = template("Broken", "{{#if x}}", "");
    let e = w.ses.create_template(c, i, Api::V1, invalid).unwrap_err();
    assert_eq!(e.v1_code(), "InvalidTemplate");
    assert_eq!(e.v2_code(), "BadRequestException");

    for n in 0..3 {
        w.ses
            .create_template(c, i, Api::V2, template(&format!("T{n}"), "s", "t"))
            .unwrap();
    }
    let (page, next) = w.ses.list_templates(c, i, Api::V2, None, Some(2)).unwrap();
    assert_eq!(page.len(), 2);
    let (rest, end) = w
        .ses
        .list_templates(c, i, Api::V2, next.as_deref(), Some(2))
        .unwrap();
    assert_eq!(rest.len(), 2);
    assert!(end.is_none());

    w.ses.delete_template(c, i, Api::V1, "Welcome").unwrap();
    w.ses
        .delete_template(c, i, Api::V1, "Welcome")
        .expect("v1 deletes a missing template quietly");
    let e = w.ses.delete_template(c, i, Api::V2, "Welcome").unwrap_err();
    assert_eq!((e.v2_code(), e.v2_status()), ("NotFoundException", 404));
    let e = w.ses.get_template(c, i, Api::V1, "Welcome").unwrap_err();
    assert_eq!((e.v1_code(), e.v1_status()), ("TemplateDoesNotExist", 400));
}

#[test]
fn templated_send_renders_or_records_a_rendering_failure() {
    let w = world();
    let (c, i) = (&w.owner, &info());
    w.verify(OWNER, "example.com");
    w.production(OWNER);
    let t = template(
        "Welcome",
        "Greetings, {{name}}!",
        "Dear {{name}}, you like {{animal}}.",
    );
    w.ses.create_template(c, i, Api::V2, t).unwrap();

    let mut req = simple("news@example.com", to(&["a@example.org"]));
    req.action = "ses:SendTemplatedEmail";
    req.api_version = "1";
    req.content = templated("Welcome", r#"{"name":"Anaya","animal":"angelfish"}"#);
    let sent = w.ses.send(c, i, req.clone()).unwrap();
    let messages = w.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].message_id, sent.message_id);
    assert!(messages[0]
        .raw
        .text()
        .contains("Subject: Greetings, Anaya!"));
    assert!(messages[0]
        .raw
        .text()
        .contains("Dear Anaya, you like angelfish."));

    // A missing attribute: accepted (a message id), nothing delivered, an event kept.
    req.content = templated("Welcome", r#"{"name":"Liu"}"#);
    let failed = w.ses.send(c, i, req.clone()).unwrap();
    assert_eq!(w.messages().len(), 1);
    let events = w.ses.sending_events(OWNER).unwrap();
    let failure = events
        .iter()
        .find(|e| e.message_id == failed.message_id)
        .expect("rendering failure event");
    assert_eq!(failure.event_type, EventType::RenderingFailure);
    assert_eq!(
        failure.detail,
        "Attribute 'animal' is not present in the rendering data."
    );

    req.content = templated("Welcome", "[1, 2]");
    let e = w.ses.send(c, i, req.clone()).unwrap_err();
    assert_eq!(e.v1_code(), "InvalidParameterValue");

    req.content = templated("Nope", "{}");
    let e = w.ses.send(c, i, req).unwrap_err();
    assert_eq!(e.v1_code(), "TemplateDoesNotExist");
    assert_eq!(e.to_string(), "Template Nope does not exist.");
}

#[test]
fn v2_send_authorizes_the_template_and_the_configuration_set() {
    let w = world();
    let i = &info();
    w.verify(OWNER, "example.com");
    w.production(OWNER);
    w.ses
        .create_template(&w.owner, i, Api::V2, template("T", "s {{name}}", "t"))
        .unwrap();
    let identity_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendEmail","Resource":"arn:aws:ses:us-east-1:111111111111:identity/example.com"}]}"#;
    let alice = w.user(&w.owner, "alice", identity_only);
    let mut req = simple("news@example.com", to(&["a@example.org"]));
    req.content = templated("T", r#"{"name":"x"}"#);
    let e = w.ses.send(&alice, i, req.clone()).unwrap_err();
    assert_eq!(e.v2_code(), "AccessDeniedException");
    assert!(e.to_string().contains("template/T"), "{e}");

    let with_template = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendEmail","Resource":["arn:aws:ses:us-east-1:111111111111:identity/example.com","arn:aws:ses:us-east-1:111111111111:template/T"]}]}"#;
    let bob = w.user(&w.owner, "bob", with_template);
    w.ses.send(&bob, i, req.clone()).expect("template allowed");

    req.configuration_set = Some("Set1".into());
    let e = w.ses.send(&bob, i, req).unwrap_err();
    assert!(e.to_string().contains("configuration-set/Set1"), "{e}");
}

#[test]
fn inline_v2_templates_need_no_stored_template() {
    let w = world();
    let (c, i) = (&w.owner, &info());
    w.verify(OWNER, "example.com");
    w.production(OWNER);
    let mut req = simple("news@example.com", to(&["a@example.org"]));
    req.content = Content::Template {
        source: TemplateSource::Inline(TemplateParts {
            subject: Some("Order {{order.id}}".into()),
            text: Some("{{#each order.items}}- {{this}}\n{{/each}}".into()),
            html: None,
        }),
        data: r#"{"order":{"id":7,"items":["tea","cake"]}}"#.into(),
        reply_to: vec![],
    };
    w.ses.send(c, i, req).unwrap();
    let raw = w.messages()[0].raw.text().into_owned();
    assert!(raw.contains("Subject: Order 7"));
    assert!(raw.contains("- tea\r\n- cake\r\n"), "{raw}");
}
