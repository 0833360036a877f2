/** structuredClone: the @ungap/structured-clone package (Map, Set, Date, RegExp, typed arrays, cycles). */
import { deserialize, serialize } from "@ungap/structured-clone";

export function create(need) {
  const DOMException = need("DOMException");
  return {
    structuredClone(value, options) {
      if (arguments.length === 0) throw new TypeError("structuredClone: 1 argument required");
      try {
        return deserialize(serialize(value, { json: false, lossy: false }));
      } catch (error) {
        throw new DOMException(error instanceof Error ? error.message : String(error), "DataCloneError");
      }
    },
  };
}
