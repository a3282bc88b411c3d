//! SES v1 feedback and statistics: identity notification topics, headers in
//! notifications, feedback forwarding, DKIM signing, and GetSendStatistics.

use super::{bool_text, err};
use crate::protocol::{ApiError, Call, Params};
use crate::xml::Xml;
use ses::model::NotificationType;
use ses::{Api, Ses};

pub fn handle(ses: &Ses, call: &Call, p: &Params, x: &mut Xml) -> Result<bool, ApiError> {
    let (c, i) = (call.caller.as_ref(), &call.info);
    match call.action.as_str() {
        "SetIdentityNotificationTopic" => {
            let kind = notification_type(p)?;
            ses.set_notification_topic(c, i, p.required("Identity")?, kind, p.get("SnsTopic"))
                .map_err(err)?;
        }
        "SetIdentityHeadersInNotificationsEnabled" => {
            let kind = notification_type(p)?;
            let enabled = p.required("Enabled")?.eq_ignore_ascii_case("true");
            ses.set_headers_in_notifications(c, i, p.required("Identity")?, kind, enabled)
                .map_err(err)?;
        }
        "SetIdentityFeedbackForwardingEnabled" => {
            let enabled = p
                .required("ForwardingEnabled")?
                .eq_ignore_ascii_case("true");
            ses.set_feedback_forwarding(c, i, Api::V1, p.required("Identity")?, enabled)
                .map_err(err)?;
        }
        "SetIdentityDkimEnabled" => {
            let enabled = p.required("DkimEnabled")?.eq_ignore_ascii_case("true");
            ses.set_dkim_signing(c, i, Api::V1, p.required("Identity")?, enabled)
                .map_err(err)?;
        }
        "GetIdentityNotificationAttributes" => {
            x.open("NotificationAttributes");
            for name in p.members("Identities") {
                let action = "ses:GetIdentityNotificationAttributes";
                let Some(identity) = ses.get_identity(c, i, action, name).map_err(err)? else {
                    continue;
                };
                let n = &identity.notifications;
                x.open("entry").leaf("key", name).open("value");
                x.leaf_opt("BounceTopic", n.bounce_topic.as_deref())
                    .leaf_opt("ComplaintTopic", n.complaint_topic.as_deref())
                    .leaf_opt("DeliveryTopic", n.delivery_topic.as_deref())
                    .leaf("ForwardingEnabled", bool_text(identity.feedback_forwarding))
                    .leaf(
                        "HeadersInBounceNotificationsEnabled",
                        bool_text(n.headers_in_bounce),
                    )
                    .leaf(
                        "HeadersInComplaintNotificationsEnabled",
                        bool_text(n.headers_in_complaint),
                    )
                    .leaf(
                        "HeadersInDeliveryNotificationsEnabled",
                        bool_text(n.headers_in_delivery),
                    );
                x.close("value").close("entry");
            }
            x.close("NotificationAttributes");
        }
        "GetSendStatistics" => {
            x.open("SendDataPoints");
            for point in ses.send_statistics(c, i).map_err(err)? {
                x.open("member")
                    .leaf("Timestamp", &iam::ids::iso8601(point.timestamp_ms))
                    .leaf("DeliveryAttempts", &point.delivery_attempts.to_string())
                    .leaf("Bounces", &point.bounces.to_string())
                    .leaf("Complaints", &point.complaints.to_string())
                    .leaf("Rejects", &point.rejects.to_string())
                    .close("member");
            }
            x.close("SendDataPoints");
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn notification_type(p: &Params) -> Result<NotificationType, ApiError> {
    let name = p.required("NotificationType")?;
    NotificationType::parse(name).ok_or_else(|| {
        ApiError::new(
            400,
            "InvalidParameterValue",
            format!("Invalid notification type {name}: use Bounce, Complaint or Delivery."),
        )
    })
}
