import type { ServerMessage } from './server';

/**
 * The lifecycle every benchmark server process shares (the API in server.ts
 * has its own copy for app.close()): report the port to run.ts over IPC, stop on
 * request, on a signal, or when the parent goes away.
 */
export function announceAndWait(port: number, close: () => Promise<void>): void {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await close().catch(() => undefined);
    process.exit(0);
  };
  process.on('message', (message: { type?: string }) => message?.type === 'stop' && void stop());
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  process.once('disconnect', () => void stop());
  process.send?.({ type: 'listening', port } satisfies ServerMessage);
}

/** The body every hello variant answers with. */
export const HELLO_BODY = { hello: 'world' };

export function failStartup(name: string): (error: unknown) => void {
  return (error) => {
    process.stderr.write(`${name} failed: ${(error as Error)?.stack ?? error}\n`);
    process.exit(1);
  };
}
