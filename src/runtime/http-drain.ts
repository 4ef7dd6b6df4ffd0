import type { Server } from 'node:http';

export interface DrainOutcome {
  /** Every connection ended by itself within the timeout. */
  drained: boolean;
  /** Connections still open at the timeout, then cut. */
  cut: number;
}

/** How often idle keep-alive connections are closed while draining. */
const IDLE_SWEEP_MS = 100;

/**
 * Stops accepting connections at once (the listening socket closes: a new
 * connection is refused) and waits up to timeoutMs for the open ones to end;
 * what is still open then is cut. Node's server.close() closes only the
 * connections idle at that moment: a keep-alive connection whose request
 * finishes later would stay open until its keepAliveTimeout (Fastify's default
 * is 72 s) and hold the drain, so idle ones are swept until the end. Responses
 * sent while draining also carry `Connection: close` (app.factory.ts).
 */
export async function drainHttpServer(server: Server, timeoutMs: number): Promise<DrainOutcome> {
  const closed = new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
  const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    if ((await Promise.race([closed, timedOut])) !== 'timeout') return { drained: true, cut: 0 };
    const cut = await new Promise<number>((resolve) => server.getConnections((error, count) => resolve(error ? 0 : count)));
    server.closeAllConnections();
    await closed;
    return { drained: false, cut };
  } finally {
    clearTimeout(timer);
    clearInterval(sweep);
  }
}
