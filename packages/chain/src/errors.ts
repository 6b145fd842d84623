/**
 * One error type for everything the chain package reports to a user: a stable `code`, an HTTP-ish
 * `status` and a one-line message that never contains a private key.
 */
export type ChainErrorCode =
  | 'COMPILE_FAILED'
  | 'ARTIFACT_MISSING'
  | 'ANVIL_NOT_FOUND'
  | 'ANVIL_FAILED'
  | 'PORT_IN_USE'
  | 'RPC_UNREACHABLE'
  | 'WRONG_CHAIN'
  | 'MISSING_KEY'
  | 'INVALID_KEY'
  | 'KEYSTORE_FAILED'
  | 'TX_TIMEOUT'
  | 'TX_REVERTED'
  | 'DEPLOYMENT_INVALID'
  | 'NOT_DEPLOYED';

const statusByCode: Record<ChainErrorCode, number> = {
  COMPILE_FAILED: 500,
  ARTIFACT_MISSING: 500,
  ANVIL_NOT_FOUND: 500,
  ANVIL_FAILED: 500,
  PORT_IN_USE: 409,
  RPC_UNREACHABLE: 502,
  WRONG_CHAIN: 400,
  MISSING_KEY: 400,
  INVALID_KEY: 400,
  KEYSTORE_FAILED: 400,
  TX_TIMEOUT: 504,
  TX_REVERTED: 500,
  DEPLOYMENT_INVALID: 500,
  NOT_DEPLOYED: 404,
};

export class ChainError extends Error {
  override readonly name = 'ChainError';
  readonly code: ChainErrorCode;
  readonly status: number;

  constructor(code: ChainErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = statusByCode[code];
  }
}

export function isChainError(error: unknown, code?: ChainErrorCode): error is ChainError {
  return error instanceof ChainError && (code === undefined || error.code === code);
}
