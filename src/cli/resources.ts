import { parse, quote, UsageError, type Handler } from './command.ts';
import { createResource, deleteResource, DEFAULT_ACCESS_TOKEN_TTL, MAX_ACCESS_TOKEN_TTL, MIN_ACCESS_TOKEN_TTL } from '../management/resources.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../management/errors.ts';
import { CLI } from '../management/audit.ts';
import { replaceUserCustomData } from '../management/users.ts';
import { listResources, type ApiResource } from '../db/resources.ts';
import { findUserByIdOrEmail } from '../sign-in/accounts.ts';
import { validateCustomData } from '../management/custom-data.ts';
import { got, integerIn, parseOr } from '../lib/validation.ts';

export const RESOURCE_HELP = `API resources (access tokens for your APIs: a JWT whose aud is the indicator)
  resource create --indicator URI --name NAME [--scope SCOPE ...] [--access-token-ttl SECONDS] [--json]
  resource list [--json]
  resource delete INDICATOR

User custom data (the custom_data claim, served by userinfo with the custom_data scope)
  user set-custom-data ID_OR_EMAIL --json '{"plan":"pro"}'`;

function describe(resource: ApiResource) {
  return {
    id: resource.id,
    indicator: resource.indicator,
    name: resource.name,
    scopes: resource.scopes,
    accessTokenTtl: resource.accessTokenTtl,
    createdAt: new Date(resource.createdAt).toISOString(),
  };
}

const accessTokenTtlFlag = integerIn(
  MIN_ACCESS_TOKEN_TTL,
  MAX_ACCESS_TOKEN_TTL,
  (input) => `--access-token-ttl must be a whole number of seconds, at least ${MIN_ACCESS_TOKEN_TTL} and at most ${MAX_ACCESS_TOKEN_TTL} (one day), ${got(input)}`,
  'text',
).default(DEFAULT_ACCESS_TOKEN_TTL);

function parseCustomData(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--json is not valid JSON: ${(error as Error).message}`);
  }
  try {
    return validateCustomData(value);
  } catch (error) {
    if (error instanceof InvalidInputError) throw new UsageError(`--json: ${error.message}`);
    throw error;
  }
}

export const resourceCommands: Record<string, Handler> = {
  async 'resource create'(args, { config, db, io }) {
    const { values } = parse(args, {
      indicator: { type: 'string' },
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      'access-token-ttl': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.indicator === undefined) throw new UsageError('--indicator is required (an absolute URI such as https://api.example.com)');
    if (values.name === undefined) throw new UsageError('--name is required');
    const accessTokenTtl = parseOr(accessTokenTtlFlag, values['access-token-ttl'], (message) => new UsageError(message));
    try {
      const resource = await createResource(await db(), {
        indicator: values.indicator,
        name: values.name,
        scopes: values.scope ?? [],
        accessTokenTtl,
      }, { endpoint: config.endpoint, who: CLI });
      if (values.json) io.out(JSON.stringify(describe(resource)));
      else {
        io.out(`Created API resource "${resource.name}"`);
        io.out(`Indicator:        ${resource.indicator}`);
        io.out(`Scopes:           ${resource.scopes.join(' ') || '(none)'}`);
        io.out(`Access token TTL: ${resource.accessTokenTtl} s`);
      }
      return 0;
    } catch (error) {
      if (error instanceof InvalidInputError || error instanceof ConflictError) throw new UsageError(error.message);
      throw error;
    }
  },

  async 'resource list'(args, { db, io }) {
    const { values } = parse(args, { json: { type: 'boolean' } });
    const resources = await listResources(await db());
    if (values.json) io.out(JSON.stringify(resources.map(describe)));
    else if (resources.length === 0) io.out('No API resources yet. Create one with `sesame resource create`.');
    else {
      for (const resource of resources) {
        io.out(`${resource.indicator}  ${resource.name}  ttl ${resource.accessTokenTtl}s  scopes: ${resource.scopes.join(' ') || '(none)'}`);
      }
    }
    return 0;
  },

  async 'resource delete'(args, { db, io }) {
    const { positionals } = parse(args, {}, true);
    const [indicator] = positionals;
    if (!indicator || positionals.length !== 1) throw new UsageError('usage: sesame resource delete INDICATOR');
    try {
      await deleteResource(await db(), { indicator }, CLI);
    } catch (error) {
      if (error instanceof NotFoundError) throw new UsageError(`no API resource with indicator ${quote(indicator)}`);
      throw error;
    }
    io.out(`Deleted API resource ${indicator}. Tokens already issued for it stay valid until they expire.`);
    return 0;
  },

  async 'user set-custom-data'(args, { db, io }) {
    const { values, positionals } = parse(args, { json: { type: 'string' } }, true);
    const [who] = positionals;
    if (!who || positionals.length !== 1) throw new UsageError(`usage: sesame user set-custom-data ID_OR_EMAIL --json '{...}'`);
    if (values.json === undefined) throw new UsageError(`--json is required, such as --json '{"plan":"pro"}'`);
    const customData = parseCustomData(values.json);
    const database = await db();
    const user = await findUserByIdOrEmail(database, who);
    if (!user) throw new UsageError(`no user with ID or email ${quote(who)}`);
    try {
      await replaceUserCustomData(database, user.id, customData, CLI);
    } catch (error) {
      // Deleted in between counts as unknown too.
      if (error instanceof NotFoundError) throw new UsageError(`no user with ID or email ${quote(who)}`);
      throw error;
    }
    io.out(`Saved custom data for ${user.email} (${user.id}).`);
    return 0;
  },
};
