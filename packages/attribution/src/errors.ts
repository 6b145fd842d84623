/** Errors raised by the attribution package: a stable `code`, an HTTP `status`, a message naming the field. */
export class AttributionError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status = 400) {
    super(message);
    this.name = 'AttributionError';
    this.code = code;
    this.status = status;
  }
}
