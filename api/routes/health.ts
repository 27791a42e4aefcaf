import { Hono } from 'hono';

/** Liveness: the process answers. Readiness checks come with operations work. */
export function healthRoutes() {
  return new Hono().get('/healthz', (c) => c.json({ status: 'ok' }, 200));
}
