/**
 * The kernel's tool providers: the host's own tools (provider "") and any others (MCP servers),
 * listed together under their full names, each tool with its hash (`toolHash`) and its
 * compiled argument check. A provider that fails to list is left out of that listing, and its
 * tools are unknown until it lists again; a tool whose schema does not compile is left out too
 * (its arguments could not be checked).
 */
import { UsageError } from "../errors.js";
import { SchemaCache, type ArgsCheck, type SchemaCompiler } from "./schema.js";
import { toolHash, toolName, type ToolInfo, type ToolProvider } from "./types.js";

/** A provider's name: "" (the host's) or letters, digits, `_`, `-`. */
const PROVIDER_NAME = /^(|[A-Za-z0-9_-]{1,64})$/;

/** One tool of one listing. */
export interface ListedTool {
  /** The full name: `TOOL` or `SERVER/TOOL`. */
  readonly name: string;
  readonly provider: ToolProvider;
  /** Its name within its provider. */
  readonly tool: string;
  readonly info: ToolInfo;
  /** `sha256:...` of its full name, description and schema. */
  readonly hash: string;
  readonly check: ArgsCheck;
}

/** One listing of every provider's tools. */
export interface ToolListing {
  readonly tools: ReadonlyMap<string, ListedTool>;
  /** Providers that could not list, with why (their tools are unknown in this listing). */
  readonly failed: ReadonlyMap<string, string>;
}

export class ToolRegistry {
  readonly #providers: readonly ToolProvider[];
  readonly #schemas: SchemaCache;

  /**
   * @param compiler how tool schemas become argument checks (default: ajv; an edge host passes cfworkerCompiler()).
   * @throws UsageError for a bad or duplicate provider name.
   */
  constructor(providers: readonly ToolProvider[], compiler?: SchemaCompiler) {
    this.#schemas = new SchemaCache(compiler);
    const names = new Set<string>();
    for (const p of providers) {
      if (typeof p !== "object" || p === null || typeof p.list !== "function" || typeof p.call !== "function") throw new UsageError("toolProviders: expected ToolProvider objects { name, list, call, close }");
      if (typeof p.name !== "string" || !PROVIDER_NAME.test(p.name)) throw new UsageError(`toolProviders: a provider name is letters, digits, _ and - (or "" for the host's), got ${JSON.stringify(p.name)}`);
      if (names.has(p.name)) throw new UsageError(`tools: two tool providers are named ${JSON.stringify(p.name)}`);
      names.add(p.name);
    }
    this.#providers = [...providers];
  }

  /** Whether there is any provider at all. */
  get empty(): boolean {
    return this.#providers.length === 0;
  }

  /** Lists every provider (at once, in parallel). */
  async list(): Promise<ToolListing> {
    const tools = new Map<string, ListedTool>();
    const failed = new Map<string, string>();
    const listed = await Promise.allSettled(this.#providers.map((p) => p.list()));
    listed.forEach((outcome, i) => {
      const provider = this.#providers[i];
      if (outcome.status === "rejected") {
        failed.set(provider.name, outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason));
        return;
      }
      for (const info of Array.isArray(outcome.value) ? outcome.value : []) {
        if (typeof info?.name !== "string" || info.name === "" || info.name.includes("/")) continue;
        const name = toolName(provider.name, info.name);
        const clean: ToolInfo = { name: info.name, description: typeof info.description === "string" ? info.description : "", inputSchema: info.inputSchema };
        const check = this.#schemas.compile(clean.inputSchema);
        if (typeof check === "string" || tools.has(name)) continue;
        tools.set(name, { name, provider, tool: info.name, info: clean, hash: toolHash(name, clean), check });
      }
    });
    return { tools, failed };
  }

  /** Closes every provider (errors ignored: the kernel is closing). */
  async close(): Promise<void> {
    await Promise.allSettled(this.#providers.map((p) => p.close()));
  }
}
