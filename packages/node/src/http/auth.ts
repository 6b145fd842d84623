import { createHash, randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { FastifyRequest } from 'fastify';
import { type Address, getAddress, verifyMessage } from 'viem';
import { parseSiweMessage, validateSiweMessage } from 'viem/siwe';
import { OpenLedgerError } from '../errors.ts';

const NONCE_TTL_MS = 10 * 60_000;
const SESSION_TTL_MS = 24 * 60 * 60_000;

/**
 * Sign-In with Ethereum (EIP-4361) sessions. A nonce is issued, the wallet signs a SIWE message
 * carrying it, and a bearer token is handed out. Tokens are stored hashed, so a copy of the
 * database does not let anyone act as a user.
 */
export class Auth {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
    db.exec(`
      CREATE TABLE IF NOT EXISTS auth_nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS auth_sessions (
        token_hash TEXT PRIMARY KEY, address TEXT NOT NULL, expires_at INTEGER NOT NULL);
    `);
  }

  issueNonce(now = Date.now()): string {
    const nonce = randomBytes(12).toString('hex');
    this.#db.prepare('DELETE FROM auth_nonces WHERE expires_at < ?').run(now);
    this.#db
      .prepare('INSERT INTO auth_nonces (nonce, expires_at) VALUES (?, ?)')
      .run(nonce, now + NONCE_TTL_MS);
    return nonce;
  }

  /**
   * Checks a signed SIWE message and returns a session token for its address. `domain` is the
   * host the request reached (its Host header), so a message signed for another site is refused.
   */
  async signIn(
    message: string,
    signature: `0x${string}`,
    domain: string,
    now = Date.now(),
  ): Promise<{ token: string; address: Address; expiresAt: string }> {
    let fields: ReturnType<typeof parseSiweMessage>;
    try {
      fields = parseSiweMessage(message);
    } catch {
      throw new OpenLedgerError('invalid_siwe_message', 'message is not a Sign-In with Ethereum message', {
        status: 400,
        field: 'message',
      });
    }
    if (!fields.address || !fields.nonce) {
      throw new OpenLedgerError('invalid_siwe_message', 'message lacks an address or a nonce', {
        status: 400,
        field: 'message',
      });
    }
    const row = this.#db.prepare('SELECT expires_at FROM auth_nonces WHERE nonce = ?').get(fields.nonce) as
      | { expires_at: number }
      | undefined;
    if (!row || row.expires_at < now) {
      throw new OpenLedgerError('invalid_nonce', 'nonce is unknown, used or expired; ask for a new one', {
        status: 401,
        field: 'message',
      });
    }
    const domainOk = validateSiweMessage({ message: fields, domain, time: new Date(now) });
    if (!domainOk) {
      throw new OpenLedgerError(
        'invalid_siwe_message',
        `message must be for domain ${domain} and unexpired`,
        {
          status: 401,
          field: 'message',
        },
      );
    }
    let valid = false;
    try {
      valid = await verifyMessage({ address: fields.address, message, signature });
    } catch {
      valid = false;
    }
    if (!valid) {
      throw new OpenLedgerError('invalid_signature', 'signature does not match the message address', {
        status: 401,
        field: 'signature',
      });
    }
    // the nonce is single-use: a replayed message fails above
    this.#db.prepare('DELETE FROM auth_nonces WHERE nonce = ?').run(fields.nonce);
    const token = randomBytes(24).toString('base64url');
    const expiresAt = now + SESSION_TTL_MS;
    const address = getAddress(fields.address);
    this.#db
      .prepare('INSERT INTO auth_sessions (token_hash, address, expires_at) VALUES (?, ?, ?)')
      .run(hashToken(token), address, expiresAt);
    return { token, address, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** The address behind a bearer token, or undefined. */
  addressOf(token: string, now = Date.now()): Address | undefined {
    const row = this.#db
      .prepare('SELECT address, expires_at FROM auth_sessions WHERE token_hash = ?')
      .get(hashToken(token)) as { address: Address; expires_at: number } | undefined;
    if (!row || row.expires_at < now) return undefined;
    return row.address;
  }

  /** The signed-in address of a request; throws 401 when there is none. */
  require(request: FastifyRequest): Address {
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    const address = token ? this.addressOf(token) : undefined;
    if (!address) {
      throw new OpenLedgerError('unauthenticated', 'sign in first: send Authorization: Bearer <token>', {
        status: 401,
        field: 'authorization',
      });
    }
    return address;
  }

  /** The signed-in address if any (reads are open, but some depend on who asks). */
  optional(request: FastifyRequest): Address | undefined {
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    return token ? this.addressOf(token) : undefined;
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
