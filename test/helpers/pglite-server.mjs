// PGlite (PostgreSQL in WebAssembly) with its pgvector build, served on a PostgreSQL wire socket
// on 127.0.0.1, in a process of its own: PGlite loads its extensions with dynamic import(),
// which Jest's module sandbox refuses. Prints "PGLITE_READY <port>" once it accepts connections;
// stops on SIGTERM. Used by test/search/hnsw-pglite.e2e-spec.ts.
import net from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const port = await new Promise((resolve, reject) => {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1', () => {
    const { port: free } = probe.address();
    probe.close(() => resolve(free));
  });
  probe.on('error', reject);
});
const db = await PGlite.create({ extensions: { vector } });
// PGlite is one session: the socket server queues the statements of its connections onto it, so
// session-level SETs are shared by every connection (the test resets what it sets).
const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 4 });
await server.start();
process.stdout.write(`PGLITE_READY ${port}\n`);
process.on('SIGTERM', async () => {
  await server.stop();
  await db.close();
  process.exit(0);
});
