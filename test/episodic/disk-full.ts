/**
 * A log directory whose writes really fail, for the claims "a log that cannot be written: the
 * call is not carried out". The log lives on a small tmpfs of its own, which `fill` fills up to
 * `margin` bytes: LevelDB's next write past that fails with ENOSPC, as on a full disk. Where
 * mounting is not permitted (not root), the fallback is the process's file-size limit
 * (RLIMIT_FSIZE, through prlimit): a write past `margin` bytes beyond the end of LevelDB's
 * write-ahead log fails with EFBIG (for every file of the process: a test makes the log larger
 * than the files its calls touch). Both are the kernel refusing a real write of the real
 * LevelDB, not a stand-in.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface FullDisk {
  /** How writes are made to fail: a full tmpfs (ENOSPC) or a file-size limit (EFBIG). */
  kind: "tmpfs" | "rlimit";
  /** Where to put log directories (inside the tmpfs). */
  logDir: string;
  /** From now on, the log in `dir` takes `margin` more bytes at most (on tmpfs, a few KiB of slack: whole pages). */
  fill(margin: number, dir: string): void;
  /** Makes room again (writes succeed), without unmounting. */
  empty(): void;
  /** Undoes everything. */
  release(): void;
}

const PAGE = 4096;

export function makeFullDisk(prefix: string): FullDisk {
  const mnt = mkdtempSync(join(tmpdir(), prefix));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", mnt], { stdio: "pipe" });
  } catch {
    return rlimitDisk(mnt);
  }
  const logDir = join(mnt, "log");
  mkdirSync(logDir);
  const filler = join(mnt, "filler");
  return {
    kind: "tmpfs",
    logDir,
    fill(margin, _dir) {
      const s = statfsSync(mnt);
      const free = s.bavail * s.bsize;
      writeFileSync(filler, Buffer.alloc(Math.max(0, free - Math.ceil(margin / PAGE) * PAGE)));
    },
    empty() {
      rmSync(filler, { force: true });
    },
    release() {
      execFileSync("umount", ["-l", mnt], { stdio: "pipe" });
      rmSync(mnt, { recursive: true, force: true });
    },
  };
}

/** The fallback: a limit on the size of any file this process writes, just past LevelDB's write-ahead log. */
function rlimitDisk(dir: string): FullDisk {
  const logDir = join(dir, "log");
  mkdirSync(logDir);
  const set = (limit: string) => execFileSync("prlimit", ["--pid", String(process.pid), `--fsize=${limit}`], { stdio: "pipe" });
  return {
    kind: "rlimit",
    logDir,
    fill(margin, dir) {
      const wal = readdirSync(dir).filter((f) => f.endsWith(".log")).sort().pop();
      const size = wal === undefined ? 0 : statSync(join(dir, wal)).size;
      set(`${size + margin}:unlimited`);
    },
    empty() {
      set("unlimited:unlimited");
    },
    release() {
      set("unlimited:unlimited");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
