import type { FastifyInstance } from 'fastify';

/**
 * Stops accepting connections, lets requests in flight finish, then returns. fastify closes idle
 * keep-alive connections once, when close starts; a connection busy at that moment would then stay
 * open until its keep-alive timeout (72 s) after its request ends, so idle ones are closed again
 * every 100 ms. After `deadlineMs` whatever is left is cut.
 */
export async function closeGracefully(app: FastifyInstance, deadlineMs = 10_000): Promise<void> {
  const started = Date.now();
  const sweeper = setInterval(() => {
    if (Date.now() - started > deadlineMs) app.server.closeAllConnections();
    else app.server.closeIdleConnections();
  }, 100);
  try {
    await app.close();
  } finally {
    clearInterval(sweeper);
  }
}
