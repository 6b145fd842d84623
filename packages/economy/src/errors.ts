import { OpenLedgerError } from '@openledger/store';

/**
 * Errors raised by the economy package: the project's `OpenLedgerError` (a machine `code`, an HTTP
 * `status`, a message naming the field and the limit).
 */
export class EconomyError extends OpenLedgerError {
  constructor(code: string, message: string, status = 400, details?: Record<string, unknown>) {
    super(code, message, status, details);
    this.name = 'EconomyError';
  }
}

export function invalid(field: string, message: string): EconomyError {
  return new EconomyError('INVALID_ARGUMENT', `${field}: ${message}`, 400);
}
