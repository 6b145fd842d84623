/** A ModelFactory error a user can act on: names the field and the limit; maps to an HTTP status. */
export class FactoryError extends Error {
  readonly code: string;
  readonly status: number;
  readonly field?: string;

  constructor(code: string, message: string, options: { status?: number; field?: string } = {}) {
    super(message);
    this.name = 'FactoryError';
    this.code = code;
    this.status = options.status ?? 400;
    this.field = options.field;
  }
}

export function invalidField(field: string, message: string): FactoryError {
  return new FactoryError('invalid_config', `${field} ${message}`, { field });
}
