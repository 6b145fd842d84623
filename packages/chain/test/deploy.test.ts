import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { parseEther, zeroAddress } from 'viem';
import {
  deploymentPath,
  deployProtocol,
  getChainStatus,
  getProtocol,
  LOCAL_GOVERNANCE,
  PROTOCOL_CONTRACTS,
  paramsPreset,
  TIMELOCK_ROLES,
  writeContractAndWait,
} from '../src/index.ts';
import { type DeployedChain, startDeployedChain } from './helpers.ts';

const EXECUTOR_ROLE = '0xd8aa0f3194971a2a116679f7c2090f6939c8d4e01a2a8d7e41d55e5351469e63';
let chain: DeployedChain;

before(async () => {
  chain = await startDeployedChain();
});
after(async () => {
  await chain?.close();
});

test('the deployment record has the documented shape and every contract has code', async () => {
  const record = JSON.parse(readFileSync(deploymentPath(chain.home, 31337), 'utf8'));
  assert.deepEqual(Object.keys(record).sort(), [
    'blockNumber',
    'chainId',
    'contracts',
    'deployer',
    'treasury',
  ]);
  assert.deepEqual(Object.keys(record.contracts), [...PROTOCOL_CONTRACTS]);
  assert.equal(record.chainId, 31337);
  assert.equal(record.deployer, chain.walletClient.account.address);
  assert.equal(record.treasury, chain.walletClient.account.address);
  const addresses = new Set(Object.values(record.contracts));
  assert.equal(addresses.size, PROTOCOL_CONTRACTS.length);
  for (const name of PROTOCOL_CONTRACTS) {
    const code = await chain.publicClient.getCode({ address: record.contracts[name] });
    assert.ok(code && code.length > 2, `${name} has code`);
  }
});

test('OPEN: exactly 1e27 minted to the treasury; vOPEN wraps OPEN with a timestamp clock', async () => {
  const { openToken, openVotes } = chain.protocol;
  const supply = await openToken.read.totalSupply();
  assert.equal(supply, 10n ** 27n);
  assert.equal(await openToken.read.balanceOf([chain.deployment.treasury]), 10n ** 27n);
  assert.equal(await openToken.read.symbol(), 'OPEN');
  assert.equal(await openVotes.read.underlying(), chain.deployment.contracts.OpenToken);
  assert.equal(await openVotes.read.CLOCK_MODE(), 'mode=timestamp');
  assert.equal(await openVotes.read.symbol(), 'vOPEN');
});

test('governance is wired: governor settings, timelock roles, admin renounced', async () => {
  const { governor, timelock } = chain.protocol;
  const { contracts, deployer } = chain.deployment;
  assert.equal(await governor.read.votingDelay(), BigInt(LOCAL_GOVERNANCE.votingDelay));
  assert.equal(await governor.read.votingPeriod(), BigInt(LOCAL_GOVERNANCE.votingPeriod));
  assert.equal(await governor.read.proposalThreshold(), 0n);
  assert.equal(await governor.read.quorumNumerator(), 4n);
  assert.equal(await governor.read.timelock(), contracts.TimelockController);
  assert.equal(await governor.read.token(), contracts.OpenVotes);
  assert.equal(await timelock.read.getMinDelay(), LOCAL_GOVERNANCE.timelockDelay);
  assert.equal(await timelock.read.hasRole([TIMELOCK_ROLES.PROPOSER_ROLE, contracts.OpenGovernor]), true);
  assert.equal(await timelock.read.hasRole([TIMELOCK_ROLES.CANCELLER_ROLE, contracts.OpenGovernor]), true);
  assert.equal(await timelock.read.hasRole([EXECUTOR_ROLE, zeroAddress]), true, 'anyone executes');
  assert.equal(await timelock.read.hasRole([TIMELOCK_ROLES.DEFAULT_ADMIN_ROLE, deployer]), false);
  assert.equal(await timelock.read.hasRole([TIMELOCK_ROLES.PROPOSER_ROLE, deployer]), false);
  assert.equal(
    await timelock.read.hasRole([TIMELOCK_ROLES.DEFAULT_ADMIN_ROLE, contracts.TimelockController]),
    true,
    'the timelock administers itself',
  );
});

test('the protocol contracts point at each other and at the timelock', async () => {
  const { params, staking, datanets, models, rewards, escrow } = chain.protocol;
  const c = chain.deployment.contracts;
  assert.equal(await params.read.governance(), c.TimelockController);
  assert.equal(await params.read.epochClock(), c.RewardDistributor);
  assert.equal(await params.read.currentEpoch(), 1n);
  assert.deepEqual(await params.read.params(), paramsPreset('local', chain.deployment.treasury));
  assert.equal(await staking.read.governance(), c.TimelockController);
  assert.equal(await staking.read.isSlasher([c.RewardDistributor]), true);
  assert.equal(await datanets.read.params(), c.ProtocolParams);
  assert.equal(await models.read.datanets(), c.DatanetRegistry);
  assert.equal(await rewards.read.escrow(), c.InferenceEscrow);
  assert.equal(await rewards.read.governance(), c.TimelockController);
  assert.equal(await rewards.read.staking(), c.Staking);
  assert.equal(await escrow.read.rewards(), c.RewardDistributor);
  assert.equal(await escrow.read.models(), c.ModelRegistry);
});

test('one-time wiring cannot be repeated, and the revert names the custom error', async () => {
  const c = chain.deployment.contracts;
  await assert.rejects(
    writeContractAndWait(chain.walletClient, {
      address: c.ProtocolParams,
      abi: chain.protocol.params.abi,
      functionName: 'setEpochClock',
      args: [c.Staking],
    }),
    /ClockAlreadySet/,
  );
  await assert.rejects(
    writeContractAndWait(chain.walletClient, {
      address: c.Staking,
      abi: chain.protocol.staking.abi,
      functionName: 'setSlasher',
      args: [chain.deployment.deployer],
    }),
    /Unauthorized/,
  );
  await assert.rejects(
    writeContractAndWait(chain.walletClient, {
      address: c.ProtocolParams,
      abi: chain.protocol.params.abi,
      functionName: 'setParams',
      args: [paramsPreset('local', chain.deployment.treasury)],
    }),
    /Unauthorized/,
  );
});

test('chain status reports chain id, block, addresses and OPEN supply', async () => {
  const status = await getChainStatus({
    rpcUrl: chain.anvil.rpcUrl,
    home: chain.home,
    expectedChainId: 31337,
  });
  assert.equal(status.chainId, 31337);
  assert.ok(status.blockNumber >= 16);
  assert.deepEqual(status.contracts, chain.deployment.contracts);
  assert.equal(status.deploymentIntact, true);
  assert.equal(status.openTotalSupply, (10n ** 27n).toString());
  assert.doesNotThrow(() => JSON.stringify(status));
});

test('the mainnet preset deploys with the mainnet governance settings', async () => {
  const deployment = await deployProtocol({
    publicClient: chain.publicClient,
    walletClient: chain.walletClient,
    preset: 'mainnet',
    treasury: chain.walletFor(8).account.address,
  });
  const p = getProtocol({ addresses: deployment.contracts, publicClient: chain.publicClient });
  assert.equal(await p.governor.read.votingDelay(), 86_400n);
  assert.equal(await p.governor.read.votingPeriod(), 604_800n);
  assert.equal(await p.governor.read.proposalThreshold(), parseEther('10000'));
  assert.equal(await p.governor.read.quorumNumerator(), 5n);
  assert.equal(await p.timelock.read.getMinDelay(), 172_800n);
  assert.equal(await p.openToken.read.balanceOf([deployment.treasury]), 10n ** 27n);
  assert.equal((await p.params.read.params()).treasury, deployment.treasury);
  assert.notEqual(deployment.contracts.OpenToken, chain.deployment.contracts.OpenToken);
});

test('writeContractAndWait returns a mined receipt', async () => {
  const receipt = await writeContractAndWait(chain.walletClient, {
    address: chain.deployment.contracts.OpenToken,
    abi: chain.protocol.openToken.abi,
    functionName: 'transfer',
    args: [chain.walletFor(3).account.address, parseEther('1')],
  });
  assert.equal(receipt.status, 'success');
  assert.ok(receipt.blockNumber > 0n);
});
