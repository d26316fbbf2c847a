import type { Context, FetchResponse } from "./switchboard";

// A Statuspage-style summary API.
const STATUS_URL = "https://www.githubstatus.com/api/v2/status.json";

interface StatusSummary {
  status: { indicator: "none" | "minor" | "major" | "critical"; description: string };
  page: { url: string };
}

// Retries 5xx and 429 a few times with backoff; other statuses are final.
async function fetchWithRetry(url: string, attempts = 3): Promise<FetchResponse> {
  let last = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const response = await http.fetch(url, { headers: { accept: "application/json" }, timeoutMs: 5000 });
    if (response.ok) return response;
    last = `${response.status} ${response.statusText}`;
    if (response.status !== 429 && response.status < 500) break;
    console.warn(`status page answered ${last} (attempt ${attempt} of ${attempts})`);
    await sleep(200 * 2 ** attempt);
  }
  throw new RetryableError(`the status page keeps failing (${last})`, { retryAfterSeconds: 60 });
}

export default async function (ctx: Context) {
  let summary: StatusSummary;
  try {
    const response = await fetchWithRetry(STATUS_URL);
    summary = (await response.json()) as StatusSummary;
  } catch (error) {
    if (error instanceof RetryableError) {
      await slack.reply(":hourglass: Checking the status page, it is slow to answer; I will try again shortly.");
      throw error;
    }
    throw new Error(`could not read the status page: ${(error as Error).message}`);
  }
  const icon = summary.status.indicator === "none" ? ":large_green_circle:" : ":red_circle:";
  await slack.reply(`${icon} Status page says: *${summary.status.description}* (${summary.page.url})`);
  return { indicator: summary.status.indicator };
}
