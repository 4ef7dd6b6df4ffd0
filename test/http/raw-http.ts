import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: any;
}

/**
 * Sends bytes as they are on a fresh TCP connection (fetch refuses malformed
 * request lines, oversized or invalid headers and wrong Content-Lengths) and
 * returns every HTTP response read until the server closes the connection,
 * `responses` complete responses are in, or `waitMs` passes.
 */
export function rawExchange(baseUrl: string, request: string | Buffer, options: { waitMs?: number; halfClose?: boolean; responses?: number } = {}): Promise<RawResponse[]> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      try {
        resolve(parseResponses(Buffer.concat(chunks)));
      } catch (error) {
        reject(error);
      }
    };
    const timer = setTimeout(finish, options.waitMs ?? 3000);
    socket.on('connect', () => {
      socket.write(request);
      if (options.halfClose) socket.end();
    });
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (options.responses === undefined) return;
      try {
        if (parseResponses(Buffer.concat(chunks), false).length >= options.responses) finish();
      } catch {
        /* incomplete so far */
      }
    });
    // A reset after the answer (the server closes with unread bytes) still leaves the answer in `chunks`.
    socket.on('error', finish);
    socket.on('close', finish);
  });
}

/** The first response only; fails when there is none. */
export async function rawRequest(baseUrl: string, request: string | Buffer, options?: { waitMs?: number; halfClose?: boolean }): Promise<RawResponse> {
  const responses = await rawExchange(baseUrl, request, { responses: 1, ...options });
  if (!responses.length) throw new Error(`no response to ${JSON.stringify(String(request).slice(0, 80))}`);
  return responses[0];
}

/** `complete`: the connection is over, so a body without length or chunking ends with the data. */
function parseResponses(data: Buffer, complete = true): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = data;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`truncated response head: ${JSON.stringify(rest.toString('latin1').slice(0, 200))}`);
    const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (!match) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let bodyEnd: number;
    let text: string;
    if (headers['content-length'] !== undefined) {
      bodyEnd = end + 4 + Number(headers['content-length']);
      if (bodyEnd > rest.length) throw new Error('truncated response body');
      text = rest.subarray(end + 4, bodyEnd).toString('utf8');
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      let offset = end + 4;
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = rest.indexOf('\r\n', offset);
        if (lineEnd < 0) throw new Error('truncated chunked body');
        const size = parseInt(rest.subarray(offset, lineEnd).toString('latin1'), 16);
        offset = lineEnd + 2;
        if (!size) break;
        parts.push(rest.subarray(offset, offset + size));
        offset += size + 2;
      }
      bodyEnd = rest.indexOf('\r\n', offset) + 2;
      text = Buffer.concat(parts).toString('utf8');
    } else {
      if (!complete) throw new Error('body delimited by the end of the connection');
      bodyEnd = rest.length;
      text = rest.subarray(end + 4).toString('utf8');
    }
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      /* keep text */
    }
    responses.push({ status: Number(match[1]), headers, text, body });
    rest = rest.subarray(bodyEnd);
  }
  return responses;
}
