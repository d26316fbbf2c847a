use tracing::Instrument;

use crate::inbox::SlackInbox;
use crate::slack::socket::{self, Envelope, EnvelopeKind};
use crate::slack::{commands, events, interactions};

/// Decodes an envelope's payload and hands it to the inbox; returns the
/// acknowledgement to send, or `None` when there must be none: the delivery was not
/// recorded (Slack delivers it again) or is malformed (as the HTTP endpoints answer
/// 400, which Slack also retries).
pub(super) async fn handle(inbox: &SlackInbox, envelope: Envelope) -> Option<String> {
    let span = tracing::debug_span!(
        "receive_envelope",
        envelope.id = %envelope.id,
        envelope.kind = envelope.kind.as_str(),
        retry = (envelope.retry_attempt > 0).then_some(envelope.retry_attempt),
        retry_reason = (!envelope.retry_reason.is_empty()).then_some(envelope.retry_reason.as_str()),
    );
    async {
        let handed = match envelope.kind {
            EnvelopeKind::Events => match events::decode_payload(envelope.payload.clone()) {
                Ok(payload) => Ok(inbox.event(payload).await.map(|_| None)),
                Err(e) => Err(e.to_string()),
            },
            EnvelopeKind::Interactive => match interactions::decode_payload(&envelope.payload) {
                Ok(interaction) => Ok(inbox.interaction(interaction).await),
                Err(e) => Err(e.to_string()),
            },
            EnvelopeKind::Command => match commands::decode_payload(&envelope.payload) {
                Ok(command) => Ok(Ok(Some(inbox.command(command).await))),
                Err(e) => Err(e.to_string()),
            },
        };
        match handed {
            Ok(Ok(answer)) => Some(socket::ack(&envelope, answer)),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "delivery not recorded and not acknowledged: Slack will deliver it again");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "malformed delivery, not acknowledged");
                None
            }
        }
    }
    .instrument(span)
    .await
}
