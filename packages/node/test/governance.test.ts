// Governance and staking over HTTP on a real anvil chain: lock OPEN into vOPEN and delegate, propose a
// fee-share change, vote, queue, execute through the timelock, and see it apply from the next epoch
// only; stake and unstake OPEN.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { protocolParamsAbi } from '@openledger/chain';
import { parseEther } from 'viem';
import { accounts, api, signIn, startTestNode } from './helpers.ts';

let node: Awaited<ReturnType<typeof startTestNode>>;
let token: string;
const voter = accounts[1].address;

before(async () => {
  node = await startTestNode();
  token = await signIn(node.url, accounts[1]);
});

after(async () => {
  await node?.stop();
});

interface Proposal {
  id: string;
  state: string;
  description: string;
  votes: { for: string; against: string; abstain: string };
  eta?: number;
  targets: string[];
  calldatas: string[];
}

const advance = async (seconds: number) => {
  const res = await api(node.url, '/api/dev/advance-time', { body: { seconds } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
};

const readParams = (functionName: 'params' | 'paramsAt', epoch?: bigint) =>
  node.ctx.chain.publicClient.readContract({
    address: node.deployment.contracts.ProtocolParams,
    abi: protocolParamsAbi,
    functionName,
    ...(epoch === undefined ? {} : { args: [epoch] }),
  } as never) as Promise<{ ownerBps: number; stakersBps: number; contributorsBps: number }>;

const proposal = async (id: string) => {
  const res = await api<Proposal>(node.url, `/api/gov/proposals/${id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
};

test('bad proposals are refused with a 400 naming the field', async () => {
  const unknown = await api<{ error: { field: string } }>(node.url, '/api/gov/proposals', {
    token,
    body: { parameter: 'contributorBps', value: '6500' },
  });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error.field, 'parameter');

  // moving one share alone breaks the 10,000 bps sum
  const unbalanced = await api<{ error: { field: string; message: string } }>(
    node.url,
    '/api/gov/proposals',
    {
      token,
      body: { parameter: 'contributorsBps', value: 6500 },
    },
  );
  assert.equal(unbalanced.status, 400);
  assert.equal(unbalanced.body.error.field, 'contributorsBps');
  assert.match(unbalanced.body.error.message, /10000/);

  const anonymous = await api(node.url, '/api/gov/proposals', {
    body: { parameter: 'platformFee', value: '1' },
  });
  assert.equal(anonymous.status, 401);
  const list = await api<Proposal[]>(node.url, '/api/gov/proposals');
  assert.deepEqual(list.body, [], 'nothing was proposed');
});

test('a contributor-share change goes delegate → propose → vote → queue → execute and applies from the next epoch', async () => {
  // 1. voting power: lock 1,000 OPEN into vOPEN, delegated to self
  const amount = parseEther('1000');
  const delegated = await api<{ votes: string }>(node.url, '/api/gov/delegate', {
    token,
    body: { amount: amount.toString() },
  });
  assert.equal(delegated.status, 200, JSON.stringify(delegated.body));
  const power = await api<{ votes: string; delegate: string }>(node.url, `/api/gov/power/${voter}`);
  assert.equal(power.body.votes, amount.toString());
  assert.equal(power.body.delegate, voter);
  await advance(1);

  // 2. propose contributors 60 % → 65 %, owner 30 % → 25 %
  const before = await readParams('params');
  assert.equal(before.ownerBps + before.stakersBps + before.contributorsBps, 10_000);
  const shares = {
    ownerBps: before.ownerBps - 500,
    stakersBps: before.stakersBps,
    contributorsBps: before.contributorsBps + 500,
  };
  const created = await api<{ proposalId: string }>(node.url, '/api/gov/proposals', {
    token,
    body: { parameter: 'contributorsBps', value: shares, description: 'Contributors 65 %, owners 25 %' },
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const id = created.body.proposalId;
  assert.match(id, /^[0-9]+$/);
  const listed = await api<Proposal[]>(node.url, '/api/gov/proposals');
  assert.equal(listed.body.length, 1);
  assert.equal(listed.body[0].id, id);
  assert.equal(listed.body[0].targets[0], node.deployment.contracts.ProtocolParams);
  assert.equal(listed.body[0].description, 'Contributors 65 %, owners 25 %');

  // 3. vote once the voting delay has passed
  await advance(2);
  assert.equal((await proposal(id)).state, 'Active');
  const voted = await api(node.url, `/api/gov/proposals/${id}/vote`, { token, body: { support: 'for' } });
  assert.equal(voted.status, 200, JSON.stringify(voted.body));
  const afterVote = await proposal(id);
  assert.deepEqual(afterVote.votes, { for: amount.toString(), against: '0', abstain: '0' });
  // queueing before the period ends is refused by the governor
  const early = await api(node.url, `/api/gov/proposals/${id}/queue`, { token, body: {} });
  assert.equal(early.status, 409);

  // 4. queue after the voting period
  await advance(301);
  assert.equal((await proposal(id)).state, 'Succeeded');
  const queued = await api<{ state: string }>(node.url, `/api/gov/proposals/${id}/queue`, {
    token,
    body: {},
  });
  assert.equal(queued.status, 200, JSON.stringify(queued.body));
  assert.equal(queued.body.state, 'Queued');
  assert.ok(((await proposal(id)).eta ?? 0) > 0);
  const tooSoon = await api(node.url, `/api/gov/proposals/${id}/execute`, { token, body: {} });
  assert.equal(tooSoon.status, 409, 'the timelock delay has not passed');

  // 5. execute after the timelock delay
  await advance(61);
  const executed = await api<{ state: string }>(node.url, `/api/gov/proposals/${id}/execute`, {
    token,
    body: {},
  });
  assert.equal(executed.status, 200, JSON.stringify(executed.body));
  assert.equal(executed.body.state, 'Executed');

  // 6. the current epoch keeps its shares; the next one has the new ones
  const current = (await node.ctx.chain.publicClient.readContract({
    address: node.deployment.contracts.ProtocolParams,
    abi: protocolParamsAbi,
    functionName: 'currentEpoch',
  })) as bigint;
  const now = await readParams('paramsAt', current);
  const next = await readParams('paramsAt', current + 1n);
  assert.deepEqual(
    { ownerBps: now.ownerBps, stakersBps: now.stakersBps, contributorsBps: now.contributorsBps },
    { ownerBps: before.ownerBps, stakersBps: before.stakersBps, contributorsBps: before.contributorsBps },
  );
  assert.deepEqual(
    { ownerBps: next.ownerBps, stakersBps: next.stakersBps, contributorsBps: next.contributorsBps },
    shares,
  );
  assert.equal((await readParams('params')).contributorsBps, before.contributorsBps);
});

test('stake and unstake change the staked amount', async () => {
  const position = async () =>
    (
      await api<{ operator: string; settler: string; unbonding: string; open: string }>(
        node.url,
        `/api/staking/${voter}`,
      )
    ).body;
  const start = await position();
  const amount = parseEther('50');
  const staked = await api(node.url, '/api/staking/stake', { token, body: { amount: amount.toString() } });
  assert.equal(staked.status, 200, JSON.stringify(staked.body));
  const mid = await position();
  assert.equal(BigInt(mid.operator), BigInt(start.operator) + amount);
  assert.equal(BigInt(mid.open), BigInt(start.open) - amount);
  assert.equal(mid.settler, start.settler);

  const tooMuch = await api<{ error: { field: string } }>(node.url, '/api/staking/unstake', {
    token,
    body: { amount: (amount + 1n).toString() },
  });
  assert.equal(tooMuch.status, 400);
  assert.equal(tooMuch.body.error.field, 'amount');

  const unstaked = await api(node.url, '/api/staking/unstake', {
    token,
    body: { amount: amount.toString() },
  });
  assert.equal(unstaked.status, 200, JSON.stringify(unstaked.body));
  const end = await position();
  assert.equal(end.operator, start.operator);
  assert.equal(BigInt(end.unbonding), BigInt(start.unbonding) + amount);
  // withdrawing before the unbonding period ends is refused
  const early = await api(node.url, '/api/staking/withdraw', { token, body: {} });
  assert.equal(early.status, 409);
});
