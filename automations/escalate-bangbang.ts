import type { Context } from "./switchboard";

// Who is paged, and where.
const ONCALL_GROUP = "S0ONCALL01";
const ONCALL_CHANNEL = "#oncall";

export default async function (ctx: Context) {
  const conversation = ctx.conversation!;
  if (conversation.priority === "critical") {
    console.info("already critical: on-call was paged before");
    return { paged: false };
  }
  await conversation.update({ priority: "critical", addTags: ["escalated"] });

  const actor = ctx.trigger.actor ? `<@${ctx.trigger.actor}>` : "someone";
  let paged = true;
  try {
    await slack.postMessage(
      ONCALL_CHANNEL,
      `<!subteam^${ONCALL_GROUP}> :rotating_light: ${actor} escalated *${conversation.title}* ${conversation.permalink}`,
    );
  } catch (error) {
    // Slack refused (channel gone, bot not allowed): the thread must still know.
    if (error instanceof RetryableError) throw error;
    console.error(`paging failed: ${(error as Error).message}`);
    paged = false;
  }
  await slack.reply(
    paged
      ? `:rotating_light: ${actor} escalated this to *critical* and paged the on-call team.`
      : `:rotating_light: ${actor} escalated this to *critical*, but paging on-call failed: please ping them directly.`,
  );
  return { paged };
}
