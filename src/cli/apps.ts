import { parse, quote, UsageError, type Handler } from './command.ts';
import { createApplication, deleteApplication, rotateApplicationSecret, setManagementAccess } from '../management/applications.ts';
import { CLI } from '../management/audit.ts';
import { InvalidInputError, NotFoundError } from '../management/errors.ts';
import { managementIndicator } from '../management/management-resource.ts';
import { listApplications, TOKEN_ENDPOINT_AUTH_METHODS, type Application, type ApplicationType, type TokenEndpointAuthMethod } from '../db/applications.ts';

export const APP_HELP = `Applications
  app create --name NAME --type traditional --redirect-uri URI [--redirect-uri URI ...]
             [--post-logout-redirect-uri URI ...] [--third-party]
             [--token-endpoint-auth-method client_secret_basic|client_secret_post] [--json]
  app create --name NAME --type m2m [--token-endpoint-auth-method ...] [--json]
                                        a machine-to-machine app (client_credentials); its
                                        method defaults to client_secret_post, what @logto/api sends
  app list [--json]
  app delete ID
  app grant-management ID               let an m2m app get tokens for the management API (/api)
  app revoke-management ID              take that back (its tokens stop working at once)
  app rotate-secret ID                  give an app a new App Secret (printed once)`;

/** `--type`: Sesame's stored names, plus the short `m2m` and Logto's `MachineToMachine`/`Traditional`. */
const TYPE_WORDS: Record<string, ApplicationType> = {
  traditional: 'traditional',
  Traditional: 'traditional',
  m2m: 'machine_to_machine',
  machine_to_machine: 'machine_to_machine',
  MachineToMachine: 'machine_to_machine',
};

/** Domain refusals in the CLI's terms: one line, exit code 2. */
async function asUsage<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof InvalidInputError || error instanceof NotFoundError) throw new UsageError(error.message);
    throw error;
  }
}

function oneId(args: string[], usage: string): string {
  const { positionals } = parse(args, {}, true);
  const [id] = positionals;
  if (!id || positionals.length !== 1) throw new UsageError(`usage: ${usage}`);
  return id;
}

function printApp(io: { out: (line: string) => void }, app: Application, json: boolean | undefined, heading: string): void {
  if (json) {
    io.out(JSON.stringify({
      id: app.id,
      secret: app.secret,
      name: app.name,
      type: app.type,
      redirectUris: app.redirectUris,
      postLogoutRedirectUris: app.postLogoutRedirectUris,
      tokenEndpointAuthMethod: app.tokenEndpointAuthMethod,
    }));
    return;
  }
  io.out(heading);
  io.out(`App ID:     ${app.id}`);
  io.out(`App Secret: ${app.secret}`);
  io.out(`Client authentication: ${app.tokenEndpointAuthMethod}`);
}

export const appCommands: Record<string, Handler> = {
  async 'app create'(args, { db, io }) {
    const { values } = parse(args, {
      name: { type: 'string' },
      type: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      'third-party': { type: 'boolean' },
      'token-endpoint-auth-method': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.name === undefined) throw new UsageError('--name is required');
    if (values.type === undefined) throw new UsageError('--type is required (traditional or m2m)');
    const type = Object.hasOwn(TYPE_WORDS, values.type) ? TYPE_WORDS[values.type] : undefined;
    if (!type) throw new UsageError(`type must be one of: traditional, m2m, got ${quote(values.type)}`);
    const method = values['token-endpoint-auth-method'];
    if (method !== undefined && !(TOKEN_ENDPOINT_AUTH_METHODS as readonly string[]).includes(method)) {
      throw new UsageError(`--token-endpoint-auth-method must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}, got ${quote(method)}`);
    }
    const app = await asUsage(async () =>
      createApplication(
        await db(),
        {
          name: values.name!,
          type,
          redirectUris: values['redirect-uri'] ?? [],
          postLogoutRedirectUris: values['post-logout-redirect-uri'] ?? [],
          isThirdParty: values['third-party'] ?? false,
          tokenEndpointAuthMethod: method as TokenEndpointAuthMethod | undefined,
        },
        CLI,
      ),
    );
    printApp(io, app, values.json, `Created application "${app.name}"`);
    if (!values.json && type === 'machine_to_machine') {
      io.out(`Tokens: POST /oidc/token with grant_type=client_credentials and resource=<API indicator>; for the management API run \`sesame app grant-management ${app.id}\` first.`);
    }
    return 0;
  },

  async 'app list'(args, { db, io }) {
    const { values } = parse(args, { json: { type: 'boolean' } });
    const apps = await listApplications(await db());
    if (values.json) io.out(JSON.stringify(apps.map(({ secret: _secret, ...app }) => app)));
    else if (apps.length === 0) io.out('No applications yet. Create one with `sesame app create`.');
    else {
      for (const app of apps) {
        const detail = app.type === 'machine_to_machine' ? (app.managementAccess ? 'management API granted' : '') : app.redirectUris.join(' ');
        io.out(`${app.id}  ${app.name}  (${app.type})  ${detail}`.trimEnd());
      }
    }
    return 0;
  },

  async 'app delete'(args, { db, io }) {
    const id = oneId(args, 'sesame app delete ID');
    await asUsage(async () => deleteApplication(await db(), id, CLI));
    io.out(`Deleted application ${id}`);
    return 0;
  },

  async 'app grant-management'(args, { config, db, io }) {
    const id = oneId(args, 'sesame app grant-management ID');
    const app = await asUsage(async () => setManagementAccess(await db(), id, true, CLI));
    io.out(`"${app.name}" may now get tokens for the management API: POST /oidc/token with grant_type=client_credentials, resource=${managementIndicator(config.endpoint)} (or https://default.logto.app/api) and scope=all.`);
    return 0;
  },

  async 'app revoke-management'(args, { db, io }) {
    const id = oneId(args, 'sesame app revoke-management ID');
    const app = await asUsage(async () => setManagementAccess(await db(), id, false, CLI));
    io.out(`"${app.name}" may no longer use the management API; the tokens it holds are refused from now on.`);
    return 0;
  },

  async 'app rotate-secret'(args, { db, io }) {
    const { values, positionals } = parse(args, { json: { type: 'boolean' } }, true);
    const [id] = positionals;
    if (!id || positionals.length !== 1) throw new UsageError('usage: sesame app rotate-secret ID [--json]');
    const app = await asUsage(async () => rotateApplicationSecret(await db(), id, CLI));
    printApp(io, app, values.json, `New App Secret for "${app.name}" (the old one stops working within 2 s)`);
    return 0;
  },
};
