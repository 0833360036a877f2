/**
 * The Web platform on the component engine: the prelude imports guest-web/component.js (bundled
 * with the agent) and installs it with the kernel's wrapped `http.fetch` and `log.write`.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { GUEST_WEB_DIR } from "./sources.js";

/** What the prelude imports; the component profile resolves it to guest-web/component.js. */
export const WEB_SPECIFIER = "agentos:web";
export const WEB_COMPONENT_FILE = join(GUEST_WEB_DIR, "component.js");
/** Every file of guest-web/: kernel files the bundler allows wherever they are. */
export const WEB_FILES: readonly string[] = readdirSync(GUEST_WEB_DIR).filter((f) => f.endsWith(".js")).map((f) => join(GUEST_WEB_DIR, f));

/** The lines of the component prelude that install the Web globals. */
export function webPreludeComponent(witVersion: string): string {
  return `import { fetch as webHttpFetch } from "agentos:kernel/http@${witVersion}";
import { write as webLogWrite } from "agentos:kernel/log@${witVersion}";
import { installWeb } from "${WEB_SPECIFIER}";
installWeb({ httpFetch: webHttpFetch, logWrite: webLogWrite });
`;
}
