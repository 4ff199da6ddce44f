/**
 * CPU cost of one verification-code mail on Sesame's own mail path: renderMail (src/mail/render.ts,
 * the built-in templates) and the pooled SMTP mailer (src/mail/mailer.ts) sending to SMTP_PORT on
 * loopback (the bench's sink, which runs in the bench's process, so its parsing is not counted here).
 *
 *   SMTP_PORT=2525 node --import tsx bench/mail-cost.ts [SENDS=500] [WARMUP=50]
 *
 * Prints one JSON line: CPU ms per mail for render alone, for render + send, and the no-op baseline
 * (the same loop around an empty async function) already subtracted from both. It runs in its own
 * process so process.cpuUsage() sees nothing but this.
 */
import { resolve } from 'node:path';
import { connectorConfigFromEnv } from '../src/mail/connector-config.ts';
import { createSmtpMailer, type OutgoingMail } from '../src/mail/mailer.ts';
import { renderMail } from '../src/mail/render.ts';
import { ROOT } from './lib/processes.ts';

const [sends = 500, warmup = 50] = process.argv.slice(2).map(Number);
/** Mails in flight at once, like concurrent sign-ins sharing the mailer's pool of 10 connections. */
const IN_FLIGHT = 8;
const templatesDir = resolve(ROOT, 'templates', 'email');
const config = connectorConfigFromEnv({ host: '127.0.0.1', port: Number(process.env.SMTP_PORT), secure: false, from: 'Sesame <no-reply@sesame.test>' });
const mailer = createSmtpMailer(config, { templatesDir });

/** What Sesame's code flow sends (src/sign-in/routes/code-flow.ts): half sign-ups, half sign-ins. */
const mailOf = (i: number): OutgoingMail => {
  const to = `mail-cost-${i}@example.com`;
  return {
    to,
    usageType: i % 2 ? 'SignIn' : 'Register',
    data: { code: String(100000 + (i % 900000)), application: { name: 'Bench' }, user: { primaryEmail: to }, expiresInMinutes: 10 },
  };
};

/** CPU ms `count` runs of `op` take, IN_FLIGHT at a time. */
async function cpuMs(count: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const start = process.cpuUsage();
  let next = 0;
  const lane = async () => {
    while (next < count) await op(next++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

const render = (i: number) => {
  const mail = mailOf(i);
  return renderMail(config, mail.usageType, mail.data, templatesDir);
};
const send = (i: number) => mailer.send(mailOf(i));

// Warm-up: template compilation, the pool's connections, the JIT.
await cpuMs(warmup, render);
await cpuMs(warmup, send);
await cpuMs(warmup, async () => undefined);
const baseline = await cpuMs(sends, async () => undefined);
const rendered = await cpuMs(sends, render);
const sent = await cpuMs(sends, send);
await mailer.close();
const perMail = (ms: number) => Math.round((Math.max(0, ms - baseline) / sends) * 1000) / 1000;
console.log(JSON.stringify({ sends, renderMs: perMail(rendered), renderAndSendMs: perMail(sent), baselineMs: Math.round((baseline / sends) * 1000) / 1000 }));
