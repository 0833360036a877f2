/**
 * "Run this after pending I/O and timers had their turn" on any host: Node's `setImmediate`;
 * elsewhere a MessageChannel message (a task, without the 4 ms clamp browsers put on nested
 * `setTimeout(0)`); `setTimeout(0)` as the last resort. The engine yields the thread to other
 * agents with it once per time slice, so its cost is paid per slice.
 */

type Task = () => void;

function viaMessages(): ((task: Task) => void) | undefined {
  const Channel = (globalThis as unknown as { MessageChannel?: new () => { port1: MessagePortLike; port2: MessagePortLike } }).MessageChannel;
  if (typeof Channel !== "function") return undefined;
  const channel = new Channel();
  const queue: Task[] = [];
  channel.port1.onmessage = () => queue.shift()?.();
  return (task) => {
    queue.push(task);
    channel.port2.postMessage(undefined);
  };
}

interface MessagePortLike {
  onmessage: ((event: unknown) => void) | null;
  postMessage(message: unknown): void;
}

const nodeImmediate = (globalThis as { setImmediate?: (task: Task) => unknown }).setImmediate;

/**
 * Runs `task` on a later turn of the event loop.
 * @example nextTurn(() => resumeNextAgent());
 */
export const nextTurn: (task: Task) => void =
  typeof nodeImmediate === "function" ? (task) => void nodeImmediate(task) : (viaMessages() ?? ((task) => void setTimeout(task, 0)));

/**
 * A timer that does not keep the host alive by itself, where timers can (Node's `unref`);
 * elsewhere the timer as it is.
 * @example unref(setTimeout(clean, 2));
 */
export function unref<T>(timer: T): T {
  (timer as { unref?: () => unknown }).unref?.();
  return timer;
}
