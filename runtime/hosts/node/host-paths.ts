/**
 * Host paths compared as the file system sees them, for the kernel's own checks that something
 * the operator names (a cache, a key file, an approvals mailbox or policy file) is not inside an
 * agent's mount, nor a mount inside it.
 */
import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";

/**
 * An absolute path with links resolved as far as it exists (the rest as written).
 * @example realPath("/tmp/link/new-dir") // "/private/tmp/target/new-dir"
 */
export function realPath(path: string): string {
  let head = resolve(path);
  const rest: string[] = [];
  while (!existsSync(head)) {
    const parent = dirname(head);
    if (parent === head) break;
    rest.unshift(basename(head));
    head = parent;
  }
  return join(realpathSync(head), ...rest);
}

/**
 * Whether `path` is `dir` or below it.
 * @example within("/a/b/c", "/a/b") === true
 */
export function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!isAbsolute(rel) && rel !== ".." && !rel.startsWith("../") && !rel.startsWith("..\\"));
}
