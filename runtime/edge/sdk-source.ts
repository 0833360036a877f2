/**
 * The guest SDK's compiled source (dist/guest-sdk/index.js), which every agent imports as
 * `agent-os/guest`. On Node the kernel reads the file; an edge host has no files, so the build
 * writes the text into this module's output (runtime/edge/embed.mjs runs after tsc, and
 * replaces the empty string below in dist/runtime/edge/sdk-source.js).
 */
export const SDK_SOURCE: string = "";
