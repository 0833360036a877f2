/**
 * Agent OS: the public API. Everything a host program needs is named here; the rest is
 * internal.
 *
 * ```ts
 * import { KernelSpace } from "agent-os";
 * const kernel = new KernelSpace({ policy: "strict", mounts: { "/workspace": "./ws" } });
 * const agent = await kernel.load("./examples/summarize/agent.js");
 * const result = await kernel.execute(agent, "summarize /workspace/notes.txt");
 * await kernel.close();
 * ```
 */
export { serveMcp, type McpServeHandle, type ServeMcpOptions } from "./mcp/serve.js";
export { DEFAULT_INPUT_SCHEMA, type InputSchema } from "./mcp/input-schema.js";
export { KernelSpace, type Agent, type KernelOptions, type ReplayOptions, type SpawnOptions } from "./kernel/kernel.js";
export type { DashboardHandle, DashboardOptions } from "./dashboard/types.js";
export { buildComponent, type BuildOptions, type BuildStep, type BuiltComponent } from "./engines/component/build.js";
export { bundleModule, type BundleModuleOptions, type BundledModule } from "./engines/quickjs/agent.js";
export { type CacheOptions } from "./engines/component/trust.js";
export { inspectComponent, type ComponentReport } from "./engines/component/inspect.js";
export type { AgentProcess, ProcessInfo } from "./kernel/process.js";
export type { PoolOptions } from "./hosts/node/pool/pool.js";
export type { Isolation } from "./kernel/hosts.js";
export type { CapabilityOptions } from "./kernel/capabilities.js";
export { type ResolvedAddress, type Resolver } from "./capabilities/net-guard.js";
export { dnsResolver } from "./hosts/node/net/net-dns.js";
export type { Approver, Verifier } from "./gate.js";
export {
  DEFAULT_ASK_TIMEOUT_MS,
  answerApproval,
  approvalsDir,
  readPendingApprovals,
  type AlwaysProposal,
  type ApprovalAnswer,
  type ApprovalEvent,
  type ApprovalOutcome,
  type ApprovalRequest,
  type ApprovalScope,
  type ApprovalsOptions,
  type MailboxOutcome,
  type PendingApproval,
} from "./approvals/index.js";
export {
  createVerifier,
  parseVerdict,
  type VerificationOptions,
  type VerificationResult,
  type VerifierOptions,
  type Vote,
} from "./verify/index.js";
export { startScriptedModel, type Script as ModelScript, type ScriptStep, type ScriptedModel, type ScriptedRequest } from "./models/scripted.js";
export type { ChatMessage, ChatRequest, ChatResponse, FinishReason, ToolCall, ToolSpec } from "./models/types.js";
export { createMcpProvider, type McpHttpSpec, type McpProvider, type McpProviderOptions, type McpServerSpec, type McpStdioSpec } from "./tools/mcp-client.js";
export { loadPolicy, resolvePolicy, BUILTIN_POLICIES } from "./policy/index.js";
export { openLog, type KernelLog } from "./episodic/index.js";
export type { CallSummary, Divergence, EndSummary, PendingCall, ReplayedCall, ReplayResult } from "./episodic/replay.js";
export type { StopPoint } from "./episodic/recording.js";
export { redecideRun, type CounterfactualOptions, type CounterfactualReport, type DecisionChange } from "./episodic/counterfactual.js";
export { observeRuns, type ObservedRun } from "./episodic/observed.js";
export { suggestPolicy, type ObservedCall, type SuggestOptions, type SuggestedPolicy } from "./policy/least-privilege.js";
export {
  backtestPolicy,
  type BacktestChange,
  type BacktestGroup,
  type BacktestOptions,
  type BacktestReport,
  type BacktestRun,
  type PolicyInput,
} from "./policy/backtest.js";
export { checkPolicyText, explainRequest, type CheckTextOptions, type ExplainInput, type ExplainedRequest, type ReadPolicy } from "./policy/editor.js";
export { formatExplanation, type Explanation, type RuleTrace } from "./policy/explain.js";
export {
  AgentOsError,
  AgentLoadError,
  ClusterError,
  GuestError,
  KernelClosedError,
  LogError,
  PolicyError,
  ReplayError,
  UsageError,
  type PolicyProblem,
  type WitError,
} from "./errors.js";
export {
  ACTIONS,
  DEFAULT_LIMITS,
  EFFECTS,
  SIGNALS,
  type Action,
  type Decision,
  type DecideOptions,
  type DecisionApproval,
  type Denial,
  type Effect,
  type EventQuery,
  type ExitReason,
  type Limits,
  type ModelSpec,
  type ModelAlias,
  type TokenCount,
  type LoggedEvent,
  type Policy,
  type ProcessState,
  type Request,
  type RunResult,
  type SecretSpec,
  type Signal,
  type Usage,
  type VerificationSettings,
  type VerifyReport,
} from "./types.js";
export { defineTool, type ToolDefinition } from "./tools/host.js";
export { toolHash, toolName, type JsonSchema, type ToolContext, type ToolInfo, type ToolProvider } from "./tools/types.js";
export { connectCluster, Cluster, type SubmitOptions } from "./cluster/client.js";
export { ClusterNode, type ClusterNodeOptions } from "./cluster/node.js";
export type { ClusterConnectOptions } from "./cluster/connect.js";
export type { ClusterProcess, SignalAnswer } from "./cluster/node-control.js";
export type { ClusterRunResult, PolicyRef, RunRecord, NodeRecord } from "./cluster/records.js";
export type { SharedRates } from "./gate-rates.js";
