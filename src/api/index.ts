import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { addSecurityHeaders } from '../http/security-headers.ts';
import { managementIndicator, MANAGEMENT_SCOPE } from '../management/management-resource.ts';
import { bearerAuth } from './bearer-auth.ts';
import type { ApiDeps } from './deps.ts';
import { answerApiErrors } from './errors.ts';
import { applicationRoutes } from './routes/applications.ts';
import { connectorRoutes } from './routes/connectors.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { keyRoutes } from './routes/keys.ts';
import { logRoutes } from './routes/logs.ts';
import { resourceRoutes } from './routes/resources.ts';
import { signInExperienceRoutes } from './routes/sign-in-exp.ts';
import { userRoutes } from './routes/users.ts';
import { mfaVerificationRoutes } from './routes/mfa-verifications.ts';
import { passkeyRoutes } from './routes/passkeys.ts';

export type { ApiDeps } from './deps.ts';

/**
 * The management API under /api, in a scope of its own: JSON errors (src/api/errors.ts), zod
 * schemas that validate every request and describe every response, the OpenAPI document generated
 * from them at /api/openapi.json and a reference page at /api/reference (assets served from the
 * package, nothing from the internet). Every other /api route needs a management API token.
 */
export async function managementApi(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { config } = deps;
  await app.register(
    async (api) => {
      api.setValidatorCompiler(validatorCompiler);
      api.setSerializerCompiler(serializerCompiler);
      answerApiErrors(api);
      // The reference page is HTML: it gets the same headers (CSP: scripts and styles from here only) as every page.
      addSecurityHeaders(api, config);

      await api.register(swagger, {
        openapi: {
          openapi: '3.0.3',
          info: {
            title: 'Sesame management API',
            version: '1',
            description: `The parts of Logto's Management API that Sesame has. Every route needs an access token for the resource ${managementIndicator(config.endpoint)} (also named https://default.logto.app/api) with the scope "${MANAGEMENT_SCOPE}", from POST ${config.issuer}/token with grant_type=client_credentials by a machine-to-machine app that was granted the management API.`,
          },
          servers: [{ url: config.endpoint }],
          components: {
            securitySchemes: {
              managementApi: {
                type: 'oauth2',
                flows: { clientCredentials: { tokenUrl: `${config.issuer}/token`, scopes: { [MANAGEMENT_SCOPE]: 'Every management API route' } } },
              },
            },
          },
          security: [{ managementApi: [MANAGEMENT_SCOPE] }],
        },
        transform: jsonSchemaTransform,
        transformObject: jsonSchemaTransformObject,
      });
      await api.register(swaggerUi, {
        routePrefix: '/reference',
        // No call to swagger.io's online validator: the page loads nothing from the internet.
        uiConfig: { validatorUrl: null },
        staticCSP: false,
      });
      api.get('/openapi.json', { schema: { hide: true } }, async (_request, reply) => reply.header('cache-control', 'no-cache').send(api.swagger()));

      await api.register(async (secured) => {
        const authenticate = bearerAuth({ db: deps.db, issuer: config.issuer, audience: managementIndicator(config.endpoint), jwks: deps.jwks });
        secured.addHook('onRequest', async (request) => {
          request.managementCaller = await authenticate(request);
        });
        applicationRoutes(secured, deps);
        userRoutes(secured, deps);
        mfaVerificationRoutes(secured, deps);
        passkeyRoutes(secured, deps);
        resourceRoutes(secured, deps);
        signInExperienceRoutes(secured, deps);
        connectorRoutes(secured, deps);
        keyRoutes(secured, deps);
        logRoutes(secured, deps);
        dashboardRoutes(secured, deps);
      });
    },
    { prefix: '/api' },
  );
}
