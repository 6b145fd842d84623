// A small client for the node's HTTP API (docs/api.md). Every failure becomes an ApiError with a
// message a person can act on: a missing route, an unreachable node, or the server's own error.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  readonly path: string;
  constructor(message: string, opts: { status: number; code: string; field?: string; path: string }) {
    super(message);
    this.name = 'ApiError';
    this.status = opts.status;
    this.code = opts.code;
    this.field = opts.field;
    this.path = opts.path;
  }
  /** The route is not on this node (yet): a 404 that is not about a missing record. */
  get missingRoute(): boolean {
    return this.code === 'route_not_found';
  }
}

type Json = Record<string, unknown>;

let tokenProvider: () => string | undefined = () => undefined;
let onUnauthenticated: () => void = () => {};
/** Called when the node refuses the bearer token (expired or unknown), so the UI can sign out. */
export function setUnauthenticatedHandler(fn: () => void): void {
  onUnauthenticated = fn;
}
/** The wallet layer tells the client where to find the signed-in account's bearer token. */
export function setTokenProvider(fn: () => string | undefined): void {
  tokenProvider = fn;
}

function describe(method: string, path: string): string {
  return `${method} ${path.split('?')[0]}`;
}

export async function toApiError(res: Response, method: string, path: string): Promise<ApiError> {
  let body: unknown;
  const text = await res.text().catch(() => '');
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const err = (body as { error?: unknown } | undefined)?.error;
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown; field?: unknown; param?: unknown; type?: unknown };
    const code = String(e.code ?? e.type ?? `http_${res.status}`);
    const field = (e.field ?? e.param ?? undefined) as string | undefined;
    // The node's not-found handler: "no route GET /api/x" means the endpoint does not exist (yet).
    if (res.status === 404 && /^no route /i.test(String(e.message ?? '')))
      return new ApiError(
        `This node does not offer ${describe(method, path)} yet (404). The feature needs that API endpoint.`,
        { status: 404, code: 'route_not_found', path },
      );
    return new ApiError(String(e.message ?? res.statusText), { status: res.status, code, field, path });
  }
  // Fastify's default 404 ("Route GET:/api/x not found") and anything non-JSON land here.
  const fastifyMessage = (body as { message?: unknown } | undefined)?.message;
  if (res.status === 404 && (!body || /route .* not found/i.test(String(fastifyMessage ?? '')))) {
    return new ApiError(
      `This node does not offer ${describe(method, path)} yet (404). The feature needs that API endpoint.`,
      { status: 404, code: 'route_not_found', path },
    );
  }
  const msg = typeof fastifyMessage === 'string' && fastifyMessage ? fastifyMessage : res.statusText;
  return new ApiError(`${describe(method, path)} failed: ${res.status} ${msg || ''}`.trim(), {
    status: res.status,
    code: `http_${res.status}`,
    path,
  });
}

export function networkError(method: string, path: string, cause: unknown): ApiError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new ApiError(
    `Cannot reach the OpenLedger node for ${describe(method, path)} (${why}). Is \`npm start\` running?`,
    { status: 0, code: 'network', path },
  );
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export function authHeaders(token?: string): Record<string, string> {
  const t = token ?? tokenProvider();
  return t ? { authorization: `Bearer ${t}` } : {};
}

export async function request<T = Json>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? (opts.body === undefined ? 'GET' : 'POST');
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders(opts.token) };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  Object.assign(headers, opts.headers);
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw networkError(method, path, e);
  }
  if (!res.ok) {
    const err = await toApiError(res, method, path);
    if (res.status === 401 && err.code === 'unauthenticated' && (opts.token ?? tokenProvider()))
      onUnauthenticated();
    throw err;
  }
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('application/json')) return (await res.json()) as T;
  return (await res.text()) as T;
}

export const api = {
  get: <T = Json>(path: string, signal?: AbortSignal) => request<T>(path, { signal }),
  post: <T = Json>(path: string, body: unknown = {}) => request<T>(path, { method: 'POST', body }),
  patch: <T = Json>(path: string, body: unknown) => request<T>(path, { method: 'PATCH', body }),
  del: <T = Json>(path: string) => request<T>(path, { method: 'DELETE' }),
};

/** POST JSON with upload progress (XHR: fetch cannot report upload progress). */
export function postWithProgress<T = Json>(
  path: string,
  body: unknown,
  onProgress: (fraction: number) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('content-type', 'application/json');
    xhr.setRequestHeader('accept', 'application/json');
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onerror = () => reject(networkError('POST', path, new Error('connection failed')));
    xhr.onload = async () => {
      const res = new Response(xhr.responseText || null, {
        status: xhr.status,
        statusText: xhr.statusText,
        headers: { 'content-type': xhr.getResponseHeader('content-type') ?? '' },
      });
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        try {
          resolve((xhr.responseText ? JSON.parse(xhr.responseText) : {}) as T);
        } catch {
          reject(
            new ApiError('The node answered with something that is not JSON.', {
              status: 502,
              code: 'bad_json',
              path,
            }),
          );
        }
      } else reject(await toApiError(res, 'POST', path));
    };
    xhr.send(JSON.stringify(body));
  });
}

/** Encode a string for use in a URL path segment. */
export const seg = (s: string | number) => encodeURIComponent(String(s));

/** Format a wei string (18 decimals) as OPEN with a few decimals. */
export function formatOpen(wei: unknown, digits = 4): string {
  if (wei === undefined || wei === null || wei === '') return '—';
  let v: bigint;
  try {
    v = BigInt(String(wei));
  } catch {
    return String(wei);
  }
  const neg = v < 0n;
  if (neg) v = -v;
  const whole = v / 10n ** 18n;
  const frac = (v % 10n ** 18n).toString().padStart(18, '0').slice(0, digits).replace(/0+$/, '');
  const wholeStr = whole.toLocaleString('en-US');
  return `${neg ? '-' : ''}${wholeStr}${frac ? `.${frac}` : ''} OPEN`;
}

/** Parse "1.5" (OPEN) into a wei string; throws a readable error on bad input. */
export function parseOpen(text: string, field = 'amount'): string {
  const t = text.trim();
  if (!/^\d+(\.\d{1,18})?$/.test(t))
    throw new Error(`${field} must be a positive number of OPEN with at most 18 decimals`);
  const [w, f = ''] = t.split('.');
  return (BigInt(w) * 10n ** 18n + BigInt(f.padEnd(18, '0') || '0')).toString();
}

export function shortHex(h: unknown, n = 6): string {
  const s = String(h ?? '');
  if (s.length <= 2 * n + 2) return s;
  return `${s.slice(0, n + 2)}…${s.slice(-n)}`;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
