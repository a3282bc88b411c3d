//! SES v1 configuration sets: CreateConfigurationSet, DescribeConfigurationSet,
//! DeleteConfigurationSet, ListConfigurationSets, the event destination operations
//! and UpdateConfigurationSetSendingEnabled.

use super::{bool_text, count_members, err};
use crate::protocol::{ApiError, Call, Params};
use crate::xml::Xml;
use ses::model::{
    CloudWatchDimension, ConfigurationSet, ConfigurationSetOptions, DimensionSource,
    EventDestination, EventTarget, EventType,
};
use ses::{Api, ConfigurationSetInput, Ses};

pub fn handle(ses: &Ses, call: &Call, p: &Params, x: &mut Xml) -> Result<bool, ApiError> {
    let (c, i) = (call.caller.as_ref(), &call.info);
    match call.action.as_str() {
        "CreateConfigurationSet" => {
            let input = ConfigurationSetInput {
                name: p.required("ConfigurationSet.Name")?.to_string(),
                sending_enabled: true,
                options: ConfigurationSetOptions::default(),
                tags: Vec::new(),
            };
            ses.create_configuration_set(c, i, input).map_err(err)?;
        }
        "DescribeConfigurationSet" => {
            let name = p.required("ConfigurationSetName")?;
            let set = ses
                .get_configuration_set(c, i, "ses:DescribeConfigurationSet", name)
                .map_err(err)?;
            describe(&set, &p.members("ConfigurationSetAttributeNames"), x);
        }
        "DeleteConfigurationSet" => ses
            .delete_configuration_set(c, i, p.required("ConfigurationSetName")?)
            .map_err(err)?,
        "ListConfigurationSets" => {
            let (sets, next) = ses
                .list_configuration_sets(c, i, p.get("NextToken"), p.integer("MaxItems")?)
                .map_err(err)?;
            x.open("ConfigurationSets");
            for set in &sets {
                x.open("member").leaf("Name", &set.name).close("member");
            }
            x.close("ConfigurationSets")
                .leaf_opt("NextToken", next.as_deref());
        }
        "CreateConfigurationSetEventDestination" => ses
            .create_event_destination(
                c,
                i,
                p.required("ConfigurationSetName")?,
                event_destination(p)?,
            )
            .map_err(err)?,
        "UpdateConfigurationSetEventDestination" => ses
            .update_event_destination(
                c,
                i,
                p.required("ConfigurationSetName")?,
                event_destination(p)?,
            )
            .map_err(err)?,
        "DeleteConfigurationSetEventDestination" => ses
            .delete_event_destination(
                c,
                i,
                p.required("ConfigurationSetName")?,
                p.required("EventDestinationName")?,
            )
            .map_err(err)?,
        "UpdateConfigurationSetSendingEnabled" => {
            let enabled = p.required("Enabled")?.eq_ignore_ascii_case("true");
            let name = p.required("ConfigurationSetName")?;
            ses.set_configuration_set_sending(c, i, Api::V1, name, enabled)
                .map_err(err)?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// DescribeConfigurationSet's result: the name, and the attribute groups asked for.
fn describe(set: &ConfigurationSet, attributes: &[&str], x: &mut Xml) {
    x.open("ConfigurationSet")
        .leaf("Name", &set.name)
        .close("ConfigurationSet");
    if attributes.contains(&"eventDestinations") {
        x.open("EventDestinations");
        for d in &set.event_destinations {
            event_destination_xml(d, x);
        }
        x.close("EventDestinations");
    }
    if attributes.contains(&"trackingOptions") {
        if let Some(domain) = &set.options.custom_redirect_domain {
            x.open("TrackingOptions")
                .leaf("CustomRedirectDomain", domain)
                .close("TrackingOptions");
        }
    }
    if attributes.contains(&"deliveryOptions") {
        if let Some(tls) = &set.options.tls_policy {
            let v1 = if tls == "REQUIRE" {
                "Require"
            } else {
                "Optional"
            };
            x.open("DeliveryOptions")
                .leaf("TlsPolicy", v1)
                .close("DeliveryOptions");
        }
    }
    if attributes.contains(&"reputationOptions") {
        x.open("ReputationOptions")
            .leaf("SendingEnabled", bool_text(set.sending_enabled))
            .leaf(
                "ReputationMetricsEnabled",
                bool_text(set.options.reputation_metrics_enabled),
            )
            .close("ReputationOptions");
    }
}

fn event_destination_xml(d: &EventDestination, x: &mut Xml) {
    x.open("member")
        .leaf("Name", &d.name)
        .leaf("Enabled", bool_text(d.enabled))
        .open("MatchingEventTypes");
    for t in &d.matching_event_types {
        x.leaf("member", t.v1_name());
    }
    x.close("MatchingEventTypes");
    match &d.target {
        EventTarget::Sns { topic_arn } => {
            x.open("SNSDestination")
                .leaf("TopicARN", topic_arn)
                .close("SNSDestination");
        }
        EventTarget::KinesisFirehose {
            iam_role_arn,
            delivery_stream_arn,
        } => {
            x.open("KinesisFirehoseDestination")
                .leaf("IAMRoleARN", iam_role_arn)
                .leaf("DeliveryStreamARN", delivery_stream_arn)
                .close("KinesisFirehoseDestination");
        }
        EventTarget::CloudWatch { dimensions } => {
            x.open("CloudWatchDestination")
                .open("DimensionConfigurations");
            for dim in dimensions {
                x.open("member")
                    .leaf("DimensionName", &dim.name)
                    .leaf("DimensionValueSource", dim.source.v1_name())
                    .leaf("DefaultDimensionValue", &dim.default_value)
                    .close("member");
            }
            x.close("DimensionConfigurations")
                .close("CloudWatchDestination");
        }
        // Destinations only v2 can create are not shown through v1.
        EventTarget::EventBridge { .. } | EventTarget::Pinpoint { .. } => {}
    }
    x.close("member");
}

/// `EventDestination.*` parameters.
fn event_destination(p: &Params) -> Result<EventDestination, ApiError> {
    let field = |name: &str| p.get(&format!("EventDestination.{name}"));
    let mut types = Vec::new();
    for name in p.members("EventDestination.MatchingEventTypes") {
        types.push(
            EventType::from_v1(name)
                .ok_or_else(|| invalid(format!("Invalid event type {name}.")))?,
        );
    }
    Ok(EventDestination {
        name: p.required("EventDestination.Name")?.to_string(),
        enabled: field("Enabled").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        matching_event_types: types,
        target: target(p)?,
    })
}

fn target(p: &Params) -> Result<EventTarget, ApiError> {
    let field = |name: &str| {
        p.get(&format!("EventDestination.{name}"))
            .map(str::to_string)
    };
    let sns = field("SNSDestination.TopicARN");
    let role = field("KinesisFirehoseDestination.IAMRoleARN");
    let stream = field("KinesisFirehoseDestination.DeliveryStreamARN");
    let dims = dimensions(p)?;
    let given = [
        sns.is_some(),
        role.is_some() || stream.is_some(),
        !dims.is_empty(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(invalid(
            "An event destination needs exactly one of SNSDestination, KinesisFirehoseDestination and CloudWatchDestination.".into(),
        ));
    }
    Ok(if let Some(topic_arn) = sns {
        EventTarget::Sns { topic_arn }
    } else if !dims.is_empty() {
        EventTarget::CloudWatch { dimensions: dims }
    } else {
        EventTarget::KinesisFirehose {
            iam_role_arn: role.unwrap_or_default(),
            delivery_stream_arn: stream.unwrap_or_default(),
        }
    })
}

fn dimensions(p: &Params) -> Result<Vec<CloudWatchDimension>, ApiError> {
    let list = "EventDestination.CloudWatchDestination.DimensionConfigurations";
    let leaves = [
        "DimensionName",
        "DimensionValueSource",
        "DefaultDimensionValue",
    ];
    (1..=count_members(p, list, &leaves))
        .map(|n| {
            let get = |leaf: &str| p.get(&format!("{list}.member.{n}.{leaf}")).unwrap_or("");
            let source = get("DimensionValueSource");
            Ok(CloudWatchDimension {
                name: get("DimensionName").to_string(),
                source: DimensionSource::from_v1(source).ok_or_else(|| {
                    ApiError::new(
                        400,
                        "InvalidCloudWatchDestination",
                        format!("Invalid dimension value source {source}."),
                    )
                })?,
                default_value: get("DefaultDimensionValue").to_string(),
            })
        })
        .collect()
}

fn invalid(message: String) -> ApiError {
    ApiError::new(400, "InvalidParameterValue", message)
}
