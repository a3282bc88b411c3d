//! SES v2 configuration sets: CreateConfigurationSet, GetConfigurationSet,
//! DeleteConfigurationSet, ListConfigurationSets, the event destination operations,
//! PutConfigurationSetSendingOptions and PutConfigurationSetSuppressionOptions.

use super::{bad, err, opt_bool, opt_str, page_size, reasons, str_field, Rest};
use crate::protocol::{ApiError, Call};
use serde_json::{json, Map, Value};
use ses::model::{
    CloudWatchDimension, ConfigurationSet, ConfigurationSetOptions, DimensionSource,
    EventDestination, EventTarget, EventType,
};
use ses::{Api, ConfigurationSetInput, Ses};

pub fn handle(ses: &Ses, call: &Call, r: &Rest<'_>) -> Result<Option<Value>, ApiError> {
    let (c, i) = (call.caller.as_ref(), &call.info);
    let value = match (r.method, r.segs) {
        ("POST", ["configuration-sets"]) => {
            ses.create_configuration_set(c, i, input(r.body)?)
                .map_err(err)?;
            json!({})
        }
        ("GET", ["configuration-sets"]) => {
            let (sets, next) = ses
                .list_configuration_sets(c, i, r.query("NextToken"), page_size(r)?)
                .map_err(err)?;
            let names: Vec<&str> = sets.iter().map(|s| s.name.as_str()).collect();
            let mut value = json!({ "ConfigurationSets": names });
            if let Some(token) = next {
                value["NextToken"] = Value::String(token);
            }
            value
        }
        ("GET", ["configuration-sets", name]) => {
            let set = ses
                .get_configuration_set(c, i, "ses:GetConfigurationSet", name)
                .map_err(err)?;
            describe(&set)
        }
        ("DELETE", ["configuration-sets", name]) => {
            ses.delete_configuration_set(c, i, name).map_err(err)?;
            json!({})
        }
        ("PUT", ["configuration-sets", name, "sending"]) => {
            let enabled = opt_bool(r.body, "SendingEnabled").unwrap_or(false);
            ses.set_configuration_set_sending(c, i, Api::V2, name, enabled)
                .map_err(err)?;
            json!({})
        }
        ("PUT", ["configuration-sets", name, "suppression-options"]) => {
            let reasons = reasons(r.body.get("SuppressedReasons"))?;
            ses.set_configuration_set_suppression(c, i, name, Some(reasons))
                .map_err(err)?;
            json!({})
        }
        ("GET", ["configuration-sets", name, "event-destinations"]) => {
            let list: Vec<Value> = ses
                .get_event_destinations(c, i, name)
                .map_err(err)?
                .iter()
                .map(destination_json)
                .collect();
            json!({ "EventDestinations": list })
        }
        ("POST", ["configuration-sets", name, "event-destinations"]) => {
            let dest_name = str_field(r.body, "EventDestinationName")?;
            let dest = event_destination(dest_name, r.body.get("EventDestination"))?;
            ses.create_event_destination(c, i, name, dest)
                .map_err(err)?;
            json!({})
        }
        ("PUT", ["configuration-sets", name, "event-destinations", dest_name]) => {
            let dest = event_destination(dest_name, r.body.get("EventDestination"))?;
            ses.update_event_destination(c, i, name, dest)
                .map_err(err)?;
            json!({})
        }
        ("DELETE", ["configuration-sets", name, "event-destinations", dest_name]) => {
            ses.delete_event_destination(c, i, name, dest_name)
                .map_err(err)?;
            json!({})
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}

fn input(body: &Value) -> Result<ConfigurationSetInput, ApiError> {
    let suppressed_reasons = match body.get("SuppressionOptions") {
        Some(options) => Some(reasons(options.get("SuppressedReasons"))?),
        None => None,
    };
    let options = ConfigurationSetOptions {
        custom_redirect_domain: opt_str(body, &["TrackingOptions", "CustomRedirectDomain"]),
        https_policy: opt_str(body, &["TrackingOptions", "HttpsPolicy"]),
        tls_policy: opt_str(body, &["DeliveryOptions", "TlsPolicy"]),
        sending_pool_name: opt_str(body, &["DeliveryOptions", "SendingPoolName"]),
        max_delivery_seconds: body
            .pointer("/DeliveryOptions/MaxDeliverySeconds")
            .and_then(Value::as_i64),
        reputation_metrics_enabled: body
            .pointer("/ReputationOptions/ReputationMetricsEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        suppressed_reasons,
    };
    if let Some(tls) = &options.tls_policy {
        if tls != "REQUIRE" && tls != "OPTIONAL" {
            return Err(bad("TlsPolicy must be REQUIRE or OPTIONAL."));
        }
    }
    Ok(ConfigurationSetInput {
        name: str_field(body, "ConfigurationSetName")?.to_string(),
        sending_enabled: body
            .pointer("/SendingOptions/SendingEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        options,
        tags: super::tags(body),
    })
}

fn describe(set: &ConfigurationSet) -> Value {
    let o = &set.options;
    let mut value = json!({
        "ConfigurationSetName": set.name,
        "DeliveryOptions": { "TlsPolicy": o.tls_policy.as_deref().unwrap_or("OPTIONAL") },
        "ReputationOptions": { "ReputationMetricsEnabled": o.reputation_metrics_enabled },
        "SendingOptions": { "SendingEnabled": set.sending_enabled },
        "Tags": set.tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect::<Vec<_>>(),
    });
    if let Some(pool) = &o.sending_pool_name {
        value["DeliveryOptions"]["SendingPoolName"] = json!(pool);
    }
    if let Some(seconds) = o.max_delivery_seconds {
        value["DeliveryOptions"]["MaxDeliverySeconds"] = json!(seconds);
    }
    if let Some(domain) = &o.custom_redirect_domain {
        let mut tracking = json!({ "CustomRedirectDomain": domain });
        if let Some(policy) = &o.https_policy {
            tracking["HttpsPolicy"] = json!(policy);
        }
        value["TrackingOptions"] = tracking;
    }
    if let Some(reasons) = &o.suppressed_reasons {
        let names: Vec<&str> = reasons.iter().map(|r| r.name()).collect();
        value["SuppressionOptions"] = json!({ "SuppressedReasons": names });
    }
    value
}

fn destination_json(d: &EventDestination) -> Value {
    let types: Vec<&str> = d.matching_event_types.iter().map(|t| t.v2_name()).collect();
    let mut value = json!({ "Name": d.name, "Enabled": d.enabled, "MatchingEventTypes": types });
    let (key, target) = match &d.target {
        EventTarget::Sns { topic_arn } => ("SnsDestination", json!({ "TopicArn": topic_arn })),
        EventTarget::KinesisFirehose {
            iam_role_arn,
            delivery_stream_arn,
        } => (
            "KinesisFirehoseDestination",
            json!({ "IamRoleArn": iam_role_arn, "DeliveryStreamArn": delivery_stream_arn }),
        ),
        EventTarget::CloudWatch { dimensions } => {
            let dims: Vec<Value> = dimensions
                .iter()
                .map(|d| {
                    json!({
                        "DimensionName": d.name,
                        "DimensionValueSource": d.source.v2_name(),
                        "DefaultDimensionValue": d.default_value,
                    })
                })
                .collect();
            (
                "CloudWatchDestination",
                json!({ "DimensionConfigurations": dims }),
            )
        }
        EventTarget::EventBridge { event_bus_arn } => (
            "EventBridgeDestination",
            json!({ "EventBusArn": event_bus_arn }),
        ),
        EventTarget::Pinpoint { application_arn } => {
            let mut p = Map::new();
            if let Some(arn) = application_arn {
                p.insert("ApplicationArn".into(), json!(arn));
            }
            ("PinpointDestination", Value::Object(p))
        }
    };
    value[key] = target;
    value
}

/// An `EventDestinationDefinition`.
fn event_destination(name: &str, definition: Option<&Value>) -> Result<EventDestination, ApiError> {
    let d = definition.ok_or_else(|| bad("EventDestination is required."))?;
    let mut types = Vec::new();
    for t in d
        .get("MatchingEventTypes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = t.as_str().unwrap_or("");
        types.push(
            EventType::from_v2(name).ok_or_else(|| bad(&format!("Invalid event type {name}.")))?,
        );
    }
    Ok(EventDestination {
        name: name.to_string(),
        enabled: opt_bool(d, "Enabled").unwrap_or(false),
        matching_event_types: types,
        target: target(d)?,
    })
}

fn target(d: &Value) -> Result<EventTarget, ApiError> {
    let mut targets = Vec::new();
    if let Some(sns) = d.get("SnsDestination") {
        targets.push(EventTarget::Sns {
            topic_arn: opt_str(sns, &["TopicArn"]).unwrap_or_default(),
        });
    }
    if let Some(f) = d.get("KinesisFirehoseDestination") {
        targets.push(EventTarget::KinesisFirehose {
            iam_role_arn: opt_str(f, &["IamRoleArn"]).unwrap_or_default(),
            delivery_stream_arn: opt_str(f, &["DeliveryStreamArn"]).unwrap_or_default(),
        });
    }
    if let Some(cw) = d.get("CloudWatchDestination") {
        targets.push(EventTarget::CloudWatch {
            dimensions: dimensions(cw)?,
        });
    }
    if let Some(eb) = d.get("EventBridgeDestination") {
        targets.push(EventTarget::EventBridge {
            event_bus_arn: opt_str(eb, &["EventBusArn"]).unwrap_or_default(),
        });
    }
    if let Some(p) = d.get("PinpointDestination") {
        targets.push(EventTarget::Pinpoint {
            application_arn: opt_str(p, &["ApplicationArn"]),
        });
    }
    if targets.len() != 1 {
        return Err(bad(
            "An event destination needs exactly one destination type.",
        ));
    }
    Ok(targets.remove(0))
}

fn dimensions(cw: &Value) -> Result<Vec<CloudWatchDimension>, ApiError> {
    cw.get("DimensionConfigurations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| {
            let source = opt_str(d, &["DimensionValueSource"]).unwrap_or_default();
            Ok(CloudWatchDimension {
                name: opt_str(d, &["DimensionName"]).unwrap_or_default(),
                source: DimensionSource::from_v2(&source)
                    .ok_or_else(|| bad(&format!("Invalid dimension value source {source}.")))?,
                default_value: opt_str(d, &["DefaultDimensionValue"]).unwrap_or_default(),
            })
        })
        .collect()
}
