import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseEther } from 'viem';
import {
  type ChainError,
  connectChain,
  devAccount,
  ensureDeployment,
  findFreePort,
  getProtocol,
  pollTransactionReceipt,
  probeChainId,
  readDeployment,
  startAnvil,
} from '../src/index.ts';
import { tempHome } from './helpers.ts';

const homes: Array<() => void> = [];
after(() => {
  for (const remove of homes) remove();
});

function home(): string {
  const t = tempHome();
  homes.push(t.remove);
  return t.home;
}

test('anvil starts on a free port with chain id 31337 and stops', async () => {
  const anvil = await startAnvil();
  assert.match(anvil.rpcUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(await probeChainId(anvil.rpcUrl), 31337);
  assert.equal(anvil.statePath, undefined);
  await anvil.stop();
  await anvil.stop(); // idempotent
  await assert.rejects(probeChainId(anvil.rpcUrl, 1000), (e: ChainError) => e.code === 'RPC_UNREACHABLE');
});

test('the chain and its deployment survive a SIGTERM restart and a SIGINT restart', async () => {
  const dir = home();
  const account1 = devAccount(1).address;

  // First run: deploy, move some OPEN, stop with SIGTERM (stop()).
  let anvil = await startAnvil({ home: dir });
  let clients = await connectChain({ rpcUrl: anvil.rpcUrl, expectedChainId: 31337, account: devAccount(0) });
  const first = await ensureDeployment({
    publicClient: clients.publicClient,
    walletClient: clients.walletClient!,
    preset: 'local',
    home: dir,
  });
  assert.equal(first.deployed, true);
  assert.ok(existsSync(join(dir, 'deployments', '31337.json')));
  const protocol = getProtocol({
    addresses: first.deployment.contracts,
    publicClient: clients.publicClient,
    walletClient: clients.walletClient,
  });
  const hash = await protocol.openToken.write.transfer([account1, parseEther('123')]);
  await pollTransactionReceipt(clients.publicClient, hash);
  const blockBefore = await clients.publicClient.getBlockNumber();
  await anvil.stop();
  assert.ok(existsSync(join(dir, 'chain', 'state.json')), 'anvil dumped its state on SIGTERM');

  // Second run on another port: the recorded deployment is reused, balances are there.
  anvil = await startAnvil({ home: dir });
  clients = await connectChain({ rpcUrl: anvil.rpcUrl, expectedChainId: 31337, account: devAccount(0) });
  const second = await ensureDeployment({
    publicClient: clients.publicClient,
    walletClient: clients.walletClient!,
    preset: 'local',
    home: dir,
  });
  assert.equal(second.deployed, false);
  assert.deepEqual(second.deployment, first.deployment);
  assert.ok((await clients.publicClient.getBlockNumber()) >= blockBefore);
  const reread = getProtocol({ addresses: second.deployment.contracts, publicClient: clients.publicClient });
  assert.equal(await reread.openToken.read.balanceOf([account1]), parseEther('123'));

  // Another transfer, then Ctrl-C style SIGINT straight to anvil.
  const p2 = getProtocol({
    addresses: second.deployment.contracts,
    publicClient: clients.publicClient,
    walletClient: clients.walletClient,
  });
  await pollTransactionReceipt(
    clients.publicClient,
    await p2.openToken.write.transfer([account1, parseEther('1')]),
  );
  process.kill(anvil.pid, 'SIGINT');
  await anvil.exited;
  await anvil.stop();

  anvil = await startAnvil({ home: dir });
  try {
    clients = await connectChain({ rpcUrl: anvil.rpcUrl, expectedChainId: 31337 });
    const p3 = getProtocol({ addresses: second.deployment.contracts, publicClient: clients.publicClient });
    assert.equal(await p3.openToken.read.balanceOf([account1]), parseEther('124'));
  } finally {
    await anvil.stop();
  }

  // A chain that lost its state (in-memory anvil) has no code at the recorded addresses:
  // ensureDeployment deploys again and rewrites the record.
  anvil = await startAnvil();
  try {
    clients = await connectChain({ rpcUrl: anvil.rpcUrl, account: devAccount(0) });
    await clients.walletClient!.sendTransactionSync({ to: account1, value: 1n }); // shift the nonce
    const third = await ensureDeployment({
      publicClient: clients.publicClient,
      walletClient: clients.walletClient!,
      preset: 'local',
      home: dir,
    });
    assert.equal(third.deployed, true);
    assert.notEqual(third.deployment.contracts.OpenToken, first.deployment.contracts.OpenToken);
    assert.deepEqual(readDeployment(dir, 31337), third.deployment);
  } finally {
    await anvil.stop();
  }
});

test('the periodic state dump keeps transactions across a crash (SIGKILL)', async () => {
  const dir = home();
  const anvil = await startAnvil({ home: dir, stateIntervalSeconds: 1 });
  const clients = await connectChain({ rpcUrl: anvil.rpcUrl, account: devAccount(0) });
  const to = devAccount(2).address;
  const before = await clients.publicClient.getBalance({ address: to });
  await clients.walletClient!.sendTransactionSync({ to, value: parseEther('5') });
  await new Promise((resolve) => setTimeout(resolve, 2500));
  process.kill(anvil.pid, 'SIGKILL');
  await anvil.exited;
  await anvil.stop();

  const again = await startAnvil({ home: dir });
  try {
    const { publicClient } = await connectChain({ rpcUrl: again.rpcUrl });
    assert.equal(await publicClient.getBalance({ address: to }), before + parseEther('5'));
  } finally {
    await again.stop();
  }
});

test('a taken port and a corrupt state file give one-line errors', async () => {
  const port = await findFreePort();
  const anvil = await startAnvil({ port });
  try {
    await assert.rejects(startAnvil({ port }), (e: ChainError) => {
      assert.equal(e.code, 'PORT_IN_USE');
      assert.match(e.message, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  } finally {
    await anvil.stop();
  }

  const dir = home();
  const statePath = join(dir, 'chain', 'state.json');
  const first = await startAnvil({ home: dir });
  await first.stop();
  assert.ok(existsSync(statePath));
  const second = await startAnvil({ home: dir }); // backs up the good state
  await second.stop();
  writeFileSync(statePath, '{"block": trunc');
  await assert.rejects(startAnvil({ home: dir }), (e: ChainError) => {
    assert.equal(e.code, 'ANVIL_FAILED');
    assert.match(e.message, /not valid JSON/);
    assert.match(e.message, /state\.json\.bak/);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
});
