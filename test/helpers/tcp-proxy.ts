import net from 'node:net';

export interface TcpProxy {
  port: number;
  url(scheme: string): string;
  /** Refuses new connections and resets open ones: the backend looks down. */
  cut(): Promise<void>;
  /**
   * Holds every byte in both directions (nothing is lost, as with a real stuck
   * server or network: TCP delays, it does not drop): the backend looks slow.
   */
  stall(): void;
  /** Back to forwarding, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a real server, so a test can make it unreachable or
 * stuck and bring it back without touching the server itself (and so without
 * touching data other test files keep there).
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let stalled = false;

  const onConnection = (client: net.Socket) => {
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (data) => upstream.write(data));
    upstream.on('data', (data) => client.write(data));
    if (stalled) {
      client.pause();
      upstream.pause();
    }
  };

  let server = net.createServer(onConnection);
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
  const port = await listen(0);
  let listening = true;

  const stopListening = async () => {
    if (!listening) return;
    listening = false;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const resetAll = () => {
    for (const { client, upstream } of pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    pairs.clear();
  };

  return {
    port,
    url: (scheme) => `${scheme}://127.0.0.1:${port}`,
    async cut() {
      stalled = false;
      const closed = stopListening();
      resetAll();
      await closed;
    },
    stall() {
      stalled = true;
      for (const { client, upstream } of pairs) {
        client.pause();
        upstream.pause();
      }
    },
    async restore() {
      stalled = false;
      for (const { client, upstream } of pairs) {
        client.resume();
        upstream.resume();
      }
      if (listening) return;
      server = net.createServer(onConnection);
      await listen(port);
      listening = true;
    },
    async close() {
      const closed = stopListening();
      resetAll();
      await closed;
    },
  };
}
