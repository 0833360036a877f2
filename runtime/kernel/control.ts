/** The control word, written by the kernel, read by the guest's interrupt handler. */
export const Control = { run: 0, stop: 1, kill: 2 } as const;
