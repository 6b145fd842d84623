import { createHash, randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { FastifyRequest } from 'fastify';
import { type Address, getAddress } from 'viem';
import { OpenLedgerError } from './errors.ts';
import type { Auth } from './http/auth.ts';

/**
 * API keys for the OpenAI-compatible routes, each bound to the wallet that created it while signed
 * in with Ethereum. Only a hash of each key is stored.
 */
export class ApiKeys {
  constructor(private readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS api_keys (
      key_hash TEXT PRIMARY KEY, address TEXT NOT NULL, label TEXT NOT NULL, created_at TEXT NOT NULL)`);
  }

  create(address: Address, label = ''): { key: string; address: Address; label: string } {
    const key = `olk_${randomBytes(24).toString('base64url')}`;
    this.db
      .prepare('INSERT INTO api_keys (key_hash, address, label, created_at) VALUES (?, ?, ?, ?)')
      .run(hash(key), getAddress(address), label, new Date().toISOString());
    return { key, address: getAddress(address), label };
  }

  addressOf(key: string): Address | undefined {
    const row = this.db.prepare('SELECT address FROM api_keys WHERE key_hash = ?').get(hash(key)) as
      | { address: Address }
      | undefined;
    return row?.address;
  }

  /** The paying wallet of a /v1 request: an API key, or a Studio session token. */
  consumerOf(request: FastifyRequest, auth: Auth): Address {
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    const address = token ? (this.addressOf(token) ?? auth.addressOf(token)) : undefined;
    if (!address) {
      throw new OpenLedgerError(
        'invalid_api_key',
        'send Authorization: Bearer <API key> (create one with POST /api/keys)',
        {
          status: 401,
          field: 'authorization',
        },
      );
    }
    return address;
  }
}

function hash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
