/**
 * The guest's Web globals (URL, TextEncoder, streams, fetch, ...), each group's bundle of
 * guest-web/ by name. On Node the kernel bundles a group with esbuild the first time a guest
 * needs it; an edge host cannot, so the build writes them all into this module's output
 * (runtime/edge/embed.mjs replaces the empty record below in dist/runtime/edge/web-sources.js).
 */
export const WEB_SOURCES: Readonly<Record<string, string>> = {};
