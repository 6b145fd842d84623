import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devAccounts, findFreePort } from '@openledger/chain';
import type { LocalAccount } from 'viem';
import { createSiweMessage } from 'viem/siwe';
import { type RunningNode, startNode } from '../src/start.ts';

export async function startTestNode(): Promise<RunningNode & { home: string }> {
  const home = mkdtempSync(join(tmpdir(), 'node-'));
  const node = await startNode({
    home,
    port: 0,
    chainPort: await findFreePort(),
    demo: false,
    studio: false,
  });
  return { ...node, home };
}

/** Signs in with Ethereum as a local test account; returns the bearer token. */
export async function signIn(url: string, account: LocalAccount): Promise<string> {
  const { nonce } = (await (await fetch(`${url}/api/auth/nonce`, { method: 'POST' })).json()) as {
    nonce: string;
  };
  const host = new URL(url).host;
  const message = createSiweMessage({
    address: account.address,
    chainId: 31337,
    domain: host,
    nonce,
    uri: url,
    version: '1',
  });
  const signature = await account.signMessage({ message });
  const res = await fetch(`${url}/api/auth/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message, signature }),
  });
  if (!res.ok) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

export const accounts = devAccounts(6);

export async function api<T = unknown>(
  url: string,
  path: string,
  opts: { method?: string; token?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}${path}`, {
    method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
    headers: {
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body: body as T };
}
