/** The names of the built-in policies, on every host (their texts: builtin-texts.ts; their files: builtins.ts). */

/** The built-in profiles, loadable by name with resolvePolicy and extendable with `extends`. */
export const BUILTIN_POLICIES: readonly string[] = Object.freeze(["strict", "standard", "readonly", "permissive", "audit"]);

/** Names `extends` accepts: the profiles and `base` (the calls every agent needs to function). */
export const EXTENDABLE_BUILTINS: readonly string[] = Object.freeze(["base", ...BUILTIN_POLICIES]);
