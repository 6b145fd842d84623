/**
 * An error a user can act on: a stable `code`, the HTTP `status` it maps to, and the input `field`
 * it concerns. Other packages throw their own errors with the same three properties; the HTTP layer
 * and the CLI read them by shape, so no package needs to import this one.
 */
export class OpenLedgerError extends Error {
  readonly code: string;
  readonly status: number;
  readonly field?: string;

  constructor(
    code: string,
    message: string,
    options: { status?: number; field?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'OpenLedgerError';
    this.code = code;
    this.status = options.status ?? 400;
    this.field = options.field;
  }
}

export interface UserFacingError {
  code: string;
  status: number;
  message: string;
  field?: string;
  /** The error chose its status (our typed errors do); an unexpected one defaults to 500. */
  declared: boolean;
}

/** Reads any thrown value as a user-facing error; unknown errors become a 500 with a generic code. */
export function toUserFacingError(error: unknown): UserFacingError {
  if (error && typeof error === 'object') {
    const e = error as {
      code?: unknown;
      status?: unknown;
      statusCode?: unknown;
      message?: unknown;
      field?: unknown;
    };
    const status =
      typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
    const code = typeof e.code === 'string' ? e.code : status >= 500 ? 'internal_error' : 'bad_request';
    const message = typeof e.message === 'string' && e.message ? e.message : 'unexpected error';
    const field = typeof e.field === 'string' ? e.field : undefined;
    return { code, status, message, field, declared: typeof e.status === 'number' };
  }
  return { code: 'internal_error', status: 500, message: String(error), declared: false };
}
