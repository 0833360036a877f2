// A runaway agent: it never stops on its own. The kernel's fuel budget or deadline stops it.
export function run() {
  let n = 0;
  while (true) n++;
}
