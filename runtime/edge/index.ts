/**
 * `agent-os/edge`: the kernel for edge hosts (Cloudflare Workers and other workerd hosts) and
 * browsers. Nothing here imports a Node built-in or uses a Node global (a test bundles it for
 * the browser and runs it in workerd and Chromium).
 *
 * @example
 * import { EdgeKernel } from "agent-os/edge";
 * import engine from "agent-os/engine.wasm";
 * const kernel = new EdgeKernel({ engine, policy: "extends: [standard]\n" });
 */
export { EdgeKernel, type EdgeKernelOptions } from "./kernel.js";
export { createEdgeHttp, type EdgeHttpOptions, type FetchFunction } from "./http.js";
export { compilePolicy, type CompileOptions } from "../policy/portable.js";
export { createChainLog, createMemoryBackend, formatEvent, redecideRunWith, verifyChain, type KernelLog, type LogBackend } from "../episodic/core.js";
export { sha256Hex } from "../portable/sha256.js";
export type { Agent } from "../kernel/kernel.js";
export type { AgentProcess, ProcessInfo } from "../kernel/process.js";
export type { ReplayResult } from "../episodic/core.js";
export type { Decision, Limits, LoggedEvent, Policy, RunResult, Signal } from "../types.js";
export { KernelClosedError, LogError, PolicyError, ReplayError, UsageError } from "../errors.js";
export { createKvBackend, DURABLE_OBJECT_LIMITS, type KvStore, type KvValue, type KvLimits } from "./kv-backend.js";
export {
  memoryKvStore,
  durableObjectKvStore,
  indexedDbKvStore,
  type MemoryKvStore,
  type MemoryKvStoreOptions,
  type DurableObjectStorageLike,
  type IndexedDbApi,
} from "./stores/index.js";
export type { EdgeDatabaseSpec, EdgeSqlOption } from "./sql.js";
export { createEdgeFs, MAX_PLAN_ENTRIES, type EdgeFsOptions, type EdgeMount } from "./fs.js";
export type { EdgeFsOption, EdgeMountSpec } from "./fs-mounts.js";
export { defineTool, createEdgeMcpProvider } from "./tools.js";
export type { ToolDefinition } from "../tools/host.js";
export type { McpHttpSpec } from "../tools/mcp-spec.js";
export type { McpProvider, McpProviderOptions } from "../tools/mcp-provider.js";
export type { JsonSchema, ToolContext, ToolInfo, ToolProvider } from "../tools/types.js";
