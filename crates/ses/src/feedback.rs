//! Per-identity feedback settings: SNS notification topics (bounce, complaint,
//! delivery), headers in notifications, email feedback forwarding, and DKIM signing.

use crate::model::{Identity, NotificationType};
use crate::{Api, Ses, SesError};
use iam::{Caller, RequestInfo};

impl Ses {
    /// SetIdentityNotificationTopic: `None` stops publishing that kind of feedback.
    pub fn set_notification_topic(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
        kind: NotificationType,
        topic: Option<&str>,
    ) -> Result<(), SesError> {
        if let Some(t) = topic {
            let ok = policy::arn::split(t).is_some_and(|p| p[2] == "sns" && !p[5].is_empty());
            if !ok {
                return Err(SesError::InvalidParameter(format!(
                    "Invalid SNS topic ARN: {t}"
                )));
            }
        }
        let action = "ses:SetIdentityNotificationTopic";
        self.modify_identity(caller, info, Api::V1, action, name, |identity| {
            let current = identity.notifications.topic_mut(kind);
            *current = topic.map(str::to_string);
            let topics = &identity.notifications;
            let has_both = topics.bounce_topic.is_some() && topics.complaint_topic.is_some();
            if !has_both {
                // SES turns forwarding back on when a bounce or complaint topic goes.
                identity.feedback_forwarding = true;
            }
            Ok(())
        })
    }

    /// SetIdentityHeadersInNotificationsEnabled.
    pub fn set_headers_in_notifications(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
        kind: NotificationType,
        enabled: bool,
    ) -> Result<(), SesError> {
        let action = "ses:SetIdentityHeadersInNotificationsEnabled";
        self.modify_identity(caller, info, Api::V1, action, name, |identity| {
            *identity.notifications.headers_mut(kind) = enabled;
            Ok(())
        })
    }

    /// SetIdentityFeedbackForwardingEnabled (v1) / PutEmailIdentityFeedbackAttributes
    /// (v2). Through v1, forwarding can be turned off only when both bounce and
    /// complaint notifications go to SNS topics.
    pub fn set_feedback_forwarding(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        api: Api,
        name: &str,
        enabled: bool,
    ) -> Result<(), SesError> {
        let action = api.pick(
            "ses:SetIdentityFeedbackForwardingEnabled",
            "ses:PutEmailIdentityFeedbackAttributes",
        );
        self.modify_identity(caller, info, api, action, name, |identity| {
            let topics = &identity.notifications;
            let has_both = topics.bounce_topic.is_some() && topics.complaint_topic.is_some();
            if !enabled && api == Api::V1 && !has_both {
                return Err(SesError::InvalidParameter(format!(
                    "Feedback forwarding cannot be disabled for identity {}: set SNS topics for both bounce and complaint notifications first.",
                    identity.name
                )));
            }
            identity.feedback_forwarding = enabled;
            Ok(())
        })
    }

    /// SetIdentityDkimEnabled (v1) / PutEmailIdentityDkimAttributes (v2).
    pub fn set_dkim_signing(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        api: Api,
        name: &str,
        enabled: bool,
    ) -> Result<(), SesError> {
        let action = api.pick(
            "ses:SetIdentityDkimEnabled",
            "ses:PutEmailIdentityDkimAttributes",
        );
        self.modify_identity(caller, info, api, action, name, |identity| {
            identity.dkim_enabled = enabled;
            Ok(())
        })
    }

    /// Authorizes `action` on the caller's identity `name`, then changes it. A missing
    /// identity is v1's InvalidParameterValue and v2's NotFoundException.
    fn modify_identity(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        api: Api,
        action: &str,
        name: &str,
        change: impl FnOnce(&mut Identity) -> Result<(), SesError>,
    ) -> Result<(), SesError> {
        let arn = Ses::identity_arn(info, &caller.account, name);
        self.allow(caller, info, action, &arn)?;
        let mut identity = self
            .load_identity(&caller.account, &info.region, name)?
            .ok_or_else(|| {
                let message = format!("Identity {name} does not exist.");
                match api {
                    Api::V1 => SesError::InvalidParameter(message),
                    Api::V2 => SesError::NotFound(message),
                }
            })?;
        change(&mut identity)?;
        self.save_identity(&identity)
    }
}
