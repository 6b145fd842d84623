/** A serving error with an HTTP status and the request field it concerns (OpenAI-style `param`). */
export class ServeError extends Error {
  readonly code: string;
  readonly status: number;
  readonly field?: string;

  constructor(code: string, message: string, options: { status?: number; field?: string } = {}) {
    super(message);
    this.name = 'ServeError';
    this.code = code;
    this.status = options.status ?? 400;
    this.field = options.field;
  }
}
