import { TcpProxy } from '../helpers/tcp-proxy';

/** A URL of the same server, database and role, through the proxy. */
export function throughProxy(proxy: TcpProxy, url: string): string {
  const parsed = new URL(url);
  parsed.host = `127.0.0.1:${proxy.port}`;
  return parsed.toString();
}

export { until } from '../helpers/until';
