import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { clientAddressOf, fastifyTrustProxy } from '../../src/lib/request.ts';
import type { TrustProxy } from '../../src/config/index.ts';

/**
 * Requests under /oidc reach oidc-provider without fastify (src/http/oidc.ts), so their client address
 * (rate limits, logs, oidc-provider's ctx.ip) comes from clientAddressOf: it must say what fastify's
 * request.ip says for the same TRUST_PROXY, whatever a client writes into X-Forwarded-For.
 */
describe('clientAddressOf', () => {
  const settings: TrustProxy[] = [false, 1, 2, ['10.0.0.0/8'], ['127.0.0.1', '10.1.2.3']];
  const requests = [
    { remoteAddress: '127.0.0.1' },
    { remoteAddress: '127.0.0.1', forwardedFor: '203.0.113.7' },
    { remoteAddress: '10.1.2.3', forwardedFor: '198.51.100.1, 203.0.113.7' },
    { remoteAddress: '10.9.9.9', forwardedFor: '6.6.6.6, 198.51.100.1, 10.1.1.1' },
    { remoteAddress: '192.0.2.44', forwardedFor: '10.0.0.5' },
  ];

  it.each(settings.map((trust) => ({ trust, name: JSON.stringify(trust) })))('agrees with fastify for TRUST_PROXY=$name', async ({ trust }) => {
    const app = Fastify({ trustProxy: fastifyTrustProxy(trust) });
    const ours = clientAddressOf(trust);
    app.get('/', async (request) => ({ fastify: request.ip, ours: ours(request.raw as IncomingMessage) }));
    for (const { remoteAddress, forwardedFor } of requests) {
      const reply = await app.inject({ url: '/', remoteAddress, headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} });
      const { fastify, ours: mine } = reply.json<{ fastify: string; ours: string }>();
      expect(mine, `${remoteAddress} via ${forwardedFor ?? 'nothing'}`).toBe(fastify);
    }
    await app.close();
  });

  it('reads X-Forwarded-For only as far as the proxies it trusts', () => {
    const fakeRequest = (remoteAddress: string, forwardedFor: string) =>
      ({ socket: { remoteAddress }, connection: { remoteAddress }, headers: { 'x-forwarded-for': forwardedFor } }) as unknown as IncomingMessage;
    expect(clientAddressOf(false)(fakeRequest('127.0.0.1', '203.0.113.7'))).toBe('127.0.0.1');
    expect(clientAddressOf(1)(fakeRequest('127.0.0.1', '6.6.6.6, 203.0.113.7'))).toBe('203.0.113.7');
    expect(clientAddressOf(['10.0.0.0/8'])(fakeRequest('192.0.2.44', '10.0.0.5'))).toBe('192.0.2.44');
  });
});
