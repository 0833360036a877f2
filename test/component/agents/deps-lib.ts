// The deps agent's own module, in TypeScript.
export interface Tally {
  name: string;
  lines: number;
  words: number;
}

export function tally(name: string, text: string): Tally {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const words = lines.reduce((n, line) => n + line.split(/\s+/).filter(Boolean).length, 0);
  return { name, lines: lines.length, words };
}
