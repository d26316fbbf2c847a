// Runs once IT approved a password reset (see password-reset.toml): finds the
// requester in Okta by their Slack e-mail, resets the password (Okta e-mails them a
// reset link), DMs them what to do next, and tells the thread.
import type { Context } from "./switchboard";

export default async function (ctx: Context) {
  const conversation = ctx.conversation;
  if (!conversation) throw new Error("a password reset needs the conversation that asked for it");
  const requester = conversation.requester;

  const profile = await slack.usersInfo(requester);
  const email: string | undefined = profile?.profile?.email;
  if (!email) {
    throw new Error(
      `<@${requester}> has no e-mail in Slack: grant the bot the users:read.email scope`,
    );
  }

  const reset = await okta.resetPassword(email, { sendEmail: true });
  const approvedBy = ctx.steps.map((s: any) => s?.decidedBy).find((by: unknown) => by);

  await slack.dm(
    requester,
    [
      `Your password reset was approved${approvedBy ? ` by <@${approvedBy}>` : ""}.`,
      `Okta has e-mailed a reset link to ${email}. Open it within the hour, choose a new password,`,
      "and sign in again on your devices. Didn't get the e-mail? Reply in your support thread.",
    ].join(" "),
  );
  await slack.reply(`Done: Okta sent <@${requester}> a password reset link by e-mail.`);
  return { oktaUser: reset.userId, emailSent: reset.emailSent };
}
