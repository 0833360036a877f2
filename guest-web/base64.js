/** atob and btoa (forgiving base64, Latin1 strings), as the HTML standard defines them. Pure JS. */

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function encode(DOMException, data) {
  const s = String(data);
  let out = "";
  for (let i = 0; i < s.length; i += 3) {
    const a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
    if (a > 255 || b > 255 || c > 255) throw new DOMException("btoa: the string has characters outside Latin1", "InvalidCharacterError");
    const n = (a << 16) | ((b || 0) << 8) | (c || 0);
    out += B64[n >> 18] + B64[(n >> 12) & 63] + (i + 1 < s.length ? B64[(n >> 6) & 63] : "=") + (i + 2 < s.length ? B64[n & 63] : "=");
  }
  return out;
}

function decode(DOMException, data) {
  let s = String(data).replace(/[\t\n\f\r ]/g, "");
  if (s.length % 4 === 0) s = s.replace(/==?$/, "");
  if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s)) {
    throw new DOMException("atob: the string is not correctly encoded", "InvalidCharacterError");
  }
  let out = "", bits = 0, value = 0;
  for (let i = 0; i < s.length; i++) {
    value = (value << 6) | B64.indexOf(s[i]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((value >> bits) & 255);
    }
  }
  return out;
}

export function create(need) {
  const DOMException = need("DOMException");
  return {
    atob(data) {
      if (arguments.length === 0) throw new TypeError("atob: 1 argument required");
      return decode(DOMException, data);
    },
    btoa(data) {
      if (arguments.length === 0) throw new TypeError("btoa: 1 argument required");
      return encode(DOMException, data);
    },
  };
}
