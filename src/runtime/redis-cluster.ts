import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './embedded-postgres';
import { findRedisServer, redisAnswers } from './redis-server';

/**
 * A throwaway Redis Cluster of masters only (no replicas), for the test suite and the
 * benchmarks, never the API itself: each node a `redis-server --cluster-enabled yes` from
 * PATH on free ports, bound to 127.0.0.1, its cluster config in a temp dir and no data kept
 * on disk; the cluster formed by `redis-cli --cluster create`. See README "Cache".
 */
export interface ThrowawayRedisCluster {
  /** The masters, in the order they were created. */
  readonly nodes: ReadonlyArray<{ host: string; port: number }>;
  /** The same as host:port,host:port,...: the value for REDIS_CLUSTER_NODES. */
  readonly nodesEnv: string;
  /** SIGSTOP every node: connections stay open and nothing answers (a stuck cluster). */
  pause(): void;
  /** SIGCONT every paused node: it answers again, with its data. */
  resume(): void;
  /** Stops every node (SIGTERM): connections are refused. Keys are lost; each node's cluster config is kept. */
  stop(): Promise<void>;
  /** Starts the stopped nodes again, same ports and cluster config, and waits until the cluster is ok. */
  start(): Promise<void>;
  /** Stops every node and removes the temp dir. */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 20_000;
const execFileAsync = promisify(execFile);

interface Node {
  port: number;
  /** The cluster bus port, given explicitly: the default (port + 10000) may be taken, or past 65535. */
  busPort: number;
  process?: ChildProcess;
  exited?: Promise<void>;
  paused: boolean;
}

/** Starts `masters` nodes (3 at least: redis-cli refuses fewer), forms the cluster and waits until every node says cluster_state:ok. */
export async function startRedisCluster(options: { masters?: number } = {}): Promise<ThrowawayRedisCluster> {
  const masters = options.masters ?? 3;
  if (!findRedisServer()) throw new Error('A Redis Cluster needs redis-server on PATH, and there is none (apt-get install redis-server)');
  if (spawnSync('redis-cli', ['--version']).status !== 0) throw new Error('A Redis Cluster needs redis-cli on PATH, and there is none (apt-get install redis-tools)');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-cluster-'));
  const nodes: Node[] = [];
  const taken = new Set<number>();
  const nextPort = async () => {
    // Ports handed out one after another are nearly always distinct; make sure.
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  for (let i = 0; i < masters; i++) nodes.push({ port: await nextPort(), busPort: await nextPort(), paused: false });

  // A test runner that dies between start and close must not leave servers behind.
  const killOnExit = () => {
    for (const node of nodes) node.process?.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  const launch = (node: Node) => {
    const args = [
      '--port', String(node.port),
      '--cluster-port', String(node.busPort),
      '--bind', HOST,
      '--cluster-enabled', 'yes',
      '--cluster-config-file', path.join(dir, `nodes-${node.port}.conf`),
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
      '--dir', dir,
      '--logfile', path.join(dir, `redis-${node.port}.log`),
    ];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    node.process = child;
    node.paused = false;
    node.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  };
  const terminate = async (node: Node) => {
    const child = node.process;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      if (node.paused) child.kill('SIGCONT'); // a stopped process handles SIGTERM only once continued
      child.kill('SIGTERM');
    }
    await node.exited;
    node.process = undefined;
    node.paused = false;
  };
  const logTail = () =>
    nodes
      .map((node) => {
        try {
          return `--- redis-${node.port}.log\n${readFileSync(path.join(dir, `redis-${node.port}.log`), 'utf8').split('\n').slice(-8).join('\n')}`;
        } catch {
          return `--- redis-${node.port}.log: none`;
        }
      })
      .join('\n');
  const launchAndWait = async () => {
    for (const node of nodes) if (!node.process) launch(node);
    for (const node of nodes) {
      if (!(await answersWithin(node.port, 5_000))) throw new Error(`redis-server on port ${node.port} was started but did not answer\n${logTail()}`);
    }
  };

  const close = async () => {
    await Promise.all(nodes.map(terminate));
    process.off('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await launchAndWait();
    const addresses = nodes.map((node) => `${HOST}:${node.port}`);
    try {
      await execFileAsync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`redis-cli --cluster create failed: ${(stderr || stdout || String(error)).trim().split('\n').slice(-5).join(' | ')}`);
    }
    await untilClusterOk(nodes.map((node) => node.port), logTail);
  } catch (error) {
    await close();
    throw error;
  }

  return {
    nodes: nodes.map((node) => ({ host: HOST, port: node.port })),
    nodesEnv: nodes.map((node) => `${HOST}:${node.port}`).join(','),
    pause() {
      for (const node of nodes) {
        node.process?.kill('SIGSTOP');
        node.paused = true;
      }
    },
    resume() {
      for (const node of nodes) {
        if (!node.paused) continue;
        node.process?.kill('SIGCONT');
        node.paused = false;
      }
    },
    async stop() {
      await Promise.all(nodes.map(terminate));
    },
    async start() {
      await launchAndWait();
      await untilClusterOk(nodes.map((node) => node.port), logTail);
    },
    close,
  };
}

async function answersWithin(port: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await redisAnswers(`redis://${HOST}:${port}`, 200)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/** Until every node's CLUSTER INFO says cluster_state:ok with all slots assigned and every node known. */
async function untilClusterOk(ports: number[], logTail: () => string): Promise<void> {
  const until = Date.now() + READY_TIMEOUT_MS;
  let last = '';
  while (Date.now() < until) {
    const infos = await Promise.all(ports.map((port) => clusterInfo(port)));
    const ok = infos.every(
      (info) => /cluster_state:ok/.test(info) && /cluster_slots_assigned:16384/.test(info) && new RegExp(`cluster_known_nodes:${ports.length}\\b`).test(info),
    );
    if (ok) return;
    last = infos.map((info, i) => `${ports[i]}: ${info.match(/cluster_state:\w+/)?.[0] ?? info.trim()}`).join(', ');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Redis Cluster did not reach cluster_state:ok within ${READY_TIMEOUT_MS} ms (${last})\n${logTail()}`);
}

async function clusterInfo(port: number): Promise<string> {
  const client = new Redis({ host: HOST, port, lazyConnect: true, connectTimeout: 1_000, commandTimeout: 1_000, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return String(await client.call('CLUSTER', 'INFO'));
  } catch (error) {
    return `unreachable (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    client.disconnect();
  }
}
