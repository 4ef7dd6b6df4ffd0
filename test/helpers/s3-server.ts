import { mkdtempSync, rmSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

// s3rver ships no types; this is the part the tests use.
const S3rver: new (options: Record<string, unknown>) => { run(): Promise<AddressInfo>; close(): Promise<void> } = require('s3rver');

export interface TestS3Server {
  bucket: string;
  port: number;
  endpoint: string;
  /** Env for startTestApp: the app's S3 driver pointed at this server. */
  env: Record<string, string>;
  /** Stops the server (the outage tests call it mid-test); data stays on disk. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real S3-protocol server (s3rver) in this process on a random port, one per
 * test file. s3rver does not check signatures: never use it to prove them.
 */
export async function startS3Server(bucket = 'attachments-test'): Promise<TestS3Server> {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'tenancy-s3rver-'));
  const options = (port: number) => ({ port, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket }] });
  let server = new S3rver(options(0));
  const { port } = await server.run();
  let running = true;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    bucket,
    port,
    endpoint,
    env: {
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
      S3_REQUEST_TIMEOUT_MS: '5000',
    },
    async stop() {
      if (!running) return;
      running = false;
      await server.close();
    },
    async restart() {
      if (running) return;
      server = new S3rver(options(port));
      await server.run();
      running = true;
    },
    async close() {
      if (running) await server.close();
      running = false;
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
