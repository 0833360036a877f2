/**
 * The distributed kernel (issue 20) beside a local KernelSpace in the same run, on a real
 * nats-server (JetStream, file storage) and real `agent-os node` processes on this machine:
 *
 * - submit to the agent's first host call (a GET to a loopback endpoint this process serves and
 *   times), median of FIRST_CALLS, beside KernelSpace.spawn to the same call in this process;
 *   and where the time goes: submit() returning, the node's claim (the record's startedAt),
 *   the gate's decision on the call (its call event in the node's log; both are the node's
 *   wall clock, to the millisecond) and the request's arrival, the last two phases beside the
 *   same phases of the local runs. The phases' medians need not add up to the total's;
 * - RUNS short runs (one host call, return) submitted at once, to one node then three, beside
 *   the same runs on a local kernel of one node's capacity. The machine has 2 cores: three
 *   nodes on it measure the cluster's overhead, not a speed-up;
 * - Anchorer.anchorNow() (the log's signed head, published to JetStream and acknowledged) on a
 *   quiet log, and called as a node calls it at a run's end, while the last event is being
 *   written (timed from that write being durable); beside a durable append of one event,
 *   medians of ANCHORS, interleaved on the same log.
 */
import { cpus } from "node:os";
import { join } from "node:path";
import { connectCluster, KernelSpace, type Cluster } from "../runtime/index.js";
import { anchorCosts, clusterFirstCalls, clusterThroughput, localFirstCalls, localThroughput, type AnchorTimes, type SpawnTimes, type SubmitTimes } from "./cluster-measure.js";
import { startBenchNats } from "./cluster-nats.js";
import { makeRig, Scope, type ClusterRig } from "./cluster-rig.js";
import { median, type BenchRow, type BenchSuite } from "./harness.js";

const FIRST_CALLS = 30;
const WARM = 3;
const RUNS = 200;
const CAPACITY = 4;
const ANCHORS = 200;

export const clusterBench: BenchSuite = {
  title: `Cluster (issue 20): nats-server + agent-os node processes on this ${cpus().length}-core machine, beside a local KernelSpace`,
  async run(): Promise<BenchRow[]> {
    const scope = new Scope();
    try {
      const nats = await startBenchNats();
      scope.defer(() => nats.close());
      const rig = await makeRig(scope, nats, CAPACITY);
      const kernel = new KernelSpace(rig.kernelOptions(join(rig.dir, "local", "log")));
      scope.defer(() => kernel.close());
      const cluster = await connectCluster(nats.url, { token: nats.token });
      scope.defer(() => cluster.close());

      await rig.startNode("n1");
      const local = await localFirstCalls(kernel, rig.hits, FIRST_CALLS, WARM);
      const submitted = await clusterFirstCalls(cluster, rig.hits, FIRST_CALLS, WARM);
      const throughput = await throughputRows(rig, kernel, cluster);
      const anchors = await anchorCosts(scope, nats, join(rig.dir, "anchors"), ANCHORS);
      return [...firstCallRows(submitted, local), ...throughput, ...anchorRows(anchors)];
    } finally {
      await scope.close();
    }
  },
};

function firstCallRows(times: SubmitTimes, local: SpawnTimes): BenchRow[] {
  const total = median(times.firstCall);
  const ofTotal = { name: "submit to first host call (above)", value: total };
  const between = (later: number[], earlier: number[]) => median(later.map((t, i) => t - earlier[i]));
  const row = (name: string, value: number, baseline: { name: string; value: number }): BenchRow => ({ name, value, unit: "ms", better: "lower", baseline });
  return [
    row(`submit to first host call, 1 node, median of ${FIRST_CALLS}`, total, { name: "local KernelSpace.spawn to the same call, this process", value: median(local.firstCall) }),
    row("  of which submit() returns (code check, record, queue publish)", median(times.returned), ofTotal),
    row("  of which return to the node's claim (delivery, record read, heartbeat)", between(times.claimed, times.returned), ofTotal),
    row("  of which claim to the gate's decision (claim write, spawn, engine; node log, 1 ms)", between(times.gate, times.claimed), { name: "local spawn() to the gate's decision", value: median(local.gate) }),
    row("  of which gate's decision to the request's arrival (http.fetch)", between(times.firstCall, times.gate), { name: "the same, local", value: between(local.firstCall, local.gate) }),
  ];
}

/** One node, then three, each beside the local kernel measured just before it. */
async function throughputRows(rig: ClusterRig, kernel: KernelSpace, cluster: Cluster): Promise<BenchRow[]> {
  const local = `local KernelSpace, capacity ${CAPACITY}, same ${RUNS} runs`;
  const localOne = await localThroughput(kernel, rig.hits, RUNS);
  const oneNode = await clusterThroughput(cluster, rig.hits, RUNS);
  await Promise.all([rig.startNode("n2"), rig.startNode("n3")]);
  const localThree = await localThroughput(kernel, rig.hits, RUNS);
  const threeNodes = await clusterThroughput(cluster, rig.hits, RUNS);
  return [
    { name: `${RUNS} short runs submitted at once, 1 node (capacity ${CAPACITY})`, value: oneNode, unit: "runs/s", better: "higher", baseline: { name: local, value: localOne } },
    {
      name: `the same, 3 nodes on this ${cpus().length}-core machine (overhead, not speed-up)`,
      value: threeNodes,
      unit: "runs/s",
      better: "higher",
      baseline: { name: local, value: localThree },
    },
  ];
}

function anchorRows(times: AnchorTimes): BenchRow[] {
  const append = { name: "durable log append of one event, same log", value: median(times.append) };
  return [
    { name: `Anchorer.anchorNow() on a quiet log (head durable): sign, JetStream publish, ack; median of ${ANCHORS}`, value: median(times.quiet), unit: "µs", better: "lower", baseline: append },
    { name: "anchorNow() called during the write, as at a run's end: from the write being durable", value: median(times.inFlight), unit: "µs", better: "lower", baseline: append },
  ];
}
