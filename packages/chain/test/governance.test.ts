import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { encodeFunctionData, keccak256, parseEther, toHex } from 'viem';
import { advanceTime, LOCAL_GOVERNANCE, paramsPreset, writeContractAndWait } from '../src/index.ts';
import { type DeployedChain, startDeployedChain } from './helpers.ts';

// OpenZeppelin Governor.ProposalState
const Active = 1;
const Succeeded = 4;
const Queued = 5;
const Executed = 7;
const SETTLER = 1; // Staking.Role.Settler

let chain: DeployedChain;
before(async () => {
  chain = await startDeployedChain();
});
after(async () => {
  await chain?.close();
});

test('a fee-share change goes propose → vote → queue → execute and applies from the next epoch', async () => {
  const { walletClient: voter, deployment, protocol } = chain;
  const c = deployment.contracts;
  const me = voter.account.address;
  const current = paramsPreset('local', deployment.treasury);
  const proposed = { ...current, ownerBps: 2_000, stakersBps: 1_500, contributorsBps: 6_500 };

  // 1. Lock 100M OPEN into vOPEN and delegate to self (votes count only once delegated).
  const locked = parseEther('100000000');
  await writeContractAndWait(voter, {
    address: c.OpenToken,
    abi: protocol.openToken.abi,
    functionName: 'approve',
    args: [c.OpenVotes, locked],
  });
  await writeContractAndWait(voter, {
    address: c.OpenVotes,
    abi: protocol.openVotes.abi,
    functionName: 'depositFor',
    args: [me, locked],
  });
  await writeContractAndWait(voter, {
    address: c.OpenVotes,
    abi: protocol.openVotes.abi,
    functionName: 'delegate',
    args: [me],
  });
  assert.equal(await protocol.openVotes.read.getVotes([me]), locked);
  await advanceTime(chain.testClient, 1);

  // 2. Propose ProtocolParams.setParams(proposed), executed by the timelock.
  const targets = [c.ProtocolParams] as const;
  const values = [0n] as const;
  const calldatas = [
    encodeFunctionData({ abi: protocol.params.abi, functionName: 'setParams', args: [proposed] }),
  ] as const;
  const description = 'Fee shares: owner 20 %, stakers 15 %, contributors 65 %';
  const descriptionHash = keccak256(toHex(description));
  await writeContractAndWait(voter, {
    address: c.OpenGovernor,
    abi: protocol.governor.abi,
    functionName: 'propose',
    args: [targets, values, calldatas, description],
  });
  const proposalId = await protocol.governor.read.hashProposal([targets, values, calldatas, descriptionHash]);

  // 3. Vote once the delay has passed.
  await advanceTime(chain.testClient, LOCAL_GOVERNANCE.votingDelay + 1);
  assert.equal(await protocol.governor.read.state([proposalId]), Active);
  await writeContractAndWait(voter, {
    address: c.OpenGovernor,
    abi: protocol.governor.abi,
    functionName: 'castVote',
    args: [proposalId, 1],
  });
  const [, forVotes] = await protocol.governor.read.proposalVotes([proposalId]);
  assert.equal(forVotes, locked);

  // 4. Queue after the voting period.
  await advanceTime(chain.testClient, LOCAL_GOVERNANCE.votingPeriod + 1);
  assert.equal(await protocol.governor.read.state([proposalId]), Succeeded);
  await writeContractAndWait(voter, {
    address: c.OpenGovernor,
    abi: protocol.governor.abi,
    functionName: 'queue',
    args: [targets, values, calldatas, descriptionHash],
  });
  assert.equal(await protocol.governor.read.state([proposalId]), Queued);

  // Executing before the timelock delay fails.
  await assert.rejects(
    writeContractAndWait(voter, {
      address: c.OpenGovernor,
      abi: protocol.governor.abi,
      functionName: 'execute',
      args: [targets, values, calldatas, descriptionHash],
    }),
  );

  // 5. Execute after the timelock delay (anyone may execute).
  await advanceTime(chain.testClient, Number(LOCAL_GOVERNANCE.timelockDelay) + 1);
  await writeContractAndWait(chain.walletFor(5), {
    address: c.OpenGovernor,
    abi: protocol.governor.abi,
    functionName: 'execute',
    args: [targets, values, calldatas, descriptionHash],
  });
  assert.equal(await protocol.governor.read.state([proposalId]), Executed);

  // 6. Not in force yet: epoch 1 keeps the shares it started with; epoch 2 has the new ones.
  assert.equal(await protocol.rewards.read.currentEpoch(), 1n);
  assert.deepEqual(await protocol.params.read.params(), current);
  assert.deepEqual(await protocol.params.read.paramsAt([1n]), current);
  assert.deepEqual(await protocol.params.read.paramsAt([2n]), proposed);

  // 7. A staked settler closes epoch 1 by posting its root; from epoch 2 the new shares apply.
  const settler = chain.walletFor(1);
  const stake = current.minSettlerStake;
  await writeContractAndWait(voter, {
    address: c.OpenToken,
    abi: protocol.openToken.abi,
    functionName: 'transfer',
    args: [settler.account.address, stake],
  });
  await writeContractAndWait(settler, {
    address: c.OpenToken,
    abi: protocol.openToken.abi,
    functionName: 'approve',
    args: [c.Staking, stake],
  });
  await writeContractAndWait(settler, {
    address: c.Staking,
    abi: protocol.staking.abi,
    functionName: 'stake',
    args: [SETTLER, stake],
  });
  await writeContractAndWait(settler, {
    address: c.RewardDistributor,
    abi: protocol.rewards.abi,
    functionName: 'postRoot',
    args: [1n, keccak256(toHex('epoch 1: no rewards')), 0n, 'ipfs://epoch-1'],
  });
  assert.equal(await protocol.rewards.read.currentEpoch(), 2n);
  const now = await protocol.params.read.params();
  assert.equal(now.ownerBps, 2_000);
  assert.equal(now.stakersBps, 1_500);
  assert.equal(now.contributorsBps, 6_500);
  assert.deepEqual(await protocol.params.read.paramsAt([1n]), current, 'history is kept');
});
