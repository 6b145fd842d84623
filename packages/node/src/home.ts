import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

/** The data directory: `$OPENLEDGER_HOME`, or `./.openledger` under the working directory. */
export function resolveHome(explicit?: string): string {
  const home = resolve(explicit ?? process.env.OPENLEDGER_HOME ?? '.openledger');
  mkdirSync(home, { recursive: true });
  return home;
}

export const DEFAULT_PORT = 7410;

/** The port the node listens on: `$PORT`, or 7410. */
export function resolvePort(explicit?: string | number): number {
  const raw = explicit ?? process.env.PORT ?? DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw Object.assign(new Error(`PORT must be an integer from 0 to 65535, got "${raw}"`), {
      code: 'invalid_port',
      status: 400,
      field: 'PORT',
    });
  }
  return port;
}
