// The host API as scripts see it (declared for editors in switchboard.d.ts).
//
// Evaluated in every fresh sandbox context before the script. It receives the two
// native functions (`host`: an asynchronous call into switchboard, `log`: console
// output) and the run's context as JSON; it defines the globals below and returns
// the `ctx` object the script's default export is called with. The natives stay in
// this closure: scripts cannot reach them except through these functions.
(function (host, log, contextJson) {
  "use strict";
  const freeze = Object.freeze;
  const defineGlobal = (name, value) =>
    Object.defineProperty(globalThis, name, { value, writable: false, enumerable: false, configurable: false });
  const stringify = JSON.stringify;
  const parse = JSON.parse;

  class RetryableError extends Error {
    constructor(message, options) {
      super(message);
      this.name = "RetryableError";
      this.retryAfterSeconds = options && options.retryAfterSeconds;
    }
  }
  freeze(RetryableError.prototype);
  freeze(RetryableError);

  // Host calls that failed transiently (after the host's own retries) reject with a
  // RetryableError: if the script does not catch it, the run is retried later.
  const call = async (name, args) => {
    const result = await host(name, args === undefined ? null : args);
    if (result.ok) return result.value;
    const error = result.retryable ? new RetryableError(result.message) : new Error(result.message);
    if (!result.retryable && result.name) error.name = result.name;
    throw error;
  };

  const show = (value) => {
    if (typeof value === "string") return value;
    if (value instanceof Error) return value.name + ": " + value.message;
    try {
      const text = stringify(value);
      return text === undefined ? String(value) : text;
    } catch (_) {
      return String(value);
    }
  };
  const writer = (level) => (...values) => { log(level, values.map(show).join(" ")); };
  const console = freeze({
    log: writer("info"),
    info: writer("info"),
    debug: writer("debug"),
    warn: writer("warn"),
    error: writer("error"),
  });

  const slack = freeze({
    reply: (text, options) => call("slack.reply", { ...options, text }),
    postMessage: (channel, text, options) => call("slack.postMessage", { ...options, channel, text }),
    dm: (user, text, options) => call("slack.dm", { ...options, user, text }),
    react: (emoji, options) => call("slack.react", { ...options, emoji }),
    usersInfo: (user) => call("slack.usersInfo", { user }),
    lookupUserByEmail: (email) => call("slack.lookupUserByEmail", { email }),
    call: (method, args) => call("slack.call", { method, args: args === undefined ? {} : args }),
  });

  const response = (r) => {
    const headers = r.headers;
    const lower = {};
    for (const key of Object.keys(headers)) lower[key.toLowerCase()] = headers[key];
    return freeze({
      status: r.status,
      statusText: r.statusText,
      ok: r.status >= 200 && r.status < 300,
      url: r.url,
      redirected: r.redirected,
      headers: freeze({
        get: (name) => (lower[String(name).toLowerCase()] === undefined ? null : lower[String(name).toLowerCase()]),
        has: (name) => lower[String(name).toLowerCase()] !== undefined,
        entries: () => Object.entries(lower),
      }),
      text: async () => r.body,
      json: async () => parse(r.body),
    });
  };
  const http = freeze({
    fetch: async (url, init) => response(await call("http.fetch", { url: String(url), init: init === undefined ? {} : init })),
  });

  const jira = freeze({
    createIssue: (issue) => call("jira.createIssue", issue),
  });
  const okta = freeze({
    getUser: (idOrLogin) => call("okta.getUser", { user: idOrLogin }),
    resetPassword: (idOrLogin, options) => call("okta.resetPassword", { ...options, user: idOrLogin }),
  });
  const google = freeze({
    groups: freeze({
      addMember: (group, email, options) => call("google.groups.addMember", { ...options, group, email }),
    }),
  });
  const sleep = (ms) => call("sleep", { ms });

  defineGlobal("console", console);
  defineGlobal("slack", slack);
  defineGlobal("http", http);
  defineGlobal("jira", jira);
  defineGlobal("okta", okta);
  defineGlobal("google", google);
  defineGlobal("sleep", sleep);
  defineGlobal("RetryableError", RetryableError);

  const ctx = parse(contextJson);
  if (ctx.conversation) {
    const conversation = ctx.conversation;
    Object.defineProperty(conversation, "update", {
      enumerable: false,
      value: async (changes) => {
        const updated = await call("conversation.update", changes);
        Object.assign(conversation, updated);
        return conversation;
      },
    });
  }
  return ctx;
})
