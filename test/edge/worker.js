// A Cloudflare Worker that runs the conformance cases on the edge kernel: bundled by
// test/edge/workerd.test.ts (esbuild, platform "browser") and run in workerd through miniflare,
// with engine.wasm and sqlite.wasm imported as modules, as an edge host gives them.
import { conformance, fsCase, guard, model, redirect, secrets, tools } from "./conformance.js";
import engine from "./engine.wasm";
import sqlite from "./sqlite.wasm";
import { sqlCase } from "./sql-case.js";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    try {
      if (url.pathname === "/conformance") return Response.json(await conformance(engine, url.searchParams.get("origin")));
      if (url.pathname === "/guard") return Response.json(await guard(engine, url.searchParams.get("origin")));
      if (url.pathname === "/redirect") return Response.json(await redirect(engine, url.searchParams.get("origin")));
      if (url.pathname === "/model") return Response.json(await model(engine, url.searchParams.get("origin")));
      if (url.pathname === "/fs") return Response.json(await fsCase(engine));
      if (url.pathname === "/sql") return Response.json(await sqlCase(engine, sqlite));
      if (url.pathname === "/tools") return Response.json(await tools(engine, url.searchParams.get("origin")));
      if (url.pathname === "/secrets") return Response.json(await secrets(engine, url.searchParams.get("origin")));
      return new Response("unknown case", { status: 404 });
    } catch (error) {
      return Response.json({ thrown: String(error && error.stack || error) }, { status: 500 });
    }
  },
};
