//! The `approval` action: render the request, open it (or find it open), and either
//! wait or hand the decision on.

use super::{ApprovalAction, StepContext, StepError, StepOutcome, Wait};
use crate::approvals::RequestSpec;
use crate::approvals::step::{self, Progress, Slot};
use crate::rules::facts::FactContext;

/// Opens the request of this step, or continues with its decision.
pub async fn execute(
    action: &ApprovalAction,
    ctx: &StepContext<'_>,
    facts: &FactContext<'_>,
) -> Result<StepOutcome, StepError> {
    let spec = RequestSpec {
        approvers: action.approvers.clone(),
        channel: action
            .channel
            .as_ref()
            .map(|c| c.render(facts).trim().to_owned())
            .filter(|c| !c.is_empty()),
        title: action.title.render(facts),
        text: action.text.render(facts),
        rules: action.rules,
    };
    let slot = Slot {
        run: ctx.run,
        step_index: ctx.step_index,
        call_index: 0,
        conversation: ctx.conversation,
    };
    match step::request(ctx.env, slot, &spec).await? {
        Progress::Waiting {
            approval_id,
            deadline,
        } => Ok(StepOutcome {
            wait: Some(Wait {
                waiting_for: format!("approval {approval_id}"),
                deadline,
                approval: Some(approval_id),
            }),
            ..StepOutcome::done(
                serde_json::json!({ "approvalId": approval_id, "decision": "pending" }),
            )
        }),
        Progress::Decided(output) => Ok(StepOutcome::done(output)),
    }
}
