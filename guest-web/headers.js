/** Headers, as the Fetch standard defines them: names lowercased, values trimmed, sorted iteration. */

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const LIST = Symbol("list");
const GUARD = Symbol("guard");

function normalizeValue(value) {
  const v = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
  if (/[\0\r\n]/.test(v)) throw new TypeError(`Headers: invalid header value ${JSON.stringify(v)}`);
  return v;
}

function checkName(name) {
  const n = String(name);
  if (!TOKEN.test(n)) throw new TypeError(`Headers: invalid header name ${JSON.stringify(n)}`);
  return n.toLowerCase();
}

export class Headers {
  constructor(init) {
    this[LIST] = [];
    this[GUARD] = "none";
    if (init === undefined || init === null) return;
    if (typeof init !== "object" && typeof init !== "function") throw new TypeError("Headers: init must be an object or a sequence of pairs");
    if (init instanceof Headers) {
      for (const [n, v] of init[LIST]) this[LIST].push([n, v]);
    } else if (typeof init[Symbol.iterator] === "function") {
      for (const pair of init) {
        const p = typeof pair === "string" ? null : [...pair];
        if (!p || p.length !== 2) throw new TypeError("Headers: each pair must have a name and a value");
        this.append(p[0], p[1]);
      }
    } else {
      for (const key of Reflect.ownKeys(init)) {
        const d = Reflect.getOwnPropertyDescriptor(init, key);
        if (d === undefined || !d.enumerable) continue;
        if (typeof key === "symbol") throw new TypeError("Headers: a header name cannot be a symbol");
        this.append(key, init[key]);
      }
    }
  }
  append(name, value) {
    writable(this);
    this[LIST].push([checkName(name), normalizeValue(value)]);
  }
  delete(name) {
    writable(this);
    const n = checkName(name);
    this[LIST] = this[LIST].filter(([k]) => k !== n);
  }
  get(name) {
    const n = checkName(name);
    const values = this[LIST].filter(([k]) => k === n).map(([, v]) => v);
    return values.length === 0 ? null : values.join(", ");
  }
  getSetCookie() {
    return this[LIST].filter(([k]) => k === "set-cookie").map(([, v]) => v);
  }
  has(name) {
    const n = checkName(name);
    return this[LIST].some(([k]) => k === n);
  }
  set(name, value) {
    writable(this);
    const n = checkName(name), v = normalizeValue(value);
    const i = this[LIST].findIndex(([k]) => k === n);
    if (i < 0) this[LIST].push([n, v]);
    else this[LIST] = [...this[LIST].slice(0, i), [n, v], ...this[LIST].slice(i + 1).filter(([k]) => k !== n)];
  }
  forEach(callback, thisArg) {
    for (const [n, v] of this.entries()) callback.call(thisArg, v, n, this);
  }
  *entries() {
    const names = [...new Set(this[LIST].map(([k]) => k))].sort();
    for (const n of names) {
      if (n === "set-cookie") for (const v of this.getSetCookie()) yield [n, v];
      else yield [n, this.get(n)];
    }
  }
  *keys() { for (const [n] of this.entries()) yield n; }
  *values() { for (const [, v] of this.entries()) yield v; }
  [Symbol.iterator]() { return this.entries(); }
  get [Symbol.toStringTag]() { return "Headers"; }
}

function writable(headers) {
  if (headers[GUARD] === "immutable") throw new TypeError("Headers: these headers are immutable");
}

/** The headers as [name, value] pairs in insertion order (what is sent). */
export function headerPairs(headers) {
  return headers[LIST].map(([n, v]) => [n, v]);
}

/** Makes `headers` immutable (a fetched response's, an error response's). */
export function freezeHeaders(headers) {
  headers[GUARD] = "immutable";
  return headers;
}

/** Whether `headers` are immutable. */
export function isFrozenHeaders(headers) {
  return headers[GUARD] === "immutable";
}

/** Headers from the kernel's pairs, kept as received (names lowercased). */
export function headersFromPairs(pairs) {
  const headers = new Headers();
  for (const [n, v] of pairs) {
    try {
      headers.append(n, v);
    } catch {
      // a header the Fetch standard could not hold: left out
    }
  }
  return headers;
}
