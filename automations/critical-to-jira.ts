import type { Context } from "./switchboard";

// The Jira project incidents go to.
const PROJECT = "OPS";

export default async function (ctx: Context) {
  const conversation = ctx.conversation!;

  // Already filed (a retry, or critical → high → critical): do not file twice.
  const filed = conversation.tags.find((t) => /^jira:/.test(t));
  if (filed) {
    console.info(`already filed as ${filed.slice(5)}`);
    return { key: filed.slice(5), created: false };
  }

  try {
    const issue = await jira.createIssue({
      project: PROJECT,
      issueType: "Bug",
      priority: "Highest",
      summary: `[${conversation.customer ?? "support"}] ${conversation.title}`,
      description: [
        `Escalated to critical in Slack by <@${ctx.trigger.actor ?? "an automation"}>.`,
        `Thread: ${conversation.permalink}`,
        `Requester: ${conversation.requester}`,
      ].join("\n"),
      labels: ["switchboard", "support-escalation"],
    });
    await conversation.update({ addTags: [`jira:${issue.key}`] });
    await slack.reply(`:ticket: Filed as <${issue.url}|${issue.key}>. Updates will be tracked there.`);
    return { key: issue.key, created: true };
  } catch (error) {
    // Jira is down: tell the thread, and let switchboard retry the step later.
    if (error instanceof RetryableError) {
      console.warn(`Jira is unavailable, will retry: ${error.message}`);
      throw error;
    }
    // Anything else will not fix itself: say so in the thread, then fail the step.
    await slack.reply(`:warning: Could not file a Jira issue for this: ${(error as Error).message}`);
    throw error;
  }
}
