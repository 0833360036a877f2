// A benign agent: reads the notes in its workspace, writes a summary beside them, and records
// the summary in its database.
import { fs, log, sql } from "agent-os/guest";

export async function run(task) {
  const path = task.trim() || "/workspace/notes.txt";
  const text = await fs.readText(path);
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const words = text.split(/\s+/).filter(Boolean).length;
  const summary = [
    `${lines.length} lines, ${words} words`,
    `first line: ${lines[0] ?? "(empty)"}`,
    `last line: ${lines[lines.length - 1] ?? "(empty)"}`,
  ].join("\n");
  await fs.write("/workspace/summary.txt", summary + "\n");
  await log.info("wrote the summary", { path: "/workspace/summary.txt", words });
  try {
    await sql.query("main", "INSERT INTO summaries (path, words) VALUES (?, ?)", [path, words]);
  } catch (error) {
    await log.warn("could not record the summary", { error: String(error) });
  }
  return summary;
}
