import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.ts';
import { removeEmailConnector, saveEmailConnector, sendTestEmail, showEmailConnector } from '../../management/email-connector.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../../management/errors.ts';
import { normalizeEmail } from '../../sign-in/email.ts';
import { english } from '../../sign-in/messages.ts';
import { InvalidMailError, MailDeliveryError } from '../../mail/errors.ts';
import { ApiError } from '../errors.ts';
import { actorOf, errorResponses } from '../schemas.ts';

/**
 * Sesame's one connector: the SMTP email connector, in Logto's shape (Logto's SMTP connector
 * factory is `simple-mail-transfer-protocol`; its config format is the same). Its ID is `smtp`.
 */
const TAG = 'Connectors';
const CONNECTOR_ID = 'smtp';
const FACTORY_ID = 'simple-mail-transfer-protocol';

const connectorSchema = z
  .object({
    id: z.string(),
    connectorId: z.string().meta({ description: 'The factory: simple-mail-transfer-protocol' }),
    type: z.literal('Email'),
    config: z.record(z.string(), z.unknown()).meta({ description: "Logto's SMTP connector config; auth.pass reads as ********" }),
    metadata: z.object({}),
    syncProfile: z.boolean(),
    enableTokenStorage: z.boolean(),
    updatedAt: z.number(),
  })
  .meta({ id: 'Connector' });

const configSchema = z.record(z.string(), z.unknown(), { error: 'config must be a JSON object' });

const toConnector = (stored: { config: Record<string, unknown>; updatedAt: number }): z.output<typeof connectorSchema> => ({
  id: CONNECTOR_ID,
  connectorId: FACTORY_ID,
  type: 'Email',
  config: stored.config,
  metadata: {},
  syncProfile: false,
  enableTokenStorage: false,
  updatedAt: stored.updatedAt,
});

const idParams = z.object({ id: z.string().max(200) });
const noConnector = (id: string) => new NotFoundError('connector', id);

export function connectorRoutes(scope: FastifyInstance, deps: ApiDeps): void {
  const api = scope.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  async function current(id: string) {
    const stored = id === CONNECTOR_ID ? await showEmailConnector(db) : undefined;
    if (!stored) throw noConnector(id);
    return stored;
  }

  api.get(
    '/connectors',
    {
      schema: {
        tags: [TAG],
        operationId: 'ListConnectors',
        summary: 'List connectors',
        description: 'The stored SMTP connector, if any. Without one, Sesame sends through SMTP_* variables (or the dev mailbox).',
        response: { 200: z.array(connectorSchema), ...errorResponses() },
      },
    },
    async () => {
      const stored = await showEmailConnector(db);
      return stored ? [toConnector(stored)] : [];
    },
  );

  api.post(
    '/connectors',
    {
      schema: {
        tags: [TAG],
        operationId: 'CreateConnector',
        summary: 'Store the SMTP connector',
        description: `connectorId must be ${FACTORY_ID}. 422 when one is stored already (change it with PATCH /api/connectors/${CONNECTOR_ID}). Applies to the next email, no restart.`,
        body: z.strictObject({
          connectorId: z.literal(FACTORY_ID, { error: `connectorId must be ${FACTORY_ID}: Sesame's one connector is SMTP email` }),
          config: configSchema,
          id: z.literal(CONNECTOR_ID, { error: `id, when given, must be ${CONNECTOR_ID}` }).optional(),
        }),
        response: { 200: connectorSchema, ...errorResponses(400, 422) },
      },
    },
    async (request) => {
      if (await showEmailConnector(db)) throw new ConflictError(`an SMTP connector is stored already; change it with PATCH /api/connectors/${CONNECTOR_ID}`);
      await saveEmailConnector(db, request.body.config, actorOf(request), deps.now());
      return toConnector(await current(CONNECTOR_ID));
    },
  );

  api.get(
    '/connectors/:id',
    { schema: { tags: [TAG], operationId: 'GetConnector', summary: 'Get the SMTP connector', params: idParams, response: { 200: connectorSchema, ...errorResponses(404) } } },
    async (request) => toConnector(await current(request.params.id)),
  );

  api.patch(
    '/connectors/:id',
    {
      schema: {
        tags: [TAG],
        operationId: 'UpdateConnector',
        summary: 'Replace the SMTP connector config',
        description: 'auth.pass given as ******** keeps the stored password.',
        params: idParams,
        body: z.strictObject({ config: configSchema }),
        response: { 200: connectorSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      await current(request.params.id);
      await saveEmailConnector(db, request.body.config, actorOf(request), deps.now());
      return toConnector(await current(request.params.id));
    },
  );

  api.delete(
    '/connectors/:id',
    {
      schema: {
        tags: [TAG],
        operationId: 'DeleteConnector',
        summary: 'Forget the SMTP connector',
        description: 'SMTP_* variables (or the dev mailbox) apply again.',
        params: idParams,
        response: { 204: z.null(), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      if (request.params.id !== CONNECTOR_ID || !(await removeEmailConnector(db, actorOf(request), deps.now()))) throw noConnector(request.params.id);
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/connectors/:factoryId/test',
    {
      schema: {
        tags: [TAG],
        operationId: 'CreateConnectorTest',
        summary: 'Send a test email',
        description: `factoryId must be ${FACTORY_ID}. With config, sends through it (nothing is saved); without, through the mail settings in use. 502 with the SMTP error when sending fails. Sesame: with the request header \`Prefer: return=representation\`, a success answers 200 with the SMTP server's reply to the message (\`{ "response": "250 ..." }\`) instead of 204.`,
        params: z.object({ factoryId: z.literal(FACTORY_ID, { error: `factoryId must be ${FACTORY_ID}` }) }),
        body: z.strictObject({ email: z.string({ error: 'email is required' }), config: configSchema.optional() }),
        response: {
          200: z.object({ response: z.string().meta({ description: "The SMTP server's reply to the message, e.g. 250 OK: queued as 1234" }) }).meta({ id: 'ConnectorTestResult' }),
          204: z.null(),
          ...errorResponses(400),
        },
      },
    },
    async (request, reply) => {
      const to = normalizeEmail(request.body.email);
      if (!to.ok) throw new InvalidInputError(`email: ${english(to.error)}`);
      let response: string;
      try {
        response = await sendTestEmail({ to: to.email, config: request.body.config, mailer: deps.mailer(), templatesDir: deps.config.paths.email });
      } catch (error) {
        if (error instanceof MailDeliveryError || error instanceof InvalidMailError) throw new ApiError(502, 'connector.send_failed', `sending failed: ${error.message}`);
        throw error;
      }
      // RFC 7240: the caller asks for the result (the admin console shows the server's answer).
      if (/\breturn=representation\b/i.test(String(request.headers.prefer ?? ''))) return reply.code(200).send({ response });
      return reply.code(204).send(null);
    },
  );
}
