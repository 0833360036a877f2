/** URL and URLSearchParams: the whatwg-url package (the WHATWG URL standard's reference implementation). */
import { URL, URLSearchParams } from "whatwg-url";

export function create() {
  return { URL, URLSearchParams };
}
