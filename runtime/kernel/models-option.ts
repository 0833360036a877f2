/** The `models` option of a kernel (Node's or the edge's), checked as the policy's `models:` block is. */
import { UsageError } from "../errors.js";
import { Problems } from "../policy/check.js";
import { validateModelAliases } from "../policy/models.js";
import type { ModelAlias } from "../types.js";

/** Model aliases as a kernel's options give them (a timeout may be a duration string). */
export type ModelsOption = Record<string, Omit<ModelAlias, "timeout"> & { timeout?: number | string }>;

/** @throws UsageError naming every bad alias or field. */
export function checkModels(models: ModelsOption | undefined): Record<string, ModelAlias> {
  if (models === undefined) return {};
  const problems = new Problems();
  const out = validateModelAliases(models, ["models"], problems);
  if (problems.list.length > 0 || out === undefined) {
    const lines = problems.list.map((p) => `${p.field.map((f, i) => (i === 0 ? f : `.${f}`)).join("")}: ${p.message}`);
    throw new UsageError(lines.length > 0 ? lines.join("\n") : "models: expected a mapping of aliases");
  }
  return out;
}
