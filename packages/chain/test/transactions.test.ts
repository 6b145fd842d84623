import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { parseEther } from 'viem';
import {
  type AnvilHandle,
  type ChainError,
  createChainClients,
  devAccount,
  pollTransactionReceipt,
  sendTransactionAndWait,
  startAnvil,
} from '../src/index.ts';

// A JSON-RPC proxy in front of anvil that answers "method not found" to eth_sendRawTransactionSync,
// like a node without EIP-7966: the helpers must fall back to send + explicit receipt polling.
let anvil: AnvilHandle;
let proxy: Server;
let proxyUrl: string;
const seen: string[] = [];

before(async () => {
  anvil = await startAnvil();
  proxy = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const request = JSON.parse(body) as { id: number; method: string };
    seen.push(request.method);
    res.setHeader('content-type', 'application/json');
    if (request.method === 'eth_sendRawTransactionSync') {
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: request.id,
          error: { code: -32601, message: 'Method not found' },
        }),
      );
      return;
    }
    const upstream = await fetch(anvil.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    res.end(await upstream.text());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  await anvil?.stop();
});

test('without eth_sendRawTransactionSync the helpers fall back to polling the receipt', async () => {
  const { walletClient, publicClient } = createChainClients({ rpcUrl: proxyUrl, account: devAccount(0) });
  const to = devAccount(7).address;
  const before = await publicClient.getBalance({ address: to });
  const receipt = await sendTransactionAndWait(
    walletClient!,
    { to, value: parseEther('1') },
    { publicClient },
  );
  assert.equal(receipt.status, 'success');
  assert.equal(await publicClient.getBalance({ address: to }), before + parseEther('1'));
  assert.ok(seen.includes('eth_sendRawTransactionSync'), 'tried the synchronous send first');
  assert.ok(seen.includes('eth_sendRawTransaction'), 'then sent normally');
  assert.ok(seen.includes('eth_getTransactionReceipt'), 'and polled the receipt');

  // The next send on the same client goes straight to the fallback.
  const syncTries = seen.filter((m) => m === 'eth_sendRawTransactionSync').length;
  await sendTransactionAndWait(walletClient!, { to, value: 1n }, { publicClient });
  assert.equal(seen.filter((m) => m === 'eth_sendRawTransactionSync').length, syncTries);
});

test('the receipt poller gives up with TX_TIMEOUT for a transaction that never appears', async () => {
  const { publicClient } = createChainClients({ rpcUrl: anvil.rpcUrl });
  await assert.rejects(
    pollTransactionReceipt(publicClient, `0x${'ab'.repeat(32)}`, { timeoutMs: 300, pollIntervalMs: 50 }),
    (e: ChainError) => e.code === 'TX_TIMEOUT' && !e.message.includes('\n'),
  );
});
