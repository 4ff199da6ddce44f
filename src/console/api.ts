import type { FastifyInstance, FastifyRequest } from 'fastify';

/** What /api answered: status, parsed JSON body, Total-Number for lists. */
export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
  total?: number;
}

/** The API's error body: `{ code, message, data?: { field } }`. */
export interface ApiProblem {
  code: string;
  message: string;
  data?: { field?: string };
}

/** /api refused the console's token (401/403): the administrator's access is gone. */
export class ApiAccessLost extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** An answer the page did not expect (a 4xx other than validation, or a 5xx). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly problem: ApiProblem,
  ) {
    super(problem.message);
  }
}

/**
 * The console's only way to read or change anything: the management API itself, with the signed-in
 * administrator's token, through fastify's inject() (in-process; nothing leaves the machine). So
 * anything the console can do, a script can do too. The administrator's address and browser are
 * passed on, so the audit log and the per-IP limits see the person, not the server.
 */
export function apiClient(app: FastifyInstance, request: FastifyRequest, accessToken: string) {
  const agent = request.headers['user-agent'];
  async function call<T>(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown, extra: Record<string, string> = {}): Promise<ApiAnswer<T>> {
    const response = await app.inject({
      method,
      url: `/api${path}`,
      remoteAddress: request.ip,
      headers: {
        authorization: `Bearer ${accessToken}`,
        ...(typeof agent === 'string' && { 'user-agent': agent }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...extra,
      },
      ...(body !== undefined && { payload: JSON.stringify(body) }),
    });
    const parsed = response.body ? (JSON.parse(response.body) as T) : (null as T);
    if (response.statusCode === 401 || response.statusCode === 403) {
      throw new ApiAccessLost(response.statusCode, (parsed as ApiProblem | null)?.message ?? 'access refused');
    }
    const total = response.headers['total-number'];
    return { status: response.statusCode, body: parsed, ...(total !== undefined && { total: Number(total) }) };
  }

  return {
    call,
    /** A call that must succeed (2xx); anything else becomes an ApiFailure for the error page. */
    async ok<T>(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<ApiAnswer<T>> {
      const answer = await call<T>(method, path, body);
      if (answer.status >= 300) throw new ApiFailure(answer.status, answer.body as unknown as ApiProblem);
      return answer;
    },
  };
}

export type ApiClient = ReturnType<typeof apiClient>;
