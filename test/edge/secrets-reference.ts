/**
 * The Node implementation of scrubbing as it was before it became portable (Buffer.indexOf,
 * Buffer.concat, Buffer's base64 and Latin-1), kept here as the reference that the portable one
 * (runtime/capabilities/secrets.ts) must match byte for byte.
 */
import type { SecretSpec } from "../../dist/runtime/types.js";

interface Form {
  bytes: Buffer;
  mask: Buffer;
}

export function referenceEchoForms(value: string): string[] {
  const forms = new Set<string>([value]);
  const json = JSON.stringify(value).slice(1, -1);
  for (const j of [json, json.replace(/\//g, "\\/")]) {
    forms.add(j);
    forms.add(j.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
    forms.add(j.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()}`));
  }
  try {
    const url = encodeURIComponent(value);
    for (const u of [url, new URLSearchParams({ v: value }).toString().slice(2)]) {
      forms.add(u);
      forms.add(u.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()));
      forms.add(u.replace(/%20/g, "+"));
    }
  } catch {
    // a lone surrogate
  }
  const bytes = Buffer.from(value, "utf8");
  for (let skip = 0; skip < 3; skip++) {
    const whole = Math.floor((bytes.byteLength - skip) / 3) * 3;
    if (whole < 6) continue;
    const b64 = bytes.subarray(skip, skip + whole).toString("base64");
    forms.add(b64);
    forms.add(b64.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return [...forms].filter((f) => f.length > 0);
}

function scrubBytes(buf: Buffer, forms: Form[]): Buffer {
  let out = buf;
  for (const { bytes, mask } of forms) {
    let at = out.indexOf(bytes);
    if (at === -1) continue;
    const parts: Buffer[] = [];
    let from = 0;
    while (at !== -1) {
      parts.push(out.subarray(from, at), mask);
      from = at + bytes.byteLength;
      at = out.indexOf(bytes, from);
    }
    parts.push(out.subarray(from));
    out = Buffer.concat(parts);
  }
  return out;
}

/** The reference scrubber for secrets whose values are given (as if their variables were set). */
export class ReferenceScrubber {
  readonly #forms: Form[];

  constructor(specs: readonly SecretSpec[], values: Record<string, string>) {
    const forms: Form[] = [];
    for (const spec of specs) {
      const value = values[spec.env];
      if (value === undefined || value === "") continue;
      const mask = Buffer.from(`[secret:${spec.name}]`);
      const formatted = spec.format.split("{value}").join(value);
      const texts = new Set([...referenceEchoForms(formatted), ...referenceEchoForms(value)]);
      forms.push(...[...texts].map((text) => ({ bytes: Buffer.from(text, "utf8"), mask })));
    }
    forms.sort((a, b) => b.bytes.byteLength - a.bytes.byteLength);
    this.#forms = forms;
  }

  body(body: Uint8Array): Uint8Array {
    return new Uint8Array(scrubBytes(Buffer.from(body), this.#forms));
  }

  latin1(text: string): string {
    return scrubBytes(Buffer.from(text, "latin1"), this.#forms).toString("latin1");
  }

  utf8(text: string): string {
    return scrubBytes(Buffer.from(text, "utf8"), this.#forms).toString("utf8");
  }

  reveals(text: string): boolean {
    const bytes = Buffer.from(text, "latin1");
    const utf8 = Buffer.from(text, "utf8");
    return this.#forms.some((f) => bytes.includes(f.bytes) || utf8.includes(f.bytes));
  }
}
