//! Turning a `set_fields` action into a concrete patch for one trigger.

use super::SetFields;
use crate::conversations::ConversationPatch;
use crate::rules::facts::FactContext;

/// The patch `set` asks for, with its templates filled in. An assignee that renders to
/// nothing unassigns.
pub fn render_patch(set: &SetFields, facts: &FactContext<'_>) -> ConversationPatch {
    ConversationPatch {
        status: set.status,
        priority: set.priority,
        ticket_type: set.ticket_type.clone(),
        assignee: set.assignee.as_ref().map(|t| {
            let user = t.render(facts).trim().to_owned();
            (!user.is_empty()).then_some(user)
        }),
        tags: set.tags.clone(),
        add_tags: set.add_tags.clone(),
        remove_tags: set.remove_tags.clone(),
    }
}
