// A memory bomb: it allocates until something gives. The kernel's memory limit gives first.
export function run() {
  const hoard = [];
  for (;;) hoard.push(new Array(1 << 16).fill("x".repeat(64)));
}
