/*
 * The host side of SQLite in WebAssembly for agent-os/edge, compiled together with the SQLite
 * amalgamation that better-sqlite3 ships (so that the edge and Node run the same SQLite, and the
 * analyzer reads the same bytecode on both). Built by runtime/edge/sqlite/build.ts.
 *
 * - No files: SQLITE_OS_OTHER, with a VFS of our own ("aos") that opens nothing and only gives
 *   SQLite randomness and the time, both from the host. Databases live in SQLite's memdb VFS
 *   (a name starting with "/" is shared by every connection of the module), loaded and saved
 *   with sqlite3_deserialize and sqlite3_serialize.
 * - The progress handler calls the host (import "env" "aos_progress"), so that the host can
 *   end a statement that runs past its time: the one thing an edge host's thread cannot
 *   otherwise stop. No function table is touched at run time (edge hosts compile no WebAssembly
 *   from bytes, so no JS function can be turned into a wasm one there).
 * - Variadic calls (sqlite3_db_config) get fixed-argument wrappers.
 */
#include <string.h>
#include "sqlite3.h"

__attribute__((import_module("env"), import_name("aos_progress"))) int aos_progress(int token);
__attribute__((import_module("env"), import_name("aos_random"))) void aos_random(char *out, int n);
__attribute__((import_module("env"), import_name("aos_now_ms"))) double aos_now_ms(void);

static int progress(void *token) { return aos_progress((int)(long)token); }

/* Calls the host every `ops` virtual machine instructions with `token`; a non-zero answer interrupts. */
void aos_progress_handler(sqlite3 *db, int ops, int token) {
  sqlite3_progress_handler(db, ops, ops > 0 ? progress : 0, (void *)(long)token);
}

int aos_db_config_int(sqlite3 *db, int op, int value) {
  int now = -1;
  return sqlite3_db_config(db, op, value, &now) == SQLITE_OK ? now : -1;
}

/* The VFS: nothing to open, delete or find; randomness and time from the host. */
static int aosOpen(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out) {
  (void)v; (void)name; (void)flags; (void)out;
  f->pMethods = 0;
  return SQLITE_CANTOPEN;
}
static int aosDelete(sqlite3_vfs *v, const char *name, int sync) { (void)v; (void)name; (void)sync; return SQLITE_IOERR_DELETE; }
static int aosAccess(sqlite3_vfs *v, const char *name, int flags, int *out) { (void)v; (void)name; (void)flags; *out = 0; return SQLITE_OK; }
static int aosFullPathname(sqlite3_vfs *v, const char *name, int n, char *out) {
  (void)v;
  sqlite3_snprintf(n, out, "%s", name);
  return SQLITE_OK;
}
static int aosRandomness(sqlite3_vfs *v, int n, char *out) { (void)v; aos_random(out, n); return n; }
static int aosSleep(sqlite3_vfs *v, int us) { (void)v; (void)us; return 0; }
static int aosCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *out) {
  (void)v;
  *out = (sqlite3_int64)(aos_now_ms() + 210866760000000.0); /* Julian day in milliseconds */
  return SQLITE_OK;
}
static int aosCurrentTime(sqlite3_vfs *v, double *out) {
  sqlite3_int64 ms = 0;
  aosCurrentTimeInt64(v, &ms);
  *out = ms / 86400000.0;
  return SQLITE_OK;
}
static int aosGetLastError(sqlite3_vfs *v, int n, char *out) { (void)v; (void)n; (void)out; return 0; }

SQLITE_API int sqlite3_os_init(void) {
  static sqlite3_vfs vfs = {
    2, 0, 512, 0, "aos", 0,
    aosOpen, aosDelete, aosAccess, aosFullPathname,
    0, 0, 0, 0,
    aosRandomness, aosSleep, aosCurrentTime, aosGetLastError, aosCurrentTimeInt64,
    0, 0, 0,
  };
  return sqlite3_vfs_register(&vfs, 1);
}

SQLITE_API int sqlite3_os_end(void) { return SQLITE_OK; }
