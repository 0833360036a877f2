/**
 * Verification of the log's blobs. A blob is stored under its sha256 outside the chain (the
 * agent's source, which replay runs again), so the chain alone does not cover it: its events
 * record the hash, and this checks every stored copy of every blob against the hash it is
 * stored under, naming the event that refers to it.
 *
 * Which events refer to a blob: a spawn event's `codeHash` (the kernel stores a QuickJS
 * agent's source under it). A spawn event that also says `codeStored: true` promises that the
 * log holds the blob, so a blob missing for it is reported; a spawn without it (a component,
 * whose bytes the log does not hold, or a run recorded before the kernel stored sources) does
 * not. A blob that no event refers to (stored through `putBlob` by a host, or by a kernel whose
 * spawn never made it to disk) is not an error, but a copy of it that does not match its hash
 * is: it was changed.
 */
import type { BlobPlace, LogBackend } from "./backend.js";
import { sha256Hex } from "./encoding.js";

/** A problem found, at the event verify reports it at. */
export interface BlobProblem {
  seq: number;
  problem: string;
}

/** The first spawn event referring to a blob, and the first one promising that the log holds it. */
interface Reference {
  seq: number;
  runId: string;
  storedAt: number | undefined;
}

// The body of a spawn event ends so: `type` is the last key of the canonical text.
const SPAWN_TAIL = ',"type":"spawn"}';
const HASH = /^[0-9a-f]{64}$/;
/** Blobs read (and hashed) at a time: agents' sources, usually a few KiB each. */
const READ_AT_ONCE = 64;

/**
 * What the chain says about blobs, gathered while verify walks it: a record that is not a
 * spawn event costs one comparison of its end; a spawn event (rare) is parsed.
 */
export class BlobReferences {
  private readonly refs = new Map<string, Reference>();

  /** Notes the blob that a verified record (hash + body) refers to, if it refers to one. */
  note(seq: number, record: string): void {
    if (!record.endsWith(SPAWN_TAIL)) return;
    let event: { runId?: unknown; data?: { codeHash?: unknown; codeStored?: unknown } };
    try {
      event = JSON.parse(record.slice(64)) as typeof event;
    } catch {
      return; // (verified records parse: the chain walk hashed this one)
    }
    const hash = event.data?.codeHash;
    if (typeof hash !== "string" || !HASH.test(hash)) return;
    const stored = event.data?.codeStored === true ? seq : undefined;
    const known = this.refs.get(hash);
    if (known === undefined) this.refs.set(hash, { seq, runId: String(event.runId), storedAt: stored });
    else known.storedAt ??= stored;
  }

  get(hash: string): Reference | undefined {
    return this.refs.get(hash);
  }

  entries(): IterableIterator<[string, Reference]> {
    return this.refs.entries();
  }
}

/**
 * Checks every stored blob (those the walk met, and the backend's others) against its hash, and
 * every blob a spawn event says the log holds for being there. Gives the problem at the lowest
 * event, or undefined when every blob is sound.
 *
 * @example const problem = await checkBlobs(backend, placesMetInTheWalk, references, count);
 */
export async function checkBlobs(backend: LogBackend, met: BlobPlace[], refs: BlobReferences, count: number): Promise<BlobProblem | undefined> {
  const places = [...met, ...(await backend.blobsAside())];
  let worst: BlobProblem | undefined;
  const note = (seq: number, problem: string) => {
    if (worst === undefined || seq < worst.seq) worst = { seq, problem };
  };
  const sound = new Set<string>();
  for (let i = 0; i < places.length; i += READ_AT_ONCE) {
    const part = places.slice(i, i + READ_AT_ONCE);
    const stored = await backend.readBlobs(part);
    for (let k = 0; k < part.length; k++) {
      const { hash, seq } = part[k];
      const bytes = stored[k];
      if (bytes === undefined) continue; // (gone since the walk met it: only a missing blob matters, below)
      if (sha256Hex(bytes) === hash) {
        sound.add(hash);
        continue;
      }
      const where = seq < 0 ? "the copy stored under the key of logs written before segments" : `the copy stored with event ${seq}`;
      const ref = refs.get(hash);
      if (ref) note(ref.seq, `event ${ref.seq} (the spawn of run ${JSON.stringify(ref.runId)}) refers to the blob ${hash} (the agent's code), and ${where} does not match that hash (the blob was changed)`);
      else note(Math.max(1, seq < 0 ? count : seq), `the blob ${hash} (${where}, which no event refers to) does not match its hash (the blob was changed)`);
    }
  }
  for (const [hash, ref] of refs.entries()) {
    if (ref.storedAt === undefined || sound.has(hash)) continue;
    note(ref.storedAt, `event ${ref.storedAt} (the spawn of run ${JSON.stringify(ref.runId)}) records that the log holds the agent's code as the blob ${hash}, and the log does not hold it intact (the blob was removed or changed)`);
  }
  return worst;
}
