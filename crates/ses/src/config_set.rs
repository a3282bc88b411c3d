//! Configuration sets and their event destinations. A set named on a send must exist
//! and have sending enabled; its event destinations are kept for event publishing.

use crate::model::{
    scoped_key, table, ConfigurationSet, ConfigurationSetOptions, EventDestination, EventTarget,
    SuppressionReason,
};
use crate::{page, Api, Ses, SesError};
use iam::{ids, Caller, RequestInfo};

const MAX_CONFIGURATION_SETS: usize = 10_000;
const MAX_EVENT_DESTINATIONS: usize = 10;

/// A configuration set to create.
#[derive(Debug, Clone)]
pub struct ConfigurationSetInput {
    pub name: String,
    pub sending_enabled: bool,
    pub options: ConfigurationSetOptions,
    pub tags: Vec<(String, String)>,
}

impl Ses {
    pub fn create_configuration_set(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        input: ConfigurationSetInput,
    ) -> Result<(), SesError> {
        let arn = configuration_set_arn(info, &caller.account, &input.name);
        self.allow(caller, info, "ses:CreateConfigurationSet", &arn)?;
        if !valid_name(&input.name) {
            return Err(SesError::InvalidConfigurationSet(format!(
                "Configuration set name <{}> is invalid: names are 1 to 64 ASCII letters, digits, underscores and dashes.",
                input.name
            )));
        }
        let prefix = scoped_key(&caller.account, &info.region, "");
        let key = scoped_key(&caller.account, &info.region, &input.name);
        let mut tx = self.store.write()?;
        if tx
            .get::<ConfigurationSet>(table::CONFIG_SETS, &key)?
            .is_some()
        {
            return Err(SesError::ConfigurationSetAlreadyExists(input.name));
        }
        if tx
            .scan::<ConfigurationSet>(table::CONFIG_SETS, &prefix)?
            .len()
            >= MAX_CONFIGURATION_SETS
        {
            return Err(SesError::LimitExceeded(format!(
                "Maximum number of configuration sets ({MAX_CONFIGURATION_SETS}) has been reached."
            )));
        }
        let set = ConfigurationSet {
            name: input.name,
            sending_enabled: input.sending_enabled,
            created_ms: ids::now_ms(),
            event_destinations: Vec::new(),
            options: input.options,
            tags: input.tags,
        };
        tx.put(table::CONFIG_SETS, &key, &set)?;
        tx.commit()?;
        Ok(())
    }

    /// v1 DescribeConfigurationSet, v2 GetConfigurationSet (and its event destinations).
    pub fn get_configuration_set(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        action: &str,
        name: &str,
    ) -> Result<ConfigurationSet, SesError> {
        let arn = configuration_set_arn(info, &caller.account, name);
        self.allow(caller, info, action, &arn)?;
        self.load_configuration_set(&caller.account, &info.region, name)
    }

    pub fn delete_configuration_set(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
    ) -> Result<(), SesError> {
        let arn = configuration_set_arn(info, &caller.account, name);
        self.allow(caller, info, "ses:DeleteConfigurationSet", &arn)?;
        let mut tx = self.store.write()?;
        if !tx.delete(
            table::CONFIG_SETS,
            &scoped_key(&caller.account, &info.region, name),
        )? {
            return Err(SesError::ConfigurationSetDoesNotExist(name.to_string()));
        }
        tx.commit()?;
        Ok(())
    }

    pub fn list_configuration_sets(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        token: Option<&str>,
        size: Option<i64>,
    ) -> Result<(Vec<ConfigurationSet>, Option<String>), SesError> {
        self.allow(caller, info, "ses:ListConfigurationSets", "*")?;
        let all: Vec<ConfigurationSet> = self.store.read()?.scan(
            table::CONFIG_SETS,
            &scoped_key(&caller.account, &info.region, ""),
        )?;
        page::page(all, |s| &s.name, token, page::size(size, 1000, 1000))
    }

    /// v1 UpdateConfigurationSetSendingEnabled, v2 PutConfigurationSetSendingOptions.
    pub fn set_configuration_set_sending(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        api: Api,
        name: &str,
        enabled: bool,
    ) -> Result<(), SesError> {
        let action = api.pick(
            "ses:UpdateConfigurationSetSendingEnabled",
            "ses:PutConfigurationSetSendingOptions",
        );
        self.modify_set(caller, info, action, name, |set| {
            set.sending_enabled = enabled;
            Ok(())
        })
    }

    /// PutConfigurationSetSuppressionOptions: reasons that override the account's for
    /// mail sent with this set (`None`: use the account's).
    pub fn set_configuration_set_suppression(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
        reasons: Option<Vec<SuppressionReason>>,
    ) -> Result<(), SesError> {
        let action = "ses:PutConfigurationSetSuppressionOptions";
        self.modify_set(caller, info, action, name, |set| {
            set.options.suppressed_reasons = reasons;
            Ok(())
        })
    }

    pub fn create_event_destination(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        set_name: &str,
        destination: EventDestination,
    ) -> Result<(), SesError> {
        validate_destination(&destination)?;
        let action = "ses:CreateConfigurationSetEventDestination";
        self.modify_set(caller, info, action, set_name, |set| {
            if set
                .event_destinations
                .iter()
                .any(|d| d.name == destination.name)
            {
                return Err(SesError::EventDestinationAlreadyExists {
                    set: set.name.clone(),
                    name: destination.name.clone(),
                });
            }
            if set.event_destinations.len() >= MAX_EVENT_DESTINATIONS {
                return Err(SesError::LimitExceeded(format!(
                    "Maximum number of event destinations ({MAX_EVENT_DESTINATIONS}) for the configuration set has been reached."
                )));
            }
            set.event_destinations.push(destination);
            Ok(())
        })
    }

    pub fn update_event_destination(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        set_name: &str,
        destination: EventDestination,
    ) -> Result<(), SesError> {
        validate_destination(&destination)?;
        let action = "ses:UpdateConfigurationSetEventDestination";
        self.modify_set(caller, info, action, set_name, |set| {
            let slot = find_destination(set, &destination.name)?;
            *slot = destination;
            Ok(())
        })
    }

    pub fn delete_event_destination(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        set_name: &str,
        name: &str,
    ) -> Result<(), SesError> {
        let action = "ses:DeleteConfigurationSetEventDestination";
        self.modify_set(caller, info, action, set_name, |set| {
            find_destination(set, name)?;
            set.event_destinations.retain(|d| d.name != name);
            Ok(())
        })
    }

    pub fn get_event_destinations(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        set_name: &str,
    ) -> Result<Vec<EventDestination>, SesError> {
        let action = "ses:GetConfigurationSetEventDestinations";
        Ok(self
            .get_configuration_set(caller, info, action, set_name)?
            .event_destinations)
    }

    pub(crate) fn load_configuration_set(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<ConfigurationSet, SesError> {
        let key = scoped_key(account, region, name);
        let set = self.store.snapshot()?.get(table::CONFIG_SETS, &key)?;
        set.map(|s: std::sync::Arc<ConfigurationSet>| (*s).clone())
            .ok_or_else(|| SesError::ConfigurationSetDoesNotExist(name.to_string()))
    }

    /// Authorizes `action` on the set, then changes it in one transaction.
    fn modify_set(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        action: &str,
        name: &str,
        change: impl FnOnce(&mut ConfigurationSet) -> Result<(), SesError>,
    ) -> Result<(), SesError> {
        let arn = configuration_set_arn(info, &caller.account, name);
        self.allow(caller, info, action, &arn)?;
        let key = scoped_key(&caller.account, &info.region, name);
        let mut tx = self.store.write()?;
        let mut set: ConfigurationSet = tx
            .get(table::CONFIG_SETS, &key)?
            .ok_or_else(|| SesError::ConfigurationSetDoesNotExist(name.to_string()))?;
        change(&mut set)?;
        tx.put(table::CONFIG_SETS, &key, &set)?;
        tx.commit()?;
        Ok(())
    }
}

pub fn configuration_set_arn(info: &RequestInfo, account: &str, name: &str) -> String {
    format!(
        "arn:aws:ses:{}:{account}:configuration-set/{name}",
        info.region
    )
}

fn find_destination<'a>(
    set: &'a mut ConfigurationSet,
    name: &str,
) -> Result<&'a mut EventDestination, SesError> {
    let set_name = set.name.clone();
    set.event_destinations
        .iter_mut()
        .find(|d| d.name == name)
        .ok_or(SesError::EventDestinationDoesNotExist {
            set: set_name,
            name: name.to_string(),
        })
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn validate_destination(d: &EventDestination) -> Result<(), SesError> {
    if !valid_name(&d.name) {
        return Err(SesError::InvalidParameter(format!(
            "Event destination name <{}> is invalid: names are 1 to 64 ASCII letters, digits, underscores and dashes.",
            d.name
        )));
    }
    if d.matching_event_types.is_empty() {
        return Err(SesError::InvalidParameter(
            "MatchingEventTypes must contain at least one event type.".into(),
        ));
    }
    validate_target(&d.target)
}

fn validate_target(target: &EventTarget) -> Result<(), SesError> {
    let invalid = |code: &'static str, message: String| {
        Err(SesError::InvalidEventDestination { code, message })
    };
    match target {
        EventTarget::Sns { topic_arn } if !is_arn(topic_arn, "sns") => invalid(
            "InvalidSNSDestination",
            format!("Invalid SNS topic ARN: {topic_arn}"),
        ),
        EventTarget::KinesisFirehose {
            iam_role_arn,
            delivery_stream_arn,
        } if !is_arn(iam_role_arn, "iam") || !is_arn(delivery_stream_arn, "firehose") => invalid(
            "InvalidFirehoseDestination",
            "Invalid Kinesis Firehose destination: an IAM role ARN and a delivery stream ARN are required.".into(),
        ),
        EventTarget::CloudWatch { dimensions }
            if dimensions.is_empty()
                || dimensions.iter().any(|d| {
                    !valid_dimension(&d.name) || !valid_dimension(&d.default_value)
                }) =>
        {
            invalid(
                "InvalidCloudWatchDestination",
                "Invalid CloudWatch destination: each dimension needs a name and a default value of 1 to 256 letters, digits, underscores, dashes, periods or colons.".into(),
            )
        }
        EventTarget::EventBridge { event_bus_arn } if !is_arn(event_bus_arn, "events") => {
            Err(SesError::InvalidParameter(format!(
                "Invalid EventBridge event bus ARN: {event_bus_arn}"
            )))
        }
        _ => Ok(()),
    }
}

fn is_arn(arn: &str, service: &str) -> bool {
    policy::arn::split(arn).is_some_and(|p| p[2] == service && !p[5].is_empty())
}

fn valid_dimension(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:@".contains(c))
}
