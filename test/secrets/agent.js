// The secrets tests' agent for both engines: it fetches the URL it is given, with its own
// Authorization header (which the kernel must drop on the secret's origin), and returns what
// it received: the status, the body and the headers, or the error it was told.
import { http } from "agent-os/guest";

export async function run(url) {
  try {
    const res = await http.fetch(url, { headers: { authorization: "guest-chosen" } });
    return JSON.stringify({ status: res.status, body: res.text(), headers: res.headers });
  } catch (error) {
    return JSON.stringify({ error: String(error && error.name), detail: String(error && (error.detail || error.reason || error.message)) });
  }
}
