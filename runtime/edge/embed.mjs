// Run by `npm run build` after tsc: writes into dist/runtime/edge/ what the edge kernel cannot
// read from files on an edge host: the guest SDK's compiled source (sdk-source.js, see
// sdk-source.ts) and the guest's Web globals, each group bundled from guest-web/ by esbuild as
// the Node kernel bundles them (web-sources.js, see web-sources.ts).
import { readFileSync, writeFileSync } from "node:fs";

const root = new URL("../../", import.meta.url);
const out = (name) => new URL(`dist/runtime/edge/${name}`, root);
const header = "// Written by runtime/edge/embed.mjs at build time.\n";

const sdk = readFileSync(new URL("dist/guest-sdk/index.js", root), "utf8");
writeFileSync(out("sdk-source.js"), `${header}export const SDK_SOURCE = ${JSON.stringify(sdk)};\n`);

const { webGroupSource } = await import(new URL("dist/runtime/engines/web/sources.js", root).href);
const { WEB_GROUPS } = await import(new URL("dist/runtime/engines/web/groups.js", root).href);
const groups = Object.fromEntries(Object.keys(WEB_GROUPS).map((group) => [group, webGroupSource(group)]));
writeFileSync(out("web-sources.js"), `${header}export const WEB_SOURCES = Object.freeze(${JSON.stringify(groups)});\n`);
