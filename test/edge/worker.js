// A Cloudflare Worker that runs the conformance cases on the edge kernel: bundled by
// test/edge/workerd.test.ts (esbuild, platform "browser") and run in workerd through miniflare,
// with engine.wasm imported as a module, as an edge host gives it.
import { conformance, fsCase, guard, model, redirect, secrets } from "./conformance.js";
import engine from "./engine.wasm";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    try {
      if (url.pathname === "/conformance") return Response.json(await conformance(engine, url.searchParams.get("origin")));
      if (url.pathname === "/guard") return Response.json(await guard(engine, url.searchParams.get("origin")));
      if (url.pathname === "/redirect") return Response.json(await redirect(engine, url.searchParams.get("origin")));
      if (url.pathname === "/model") return Response.json(await model(engine, url.searchParams.get("origin")));
      if (url.pathname === "/fs") return Response.json(await fsCase(engine));
      if (url.pathname === "/secrets") return Response.json(await secrets(engine, url.searchParams.get("origin")));
      return new Response("unknown case", { status: 404 });
    } catch (error) {
      return Response.json({ thrown: String(error && error.stack || error) }, { status: 500 });
    }
  },
};
