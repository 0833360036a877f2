/**
 * What the engine's C library asks of its host, answered so that the guest gets nothing of the
 * host's: no environment, no file descriptor but a discarded stdout/stderr, no timers, and the
 * time zone is UTC. (The wall clock is read by QuickJS's `Date`, which the kernel's prelude
 * replaces with the gated clock before any agent code runs.)
 */
import { writeUtcTime } from "./heap.js";

/** What the C library reports for calls it does not support (WASI errno values). */
const ENOSYS = 52;
const ESPIPE = 70;

/** The instance's heap, as these imports reach it. */
export interface LibcHeap {
  readonly HEAP32: Int32Array;
  stringToUTF8(text: string, out: number, maxBytes: number): number;
}

/** The C library's imports (module "env") for one instance. */
export function libcImports(heap: LibcHeap): Record<string, (...args: never[]) => unknown> {
  return {
    emscripten_date_now: () => Date.now(),
    _emscripten_runtime_keepalive_clear: () => undefined,
    _setitimer_js: () => 0,
    _localtime_js: (time: bigint, tm: number) => writeUtcTime(heap.HEAP32, Number(time), tm),
    _tzset_js: (timezone: number, daylight: number, stdName: number, dstName: number) => {
      heap.HEAP32[timezone >> 2] = 0;
      heap.HEAP32[daylight >> 2] = 0;
      heap.stringToUTF8("UTC", stdName, 17);
      heap.stringToUTF8("UTC", dstName, 17);
    },
    environ_sizes_get: (count: number, size: number) => {
      heap.HEAP32[count >> 2] = 0;
      heap.HEAP32[size >> 2] = 0;
      return 0;
    },
    environ_get: () => 0,
    fd_write: (_fd: number, iov: number, iovcnt: number, written: number) => {
      const view = heap.HEAP32;
      let total = 0;
      for (let i = 0; i < iovcnt; i++) total += view[(iov + 8 * i + 4) >> 2];
      view[written >> 2] = total;
      return 0;
    },
    fd_close: () => ENOSYS,
    fd_seek: () => ESPIPE,
  };
}
