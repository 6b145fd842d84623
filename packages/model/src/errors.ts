/**
 * Errors raised by the model package. Shaped like the project's OpenLedgerError (a `code`, an HTTP
 * `status` and a message naming the field and the limit) so callers can map them to 4xx answers.
 */
export class ModelError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status = 400) {
    super(message);
    this.name = 'ModelError';
    this.code = code;
    this.status = status;
  }
}

/** A model, adapter or tokenizer file that cannot be read: truncated, corrupt or unsupported. */
export class ModelFormatError extends ModelError {
  constructor(message: string) {
    super('MODEL_FORMAT', message, 422);
    this.name = 'ModelFormatError';
  }
}

export function invalid(field: string, message: string): ModelError {
  return new ModelError('INVALID_ARGUMENT', `${field}: ${message}`, 400);
}
