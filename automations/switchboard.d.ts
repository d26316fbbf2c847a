// switchboard's host API for TypeScript actions.
//
// Written by `switchboard types`. Put it next to your scripts (or anywhere your
// tsconfig.json includes) and editors autocomplete everything below:
//
//   { "compilerOptions": { "target": "es2022", "module": "es2022", "strict": true, "noEmit": true } }
//
// A script is one file whose default export is the step:
//
//   import type { Context } from "./switchboard";
//   export default async function (ctx: Context) {
//     await slack.reply(`Looking into ${ctx.conversation?.title}`);
//     return { ok: true };
//   }
//
// Its return value (JSON) is the step's output, visible to later steps as ctx.steps[i]
// and in `switchboard runs show`. A thrown error fails the step with its message and
// line; throw a RetryableError to have the run retried later. Scripts run in a fresh
// sandbox with limits on time, memory, recursion, output and calls; there is no file
// system, environment, network or timer except what this file declares.

/** JSON values, as scripts receive and return them. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type Status = "open" | "pending" | "resolved" | "closed";
export type Priority = "low" | "medium" | "high" | "critical";

/** A tracked support conversation (a Slack thread). */
export interface Conversation {
  readonly id: number;
  readonly channel: string;
  readonly threadTs: string;
  readonly requester: string;
  readonly customer: string | null;
  readonly title: string;
  readonly status: Status;
  readonly priority: Priority;
  readonly ticketType: string;
  readonly assignee: string | null;
  readonly tags: string[];
  readonly permalink: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** SLA clocks by target (empty when no SLA policy applies). */
  readonly sla: { readonly first_response?: SlaClock; readonly next_reply?: SlaClock; readonly resolution?: SlaClock };
  /**
   * Changes fields, exactly like the `set_fields` action: the change is recorded and
   * triggers `conversation_updated`. Resolves to the conversation as it now is (this
   * object is updated too). `assignee: null` unassigns.
   */
  update(changes: ConversationChanges): Promise<Conversation>;
}

export interface ApprovalRequest {
  /** User ids (`U…`), user groups (`@it-managers`, `S…`) and channel ids (`C…`). */
  approvers: string[];
  /** The headline (mrkdwn). */
  title: string;
  /** Details (mrkdwn); default: the conversation's title and link. */
  text?: string;
  /** Post the request in this channel instead of by DM. */
  channel?: string;
  /** Whether deciders give a reason; default "none". */
  reason?: "none" | "optional" | "required";
  /** Approvals needed; default 1. */
  quorum?: number;
  /** Whether the requester may approve their own request; default false. */
  allowSelfApproval?: boolean;
  /** Whether one deny decides; default true. */
  firstDenyWins?: boolean;
  /** Expire after this long without a decision, e.g. "30m", "4h", "2d". */
  expiresIn?: string;
  /** Remind the approvers after this long. */
  remindAfter?: string;
}

export interface ApprovalDecision {
  readonly approvalId: number;
  readonly automationId: string;
  readonly title: string;
  readonly decision: "approved" | "denied" | "expired";
  /** Who decided; null when it expired. */
  readonly decidedBy: string | null;
  readonly reason: string | null;
  readonly requester: string | null;
  readonly votes: { user: string; decision: "approve" | "deny"; reason: string | null }[];
}

export interface ConversationChanges {
  status?: Status;
  priority?: Priority;
  ticketType?: string;
  assignee?: string | null;
  /** Replaces all tags. */
  tags?: string[];
  addTags?: string[];
  removeTags?: string[];
}

export interface SlackMessage {
  readonly channel: string;
  readonly ts: string;
  readonly threadTs: string | null;
  readonly user: string;
  readonly text: string;
}

export interface FieldChange {
  readonly field: "status" | "priority" | "ticket_type" | "assignee" | "tags";
  readonly before: Json;
  readonly after: Json;
}

export interface JoinedUser {
  readonly id: string;
  readonly name: string;
  readonly realName: string | null;
  readonly email: string | null;
  readonly title: string | null;
  readonly isBot: boolean;
}

/** What started the run. */
export type Trigger = TriggerBase &
  (
    | { readonly kind: "conversation_created"; readonly message: SlackMessage }
    | { readonly kind: "message_received"; readonly message: SlackMessage }
    | { readonly kind: "reaction_added"; readonly emoji: string; readonly messageTs: string }
    | { readonly kind: "conversation_updated"; readonly changes: FieldChange[] }
    | { readonly kind: "user_joined"; readonly user: JoinedUser }
    | { readonly kind: "no_response" | "no_reply" | "idle"; readonly silence: Silence }
    | { readonly kind: "sla_warning" | "sla_breached"; readonly sla: SlaAlarm }
  );

/** One SLA target's clock. Times are RFC 3339. */
export interface SlaClock {
  /** The policy (`slas/<name>.toml`) that set it. */
  readonly policy: string;
  readonly state: "running" | "paused" | "met" | "breached";
  readonly startedAt: string;
  /** When it breaches (while running), or breached. */
  readonly due: string | null;
  readonly warnAt: string | null;
  readonly metAt: string | null;
  readonly breachedAt: string | null;
  readonly breached: boolean;
}

/** An SLA target's warning or breach. */
export interface SlaAlarm {
  readonly target: "first_response" | "next_reply" | "resolution";
  readonly policy: string;
  /** When the target is (or was) due. */
  readonly due: string;
}

/** A silence that lasted as long as the automation waits for. */
export interface Silence {
  /** When the clock started (RFC 3339): the message that began the wait. */
  readonly since: string;
  /** When it fell due (RFC 3339). */
  readonly due: string;
  /** How long, as the automation's file says (`30m`). */
  readonly after: string;
  /** The business-hours calendar it was counted in, if any. */
  readonly businessHours: string | null;
}

export interface TriggerBase {
  readonly eventId: string;
  /** The person whose action caused the trigger; null when an automation did. */
  readonly actor: string | null;
  /** How many automation steps led here (0 for a person's action). */
  readonly depth: number;
}

export interface Context {
  readonly trigger: Trigger;
  /** The conversation, for triggers about one (null for user_joined). */
  readonly conversation: Conversation | null;
  readonly workspace: { readonly teamId: string; readonly name: string; readonly url: string; readonly botUserId: string } | null;
  readonly run: { readonly id: number; readonly automation: string; readonly version: number; readonly attempt: number; readonly step: number };
  /** Inputs of a manual run. */
  readonly inputs: { readonly [name: string]: Json };
  /** Outputs of the earlier steps of this run, by position (null for steps that output nothing). */
  readonly steps: readonly Json[];
}

export interface MessageOptions {
  /** Block Kit blocks; `text` is then the notification fallback. */
  blocks?: Json[];
}

export interface PostedMessage {
  readonly channel: string;
  readonly ts: string;
}

export interface FetchInit {
  method?: string;
  headers?: { [name: string]: string };
  /** A string is sent as is; anything else as JSON (with Content-Type: application/json). */
  body?: string | Json;
  /** At most the server's http.timeout_seconds. */
  timeoutMs?: number;
}

export interface FetchResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly url: string;
  readonly redirected: boolean;
  readonly headers: {
    get(name: string): string | null;
    has(name: string): boolean;
    entries(): [string, string][];
  };
  text(): Promise<string>;
  json(): Promise<any>;
}

export interface JiraIssue {
  /** Project key, e.g. "OPS". */
  project: string;
  summary: string;
  /** Issue type name; default "Task". */
  issueType?: string;
  /** Plain text; each line becomes a paragraph. */
  description?: string;
  labels?: string[];
  /** Priority name, e.g. "Highest". */
  priority?: string;
  /** More fields, as Jira's API takes them (custom fields). */
  fields?: { [name: string]: Json };
}

export interface KvNamespace {
  /** The value, or null if the key is missing or expired. */
  get(key: string): Promise<Json>;
  set(key: string, value: Json, options?: { ttl?: number }): Promise<void>;
  /** Whether the key existed. */
  delete(key: string): Promise<boolean>;
  /** Keys starting with `prefix`, in key order (at most 1000). */
  list(prefix?: string): Promise<{ key: string; value: Json }[]>;
  /** Adds `by` (default 1) to a number, atomically; a missing key counts as 0. */
  increment(key: string, by?: number): Promise<number>;
  /**
   * Sets `next` only if the current value equals `expected` (null: only if the key is
   * missing or expired). Atomic: of concurrent callers, exactly one wins.
   */
  compareAndSet(key: string, expected: Json, next: Json, options?: { ttl?: number }): Promise<boolean>;
}

declare global {
  /** Console output goes to the run's log (`switchboard runs show`). */
  const console: {
    log(...values: unknown[]): void;
    info(...values: unknown[]): void;
    debug(...values: unknown[]): void;
    warn(...values: unknown[]): void;
    error(...values: unknown[]): void;
  };

  const slack: {
    /** Replies in the conversation's thread; `broadcast` also sends it to the channel. */
    reply(text: string, options?: MessageOptions & { broadcast?: boolean }): Promise<PostedMessage>;
    /** Posts to a channel (id or #name), optionally in a thread. */
    postMessage(channel: string, text: string, options?: MessageOptions & { threadTs?: string }): Promise<PostedMessage>;
    /** Sends a direct message to a user. */
    dm(user: string, text: string, options?: MessageOptions): Promise<PostedMessage>;
    /** Adds a reaction: to the message that triggered (or the thread's first), or to `channel`/`ts`. */
    react(emoji: string, options?: { channel: string; ts: string }): Promise<{ channel: string; ts: string; emoji: string }>;
    /** `users.info`: the user object. */
    usersInfo(user: string): Promise<any>;
    /** `users.lookupByEmail`: the user object, or null when nobody has that e-mail. */
    lookupUserByEmail(email: string): Promise<any | null>;
    /** Any Web API method, with the bot token; resolves to Slack's whole answer. */
    call(method: string, args?: { [name: string]: Json }): Promise<any>;
  };

  const http: {
    /**
     * Like the web's fetch. Only public addresses are reachable (unless the operator
     * allows more); the response body is size-limited.
     */
    fetch(url: string, init?: FetchInit): Promise<FetchResponse>;
  };

  const jira: {
    /** Creates an issue (Jira Cloud REST v3). */
    createIssue(issue: JiraIssue): Promise<{ id: string; key: string; url: string }>;
  };

  const okta: {
    /** A user by id or login (e-mail). */
    getUser(idOrLogin: string): Promise<any>;
    /** Resets the password; by default Okta e-mails the user a reset link. */
    resetPassword(
      idOrLogin: string,
      options?: { sendEmail?: boolean; revokeSessions?: boolean },
    ): Promise<{ userId: string; emailSent: boolean; resetPasswordUrl: string | null }>;
  };

  const google: {
    readonly groups: {
      /** Adds a member to a Google group (already a member is fine). */
      addMember(
        group: string,
        email: string,
        options?: { role?: "MEMBER" | "MANAGER" | "OWNER" },
      ): Promise<{ email: string; role: string; alreadyMember: boolean }>;
    };
  };

  const secrets: {
    /**
     * A secret's value, decrypted for this run only. Only secrets the automation
     * declares (`secrets = ["NAME"]` in its file) can be read. The value is redacted
     * from everything the run records (logs, outputs, errors).
     */
    get(name: string): Promise<string>;
  };

  /**
   * The key-value store: this automation's own namespace (no other automation sees its
   * keys); `kv.shared(name)` opens a namespace automations share on purpose. Values are
   * JSON, at most 64 KiB; keys at most 512 bytes; `ttl` is in seconds.
   */
  const kv: KvNamespace & {
    shared(name: string): KvNamespace;
  };

  const approvals: {
    /**
     * Asks people to approve or deny, and resolves with their decision — minutes or
     * days later. The request goes to the approvers (users by DM, user groups' members
     * by DM, channels as a post) with Approve / Deny buttons, and says what they
     * decided in place once they have.
     *
     * While it waits, the script is not running: it ends here, and when the decision
     * comes it runs again from the top, with every host call it made before the
     * request answered from a journal instead of being carried out again (so a reply
     * posted before the request is not posted twice). Hence the rule: before an
     * approval, make the same calls in the same order with the same arguments — do
     * not branch on `Date.now()` or `Math.random()` there. `secrets.get` is read again,
     * and console output of the replayed part is not logged twice.
     */
    request(request: ApprovalRequest): Promise<ApprovalDecision>;
  };

  /** Waits, at most 10 s per call (and within the run's time limit). */
  function sleep(ms: number): Promise<void>;

  /**
   * Waits minutes or days — like the `wait` step, holding no sandbox — for `for` to
   * pass, or until what `until` names happens in the conversation (a reply from a
   * side, a status, a field change), whichever comes first. Resolves with `ended`
   * (and what ended it, when) or `timed_out`. The script is suspended and runs again
   * from the top when woken, exactly as for `approvals.request`: calls before it are
   * answered from the journal, so make the same calls in the same order before it.
   */
  function waitFor(wait: {
    for: string;
    until?: { replyFrom?: "requester" | "team" | "anyone"; status?: Status[]; fieldChanges?: ("status" | "priority" | "ticket_type" | "assignee" | "tags")[] };
  }): Promise<{ readonly decision: "ended" | "timed_out"; readonly endedBy?: string; readonly at?: string }>;

  /** Throw it to have the run retried later (with backoff, or after `retryAfterSeconds`). */
  class RetryableError extends Error {
    constructor(message: string, options?: { retryAfterSeconds?: number });
    readonly retryAfterSeconds: number | undefined;
  }
}
