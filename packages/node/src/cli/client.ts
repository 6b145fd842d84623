import { accountFromEnv, devAccount } from '@openledger/chain';
import type { Command } from 'commander';
import type { Account } from 'viem';
import { createSiweMessage } from 'viem/siwe';
import { OpenLedgerError } from '../errors.ts';
import { resolveHome } from '../home.ts';
import { readNodeInfo } from '../start.ts';

interface Globals {
  home?: string;
}

export interface ConnOpts {
  url?: string;
  account?: string;
  json?: boolean;
}

/**
 * A small client of the node's datanet API. Writes are signed in with Sign-In with Ethereum using a
 * local key: $OPENLEDGER_PRIVATE_KEY, or `--account <n>` for anvil's well-known TEST accounts on the
 * embedded local chain.
 */
export class NodeClient {
  #token?: string;

  constructor(
    readonly url: string,
    private readonly signer: () => Account & { signMessage: NonNullable<Account['signMessage']> },
    private readonly chainId: () => Promise<number>,
  ) {}

  static from(cmd: Command, opts: ConnOpts): NodeClient {
    const home = resolveHome((cmd.optsWithGlobals() as Globals).home);
    const info = readNodeInfo(home);
    const url = (opts.url ?? process.env.OPENLEDGER_URL ?? info?.url)?.replace(/\/$/, '');
    if (!url) {
      throw new OpenLedgerError(
        'no_node',
        'no running node found: start one with `openledger start` or pass --url',
        {
          field: 'url',
        },
      );
    }
    const signer = () => {
      if (opts.account !== undefined) {
        const n = Number(opts.account);
        if (!Number.isInteger(n) || n < 0 || n > 19) {
          throw new OpenLedgerError('invalid_account', '--account: must be an integer from 0 to 19', {
            field: 'account',
          });
        }
        return devAccount(n) as never;
      }
      return accountFromEnv() as never;
    };
    const chainId = async () =>
      info?.chainId ??
      ((await (await fetch(`${url}/api/chain/status`)).json()) as { chainId: number }).chainId;
    return new NodeClient(url, signer, chainId);
  }

  async signIn(): Promise<string> {
    if (this.#token) return this.#token;
    const account = this.signer();
    const { nonce } = (await this.request('POST', '/api/auth/nonce', undefined, false)) as { nonce: string };
    const u = new URL(this.url);
    const message = createSiweMessage({
      domain: u.host,
      address: account.address,
      uri: this.url,
      version: '1',
      chainId: await this.chainId(),
      nonce,
      statement: 'Sign in to the OpenLedger node (openledger CLI)',
    });
    const signature = await account.signMessage({ message });
    const res = (await this.request('POST', '/api/auth/verify', { message, signature }, false)) as {
      token: string;
    };
    this.#token = res.token;
    return res.token;
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    auth = false,
    raw?: { bytes: Uint8Array },
  ): Promise<unknown> {
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = `Bearer ${await this.signIn()}`;
    let payload: string | Uint8Array | undefined;
    if (raw) {
      headers['content-type'] = 'application/octet-stream';
      payload = raw.bytes;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${this.url}${path}`, { method, headers, body: payload });
    const text = await res.text();
    const data = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const e = (data as { error?: { code?: string; message?: string; field?: string } })?.error;
      throw new OpenLedgerError(
        e?.code ?? 'http_error',
        e?.message ?? `${method} ${path}: HTTP ${res.status}`,
        {
          status: res.status,
          field: e?.field,
        },
      );
    }
    return data;
  }

  /** GET with the caller signed in when a key is available (permissioned datanets need it). */
  async read(path: string, signedIn: boolean): Promise<unknown> {
    return this.request('GET', path, undefined, signedIn);
  }
}

export const withConn = (c: Command) =>
  c
    .option('--url <url>', 'node URL (default: $OPENLEDGER_URL or the running local node)')
    .option(
      '--account <n>',
      "act as anvil's TEST account n (local chain only); default: $OPENLEDGER_PRIVATE_KEY",
    )
    .option('--json', 'print JSON');

/** Reads are anonymous unless a key was given (then the caller is signed in, for permissioned datanets). */
export const wantsSignIn = (opts: ConnOpts) =>
  opts.account !== undefined || Boolean(process.env.OPENLEDGER_PRIVATE_KEY);

export function print(opts: ConnOpts, value: unknown, human: () => void): void {
  if (opts.json) console.log(JSON.stringify(value, null, 2));
  else human();
}
