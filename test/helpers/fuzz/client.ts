import http from 'node:http';

/** One request exactly as it goes on the wire (path already encoded; headers may repeat). */
export interface WireRequest {
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body?: Buffer;
  /** Sent with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
}

export interface WireResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Transport failure: no status line was received (status is 0). */
  error?: string;
  ms: number;
}

/**
 * A keep-alive client on node:http (not fetch): it sends paths as given
 * (no normalisation of `..` or percent-escapes), repeated header lines, and
 * raw bytes. Bounded by the agent's socket count.
 */
export class WireClient {
  private readonly agent: http.Agent;

  constructor(
    private readonly baseUrl: string,
    maxSockets: number,
    private readonly timeoutMs = 15_000,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /**
   * Sends on a kept-alive socket. A socket the server has just closed (after
   * answering a request it could not parse, it hangs up) can be picked for
   * the next request before the close is seen: such a transport failure is
   * retried once on a fresh connection, and only a second failure counts.
   */
  async send(request: WireRequest): Promise<WireResponse> {
    const first = await this.sendOnce(request, this.agent);
    if (first.status !== 0) return first;
    const second = await this.sendOnce(request, false);
    return second.status === 0 ? { ...second, error: `${second.error} (also on a fresh connection)` } : second;
  }

  private sendOnce(request: WireRequest, agent: http.Agent | false): Promise<WireResponse> {
    const started = Date.now();
    const url = new URL(this.baseUrl);
    return new Promise((resolve) => {
      let settled = false;
      const done = (response: Omit<WireResponse, 'ms'>) => {
        if (settled) return;
        settled = true;
        resolve({ ...response, ms: Date.now() - started });
      };
      let req: http.ClientRequest;
      try {
        req = http.request({ agent, host: url.hostname, port: url.port, method: request.method, path: request.path, setHost: !request.headers.some(([n]) => n.toLowerCase() === 'host') });
        // Group by name: an array value is sent as repeated header lines.
        const grouped = new Map<string, { name: string; values: string[] }>();
        for (const [name, value] of request.headers) {
          const entry = grouped.get(name.toLowerCase()) ?? { name, values: [] };
          entry.values.push(value);
          grouped.set(name.toLowerCase(), entry);
        }
        for (const { name, values } of grouped.values()) req.setHeader(name, values.length === 1 ? values[0] : values);
        if (request.body !== undefined && !request.chunked && !grouped.has('content-length')) req.setHeader('content-length', String(request.body.length));
        // Node chunks bodies by default only for POST/PUT/PATCH: say it, or a GET's body bytes would be read as the next request.
        if (request.body !== undefined && request.chunked) req.setHeader('transfer-encoding', 'chunked');
      } catch (error) {
        done({ status: 0, headers: {}, body: Buffer.alloc(0), error: `client refused to send: ${(error as Error).message}` });
        return;
      }
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (error) => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), error: `response aborted: ${error.message}` }));
      });
      req.on('error', (error: NodeJS.ErrnoException) => done({ status: 0, headers: {}, body: Buffer.alloc(0), error: `${error.code ?? 'error'}: ${error.message}` }));
      if (request.body !== undefined && request.body.length > 0) {
        if (request.chunked) {
          // Several chunks, so the server really sees a chunked stream.
          const size = Math.max(1, Math.ceil(request.body.length / 3));
          for (let at = 0; at < request.body.length; at += size) req.write(request.body.subarray(at, at + size));
        } else req.write(request.body);
      }
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs `fn` over `count` indexes with at most `limit` in flight. */
export async function runBounded(count: number, limit: number, fn: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}
