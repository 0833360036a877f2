/** The names of the secrets an http.fetch carried: what the gate records, never what the guest gets. */

/**
 * The names of the secrets an http.fetch carried (on its response, or on the error it failed
 * with): they go into the result event for auditors, never to the guest.
 */
export function secretsOf(value: unknown): string[] | undefined {
  const names = (value as { secrets?: unknown } | null | undefined)?.secrets;
  return Array.isArray(names) && names.length > 0 && names.every((n) => typeof n === "string") ? [...(names as string[])] : undefined;
}

/** An http.fetch result without the names of the secrets it carried (what the guest gets). */
export function withoutSecrets(value: unknown): unknown {
  if (value === null || typeof value !== "object" || !("secrets" in value)) return value;
  const { secrets: _names, ...rest } = value as Record<string, unknown>;
  return rest;
}
