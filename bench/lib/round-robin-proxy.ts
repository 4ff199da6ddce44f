import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RoundRobinProxy {
  /** The proxy's own origin, e.g. http://127.0.0.1:40123: what ENDPOINT names for every instance. */
  url: string;
  port: number;
  /** How many requests each target received, in the order given. */
  served: number[];
  close(): Promise<void>;
}

/**
 * A minimal load balancer for several Sesame instances: each request goes to the next target in
 * turn (so one sign-in's requests land on different instances, the hardest case for shared state),
 * with the client's address appended to X-Forwarded-For as nginx does (instances run with
 * TRUST_PROXY=1). No sticky sessions, no retries: whatever an instance answers is passed back as is.
 * Used by the multi-instance tests and the bench; not part of Sesame.
 */
export async function startRoundRobinProxy(targets: readonly string[], options: { port?: number } = {}): Promise<RoundRobinProxy> {
  if (targets.length === 0) throw new Error('no targets');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const served = targets.map(() => 0);
  let next = 0;
  const server = http.createServer((req, res) => {
    const index = next;
    next = (next + 1) % targets.length;
    served[index]! += 1;
    const target = new URL(req.url ?? '/', targets[index]);
    const forwardedFor = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    const upstream = http.request(
      target,
      { method: req.method, headers: { ...req.headers, 'x-forwarded-for': forwardedFor }, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bad gateway: ${error.message}`);
    });
    req.pipe(upstream);
  });
  // Idle client connections stay open longer than any client keeps one (as nginx's 75 s does): with
  // Node's 5 s default, a client reusing a connection just as the proxy closed it got ECONNRESET.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    served,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
