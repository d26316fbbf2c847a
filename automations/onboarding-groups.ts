// Adds a new member to the Google Groups that match their job title, and reports to
// IT what was done. Transient failures (Google unavailable, rate limits) make the
// step retry later; adding someone who is already a member is fine, so a retry only
// does what is left. Permanent failures (no such group) are reported and not retried.
import type { Context } from "./switchboard";

/** Where IT hears about new members. */
const IT_CHANNEL = "#it-onboarding";

/** Everyone joins these. */
const EVERYONE = ["all@acme.example"];

/** Groups by words in the job title (case-insensitive). */
const GROUPS: [RegExp, string[]][] = [
  [/engineer|developer|sre|devops/i, ["engineering@acme.example"]],
  [/support|success|service/i, ["support@acme.example"]],
  [/sales|account exec/i, ["sales@acme.example"]],
  [/manager|lead|head|director/i, ["managers@acme.example"]],
];

export default async function (ctx: Context) {
  if (ctx.trigger.kind !== "user_joined") throw new Error("runs on user_joined");
  const user = ctx.trigger.user;
  const email = user.email;
  if (!email) return { skipped: "no e-mail" };
  // The profile may have been completed since the event: read it again.
  const profile = await slack.usersInfo(user.id);
  const title: string = profile?.profile?.title || user.title || "";

  const groups = [...EVERYONE];
  for (const [pattern, names] of GROUPS) {
    if (pattern.test(title)) groups.push(...names.filter((g) => !groups.includes(g)));
  }

  const added: string[] = [];
  const already: string[] = [];
  const failed: { group: string; reason: string; retryable: boolean }[] = [];
  for (const group of groups) {
    try {
      const result = await google.groups.addMember(group, email);
      (result.alreadyMember ? already : added).push(group);
    } catch (e) {
      const error = e as Error;
      failed.push({ group, reason: error.message, retryable: error instanceof RetryableError });
    }
  }

  const who = `<@${user.id}> (${title || "no title"}, ${email})`;
  const lines = [`:inbox_tray: New member ${who}`];
  if (added.length) lines.push(`added to ${added.join(", ")}`);
  if (already.length) lines.push(`already in ${already.join(", ")}`);
  for (const f of failed) {
    lines.push(`:warning: could not add to ${f.group}: ${f.reason}${f.retryable ? " (will retry)" : ""}`);
  }
  await slack.postMessage(IT_CHANNEL, lines.join("\n"));

  const retry = failed.filter((f) => f.retryable);
  if (retry.length) {
    throw new RetryableError(`could not add ${email} to ${retry.map((f) => f.group).join(", ")}`, {
      retryAfterSeconds: 60,
    });
  }
  return { title, added, already, failed };
}
