/**
 * The dev server's start (temporal/dev-server.ts) for `npm start`, the tests and the
 * bench: a server that exits while starting is tried again, and the error that ends it
 * carries what the server said, not only its exit code.
 */
import net from 'node:net';
import { expect, it } from 'vitest';
import { loadConfig } from '../../config.js';
import { startDevServer } from '../../temporal/dev-server.js';

it('a dev server that cannot start says why, after three tries', async () => {
  // Something else holds the port asked for (and takes the start's connection attempts).
  const sockets = new Set<net.Socket>();
  const holder = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const port = (holder.address() as net.AddressInfo).port;
  const config = loadConfig();
  const said: string[] = [];
  try {
    const start = startDevServer({ cliPath: config.temporalCliPath, cacheDir: config.cacheDir, namespace: 'default', port, log: (m) => said.push(m) });
    await expect(start).rejects.toThrow(/exited with code \d+; its last output:[\s\S]*address already in use/);
    expect(said.filter((m) => m.startsWith('Starting the Temporal dev server'))).toHaveLength(3);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => holder.close(resolve));
  }
});
