/**
 * What whatwg-url asks of the tr46 package (UTS #46 domain processing), without tr46's 240 KB
 * mapping table, which would cost every run that touches a URL about 60 ms to load in QuickJS.
 * The mapping is approximated by NFC and lowercasing; each non-ASCII label is Punycode-encoded
 * (the `punycode` package, which tr46 itself uses), and an `xn--` label must decode.
 *
 * What differs from full UTS #46: characters that the table maps to others (fullwidth letters,
 * some compatibility forms) or marks as disallowed pass through as they are, and the Bidi,
 * joiner and hyphen checks are not made. A guest's URL parser only shapes what the guest asks
 * for: the kernel canonicalizes every URL again with its own parser before deciding.
 */
import { decode, encode } from "punycode/punycode.es6.js";

const SEPARATORS = /[.\u3002\uff0e\uff61]/;

function toAsciiLabel(label, ignoreInvalidPunycode) {
  if (/^xn--/i.test(label)) {
    if (!ignoreInvalidPunycode) {
      try {
        const decoded = decode(label.slice(4));
        // As UTS #46 validity: not empty, not ASCII only, no controls, in NFC, and round-tripping.
        if (decoded === "" || /^[\x00-\x7f]*$/.test(decoded) || /[\x00-\x1f\x7f-\x9f]/.test(decoded)) return null;
        if (decoded.normalize("NFC") !== decoded || encode(decoded) !== label.slice(4).toLowerCase()) return null;
      } catch {
        return null;
      }
    }
    return label;
  }
  return /[^\x00-\x7f]/.test(label) ? "xn--" + encode(label) : label;
}

export function toASCII(domainName, { ignoreInvalidPunycode = false, verifyDNSLength = false } = {}) {
  let mapped;
  try {
    mapped = String(domainName).normalize("NFC").toLowerCase();
  } catch {
    return null;
  }
  const labels = mapped.split(SEPARATORS);
  const out = [];
  for (const label of labels) {
    let ascii;
    try {
      ascii = toAsciiLabel(label, ignoreInvalidPunycode);
    } catch {
      return null;
    }
    if (ascii === null) return null;
    out.push(ascii);
  }
  const result = out.join(".");
  if (verifyDNSLength && (result.length > 253 || out.some((l) => l.length === 0 || l.length > 63))) return null;
  return result;
}

export function toUnicode(domainName) {
  const labels = String(domainName).normalize("NFC").toLowerCase().split(SEPARATORS);
  const domain = labels
    .map((label) => {
      if (!/^xn--/i.test(label)) return label;
      try {
        return decode(label.slice(4));
      } catch {
        return label;
      }
    })
    .join(".");
  return { domain, error: false };
}
