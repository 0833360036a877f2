// An agent that uses the Web platform's globals as the usual SDKs do, one case per task:
// { "case": name, "url": a loopback URL of the test's server }. Each case answers JSON.

function described(error) {
  if (!(error instanceof Error)) return { thrown: String(error) };
  const cause = error.cause;
  return {
    name: error.name,
    message: error.message,
    isTypeError: error instanceof TypeError,
    isDOMException: typeof DOMException === "function" && error instanceof DOMException,
    cause: cause instanceof Error ? { name: cause.name, rule: cause.rule ?? null, reason: cause.reason ?? null, kind: cause.kind ?? null } : null,
  };
}

async function settle(promise) {
  try {
    return { ok: await promise };
  } catch (error) {
    return { error: described(error) };
  }
}

const cases = {
  async fetch(url) {
    const res = await fetch(url + "echo?x=1", {
      method: "post",
      headers: { "X-Agent": " web ", "content-type": "application/json" },
      body: JSON.stringify({ hello: "world" }),
    });
    const headers = [...res.headers].filter(([name]) => name.startsWith("x-") || name === "content-type");
    return { status: res.status, ok: res.ok, statusText: res.statusText, url: res.url, headers, body: await res.json(), bodyUsed: res.bodyUsed };
  },
  async stream(url) {
    const res = await fetch(url + "big");
    const reader = res.body.getReader();
    const sizes = [];
    let text = "";
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      sizes.push(value.byteLength);
      text += decoder.decode(value, { stream: true });
    }
    text += decoder.decode();
    return { chunks: sizes.length, total: sizes.reduce((a, b) => a + b, 0), lines: text.split("\n").filter(Boolean).length, bodyUsed: res.bodyUsed };
  },
  async denied(url) {
    return settle(fetch(url + "forbidden"));
  },
  async credentials(url) {
    const withCredentials = url.replace("http://", "http://user:secret@");
    return { fetch: await settle(fetch(withCredentials)), request: await settle((async () => new Request(withCredentials))()) };
  },
  async relative() {
    return { relative: await settle(fetch("/relative/path")), file: await settle(fetch("file:///etc/passwd")), data: await settle(fetch("data:text/plain,x")) };
  },
  async reuse(url) {
    const request = new Request(url + "echo", { method: "POST", body: "once" });
    const first = await request.text();
    const again = await settle(fetch(request));
    const clone = await settle((async () => request.clone())());
    const response = await fetch(url + "echo", { method: "POST", body: "twice" });
    const text = await response.text();
    const twice = await settle(response.text());
    const original = new Request(url + "echo", { method: "POST", body: "moved" });
    const moved = new Request(original);
    const fromUsed = await settle((async () => new Request(request))());
    return { first, bodyUsed: request.bodyUsed, again, clone, text, twice, moved: [original.bodyUsed, await moved.text()], fromUsed };
  },
  async "abort-before"(url) {
    const controller = new AbortController();
    const pending = fetch(url + "echo?aborted-before", { signal: controller.signal });
    controller.abort();
    const already = await settle(fetch(url + "echo?already", { signal: AbortSignal.abort() }));
    return { pending: await settle(pending), already };
  },
  async "abort-during"(url) {
    const controller = new AbortController();
    const res = await fetch(url + "big", { signal: controller.signal });
    const reader = res.body.getReader();
    const first = await reader.read();
    controller.abort();
    const next = await settle(reader.read());
    return { firstBytes: first.value.byteLength, next };
  },
  async console() {
    console.log("log %s %d %i %f %j %o %%", "str", 42.5, 42.5, 1.5, { j: 1 }, [1, "two"]);
    console.info("info", { nested: { deep: { deeper: { deepest: { gone: 1 } } } } });
    console.debug("debug", 1n, null, undefined, Symbol("s"));
    console.warn("warn", new Map([["k", 1]]), new Set([2]));
    console.error(new TypeError("boom"));
    const cycle = { name: "cycle" };
    cycle.self = cycle;
    console.log(cycle);
    console.table([{ a: 1, b: "x" }, { a: 2 }]);
    console.log("x".repeat(20000));
    console.count(Symbol("not a string"));
    console.log({ get boom() { throw new Error("getter"); } });
    return "logged";
  },
  async globals() {
    const out = {};
    const u = new URL("HTTP://Example.COM:80/a/./b/../c?q=1 2#frag");
    out.url = [u.href, u.protocol, u.host, u.pathname, u.search, u.hash];
    out.idna = new URL("http://münchen.example/").host;
    out.invalid = await settle((async () => new URL("not a url"))());
    out.edges = ["http://[::1]:8080/x", "http://0x7f.1/", "http://h.example/a b/%7e?x=é#ü", "HTTPS://H.EXAMPLE:443/", "http://xn--mnchen-3ya.example/"].map((u) => new URL(u).href);
    out.refused = [];
    for (const u of ["http://exa mple.com/", "http://xn--a.example/", "http://[::1/", "http://h.example:99999/"]) {
      out.refused.push((await settle((async () => new URL(u))())).error?.isTypeError === true);
    }
    out.relative = new URL("../x?y", "http://h.example/a/b/c").href;
    const params = new URLSearchParams("a=1&b=2&a=3&c=%20x+y");
    params.append("d", "é&=");
    params.sort();
    out.params = [params.getAll("a"), params.get("c"), params.toString()];
    const decoder = new TextDecoder();
    const euro = new TextEncoder().encode("a€😀b");
    out.split = [decoder.decode(euro.slice(0, 2), { stream: true }), decoder.decode(euro.slice(2, 6), { stream: true }), decoder.decode(euro.slice(6), { stream: true }), decoder.decode()];
    out.fatal = await settle((async () => new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xff])))());
    out.replacement = new TextDecoder().decode(new Uint8Array([0x61, 0xff, 0x62]));
    out.bom = [new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])), new TextDecoder("utf-8", { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])).length];
    const original = { when: new Date(86400000), map: new Map([["k", [1, 2]]]), set: new Set(["s"]), re: /x/gi, bytes: new Uint8Array([1, 2]) };
    original.self = original;
    const copy = structuredClone(original);
    out.clone = [copy !== original, copy.self === copy, copy.when instanceof Date, copy.when.getTime(), copy.map.get("k"), [...copy.set], String(copy.re), Array.from(copy.bytes)];
    out.cloneFunction = await settle((async () => structuredClone({ f() {} }))());
    out.base64 = [btoa("hello\u00ff"), atob("aGVsbG//"), atob(" aGk = "), await settle((async () => btoa("€"))()), await settle((async () => atob("a"))())];
    out.uuid = [crypto.randomUUID(), crypto.randomUUID()];
    const headers = new Headers([["B", "2"], ["a", " 1 "], ["set-cookie", "x=1"], ["Set-Cookie", "y=2"], ["b", "3"]]);
    out.headers = [...headers];
    out.badHeader = await settle((async () => new Headers({ "bad name": "x" }))());
    out.response = [Response.json({ a: 1 }).headers.get("content-type"), Response.error().type, Response.redirect("http://h.example/", 301).headers.get("location")];
    out.badStatus = await settle((async () => new Response("x", { status: 99 }))());
    const blob = new Blob(["ab", new Uint8Array([99])], { type: "Text/Plain" });
    out.blob = [blob.size, blob.type, await blob.text(), await blob.slice(1).text()];
    out.events = (() => {
      const target = new EventTarget();
      const seen = [];
      target.addEventListener("ping", (e) => seen.push(e.type), { once: true });
      target.dispatchEvent(new Event("ping"));
      target.dispatchEvent(new Event("ping"));
      return seen;
    })();
    const timeout = AbortSignal.any([new AbortController().signal, AbortSignal.abort("why")]);
    out.any = [timeout.aborted, timeout.reason];
    let microtask = "not yet";
    queueMicrotask(() => (microtask = "ran"));
    await null;
    out.microtask = microtask;
    return out;
  },
  async form(url) {
    const form = new FormData();
    form.append("field", "value");
    form.append("file", new Blob(["file body"], { type: "text/plain" }), "notes.txt");
    const res = await fetch(url + "echo", { method: "POST", body: form });
    const params = await fetch(url + "echo", { method: "POST", body: new URLSearchParams({ a: "1 2" }) });
    const parts = [new TextEncoder().encode("streamed "), new TextEncoder().encode("upload")];
    const body = new ReadableStream({ start(c) { for (const p of parts) c.enqueue(p); c.close(); } });
    const streamed = await fetch(url + "echo", { method: "PUT", body, duplex: "half" });
    return { form: await res.json(), params: await params.json(), streamed: (await streamed.json()).body };
  },
};

export async function run(task) {
  const { case: name, url } = JSON.parse(task);
  return JSON.stringify(await cases[name](url));
}
