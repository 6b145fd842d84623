/**
 * The project's error type: a stable machine `code`, the HTTP `status` it maps to, and a message
 * that names the field and the limit. Bad input raises one of these before anything is stored.
 */
export class OpenLedgerError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details?: Record<string, unknown>;
  /** The input field the error is about, when there is one (also in `details.field`). */
  readonly field?: string;

  constructor(code: string, message: string, status = 400, details?: Record<string, unknown>) {
    super(message);
    this.name = 'OpenLedgerError';
    this.code = code;
    this.status = status;
    if (details) this.details = details;
    if (typeof details?.field === 'string') this.field = details.field;
  }
}

export function isOpenLedgerError(e: unknown): e is OpenLedgerError {
  return e instanceof OpenLedgerError;
}
