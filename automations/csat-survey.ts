import type { Context } from "./switchboard";

const WEEK_SECONDS = 7 * 24 * 60 * 60;

export default async function (ctx: Context) {
  const conversation = ctx.conversation!;
  const who = conversation.customer ?? conversation.requester;

  // Claim this week's survey for the customer. compareAndSet succeeds only if no survey
  // was recorded in the last 7 days (the key expires after a week), and of two
  // conversations resolved at the same moment only one wins.
  const claimed = await kv.compareAndSet(
    `survey:${who}`,
    null,
    { conversation: conversation.id, requester: conversation.requester },
    { ttl: WEEK_SECONDS },
  );
  if (!claimed) {
    const last = (await kv.get(`survey:${who}`)) as { conversation: number } | null;
    console.info(`no survey: ${who} got one this week (conversation ${last?.conversation})`);
    return { sent: false };
  }

  try {
    await slack.dm(
      conversation.requester,
      `Your request "${conversation.title}" was resolved. How did we do? Reply with a number from 1 (poor) to 5 (great).`,
    );
  } catch (error) {
    // Not sent: give the week back so the next resolution can try again.
    await kv.delete(`survey:${who}`);
    throw error;
  }
  await kv.increment("surveys-sent");
  return { sent: true };
}
