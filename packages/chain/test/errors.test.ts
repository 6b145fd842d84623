import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import {
  type AnvilHandle,
  accountFromEnv,
  accountFromKeystore,
  ChainError,
  connectChain,
  DEV_MNEMONIC,
  devAccount,
  encryptKeystore,
  findFreePort,
  getChainStatus,
  loadAccount,
  redactRpcUrl,
  startAnvil,
} from '../src/index.ts';
import { tempHome } from './helpers.ts';

const oneLine = (code: string) => (e: unknown) => {
  assert.ok(e instanceof ChainError, `expected a ChainError, got ${e}`);
  assert.equal(e.code, code);
  assert.doesNotMatch(e.message, /\n/, 'one line');
  return true;
};

let anvil: AnvilHandle;
const dir = tempHome();
before(async () => {
  anvil = await startAnvil();
});
after(async () => {
  await anvil?.stop();
  dir.remove();
});

test('an unreachable RPC is reported in one line, for connect and for status', async () => {
  const port = await findFreePort();
  const url = `http://127.0.0.1:${port}`;
  await assert.rejects(connectChain({ rpcUrl: url }), (e: ChainError) => {
    oneLine('RPC_UNREACHABLE')(e);
    assert.equal(e.message, `cannot reach RPC ${url}: connection refused`);
    return true;
  });
  await assert.rejects(getChainStatus({ rpcUrl: url, home: dir.home }), oneLine('RPC_UNREACHABLE'));
  await assert.rejects(connectChain({ rpcUrl: 'not a url' }), oneLine('RPC_UNREACHABLE'));
});

test('a wrong chain id is reported in one line', async () => {
  await assert.rejects(connectChain({ rpcUrl: anvil.rpcUrl, expectedChainId: 1612 }), (e: ChainError) => {
    oneLine('WRONG_CHAIN')(e);
    assert.equal(e.message, `RPC ${anvil.rpcUrl} is chain 31337, expected chain 1612`);
    return true;
  });
  await assert.rejects(
    getChainStatus({ rpcUrl: anvil.rpcUrl, expectedChainId: 161201 }),
    oneLine('WRONG_CHAIN'),
  );
});

test('status of a chain without a recorded deployment says so instead of failing', async () => {
  const status = await getChainStatus({ rpcUrl: anvil.rpcUrl, home: dir.home });
  assert.equal(status.chainId, 31337);
  assert.equal(status.contracts, null);
  assert.equal(status.openTotalSupply, null);
});

test('a missing or malformed key is reported without revealing it', async () => {
  assert.throws(
    () => accountFromEnv({}),
    (e: ChainError) => {
      oneLine('MISSING_KEY')(e);
      assert.match(e.message, /OPENLEDGER_PRIVATE_KEY/);
      return true;
    },
  );
  const secretish = 'deadbeefcafe0123456789';
  assert.throws(
    () => accountFromEnv({ OPENLEDGER_PRIVATE_KEY: secretish }),
    (e: ChainError) => oneLine('INVALID_KEY')(e) && !e.message.includes(secretish),
  );
  const key = generatePrivateKey();
  assert.equal(accountFromEnv({ OPENLEDGER_PRIVATE_KEY: key }).address, privateKeyToAccount(key).address);
  assert.equal(
    accountFromEnv({ OPENLEDGER_PRIVATE_KEY: ` ${key.slice(2)}\n` }).address,
    privateKeyToAccount(key).address,
  );
});

test('an encrypted keystore round-trips; a wrong password fails cleanly', async () => {
  const key = generatePrivateKey();
  const path = join(dir.home, 'key.json');
  writeFileSync(path, await encryptKeystore(key, 'correct horse', { scryptN: 2 ** 10 }));
  const account = await accountFromKeystore(path, 'correct horse');
  assert.equal(account.address, privateKeyToAccount(key).address);
  const viaSource = await loadAccount({ kind: 'keystore', path, password: 'correct horse' });
  assert.equal(viaSource.address, account.address);
  await assert.rejects(accountFromKeystore(path, 'wrong'), oneLine('KEYSTORE_FAILED'));
  await assert.rejects(accountFromKeystore(join(dir.home, 'nope.json'), 'x'), oneLine('KEYSTORE_FAILED'));
  writeFileSync(join(dir.home, 'plain.json'), '{"hello":1}');
  await assert.rejects(accountFromKeystore(join(dir.home, 'plain.json'), 'x'), oneLine('KEYSTORE_FAILED'));
});

test('dev accounts are anvil well-known test accounts', async () => {
  assert.equal(DEV_MNEMONIC, 'test test test test test test test test test test test junk');
  assert.equal(devAccount(0).address, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
  assert.equal(devAccount(1).address, '0x70997970C51812dc3A010C7d01b50e0d17dc79C8');
  const { publicClient } = await connectChain({ rpcUrl: anvil.rpcUrl });
  const funded = await publicClient.getBalance({ address: devAccount(9).address });
  assert.ok(funded > 0n, 'anvil funds the mnemonic accounts');
});

test('RPC URLs are redacted before they reach a message', () => {
  assert.equal(redactRpcUrl('http://127.0.0.1:8545'), 'http://127.0.0.1:8545');
  assert.equal(redactRpcUrl('https://user:pw@rpc.example.org/v2/SECRETKEY?x=1'), 'https://rpc.example.org/…');
});
