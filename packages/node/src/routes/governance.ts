import {
  openGovernorAbi,
  openTokenAbi,
  openVotesAbi,
  protocolParamsAbi,
  writeContractAndWait,
} from '@openledger/chain';
import type { FastifyInstance } from 'fastify';
import { type Address, encodeFunctionData, getAddress, type Hex, isAddress, keccak256, toHex } from 'viem';
import type { NodeContext } from '../context.ts';
import { OpenLedgerError } from '../errors.ts';
import { parseWei, send, stakingRoutes } from './staking.ts';

/** OpenZeppelin Governor.ProposalState, by index. */
export const PROPOSAL_STATES = [
  'Pending',
  'Active',
  'Canceled',
  'Defeated',
  'Succeeded',
  'Queued',
  'Expired',
  'Executed',
] as const;

const SHARES = ['ownerBps', 'stakersBps', 'contributorsBps'] as const;
const BPS = 10_000;
const SUPPORT = { against: 0, for: 1, abstain: 2 } as const;

const WEI = { type: 'string', pattern: '^[0-9]+$', description: 'wei, decimal string' } as const;
const PROPOSAL_ID = { type: 'string', pattern: '^[0-9]+$', description: 'proposal id, decimal string' };
const BPS_VALUE = {
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: '^[0-9]+$' },
  ],
};
const txResult = {
  type: 'object',
  properties: { txHash: { type: 'string' }, proposalId: { type: 'string' }, state: { type: 'string' } },
} as const;

type Params = Record<string, number | bigint | string>;

interface ProposalRecord {
  id: bigint;
  proposer: Address;
  targets: readonly Address[];
  values: readonly bigint[];
  calldatas: readonly Hex[];
  description: string;
  voteStart: bigint;
  voteEnd: bigint;
}

function contractsOf(ctx: NodeContext) {
  const c = ctx.chain.contracts;
  for (const name of ['OpenGovernor', 'OpenVotes', 'OpenToken', 'ProtocolParams'] as const) {
    if (!c[name]) {
      throw new OpenLedgerError('unavailable', `the ${name} contract is not deployed on this chain`, {
        status: 503,
      });
    }
  }
  return {
    governor: c.OpenGovernor,
    votes: c.OpenVotes,
    token: c.OpenToken,
    params: c.ProtocolParams,
  };
}

function walletOf(ctx: NodeContext, account: Address) {
  const signers = ctx.services.signers;
  if (!signers) {
    throw new OpenLedgerError('no_signer', 'this node sends no transactions; use your own wallet', {
      status: 403,
    });
  }
  return signers.wallet(account);
}

function parseAddress(value: string, field = 'address'): Address {
  if (!isAddress(value)) {
    throw new OpenLedgerError('invalid_address', `${field} must be a 0x-prefixed 20-byte hex address`, {
      field,
    });
  }
  return getAddress(value);
}

/** A value of the same kind as the current one: number (uint16/32), bigint (wider) or address. */
function coerce(current: number | bigint | string, value: unknown, field: string): number | bigint | string {
  if (typeof current === 'string') {
    if (typeof value !== 'string') {
      throw new OpenLedgerError('invalid_value', `${field} must be an address`, { field });
    }
    return parseAddress(value, field);
  }
  const s = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof s !== 'string' || !/^[0-9]+$/.test(s)) {
    throw new OpenLedgerError('invalid_value', `${field} must be a non-negative integer (decimal string)`, {
      field,
    });
  }
  if (typeof current === 'number') {
    const n = Number(s);
    // uint16 fields (bps) and uint32 fields (penalty threshold) arrive as numbers
    const limit = SHARES.includes(field as never) || field.endsWith('Bps') ? BPS : 2 ** 32 - 1;
    if (!Number.isSafeInteger(n) || n > limit) {
      throw new OpenLedgerError('invalid_value', `${field} must be at most ${limit}`, { field });
    }
    return n;
  }
  return BigInt(s);
}

/** The current parameters with `parameter` replaced by `value` (validated like the contract does). */
export function changeParams(current: Params, parameter: string, value: unknown): Params {
  const next: Params = { ...current };
  if (parameter === 'shares' || (value !== null && typeof value === 'object' && !Array.isArray(value))) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new OpenLedgerError('invalid_value', 'value must be { ownerBps, stakersBps, contributorsBps }', {
        field: 'value',
      });
    }
    if (parameter !== 'shares' && !SHARES.includes(parameter as never)) {
      throw new OpenLedgerError(
        'invalid_value',
        `an object value is only accepted for the fee shares (${SHARES.join(', ')})`,
        { field: 'value' },
      );
    }
    const v = value as Record<string, unknown>;
    for (const key of Object.keys(v)) {
      if (!SHARES.includes(key as never)) {
        throw new OpenLedgerError(
          'unknown_parameter',
          `value.${key}: not a fee share (${SHARES.join(', ')})`,
          {
            field: `value.${key}`,
          },
        );
      }
      next[key] = coerce(current[key], v[key], key);
    }
  } else {
    if (!Object.hasOwn(current, parameter)) {
      throw new OpenLedgerError(
        'unknown_parameter',
        `parameter must be one of ${Object.keys(current).join(', ')} (got ${JSON.stringify(parameter)})`,
        { field: 'parameter' },
      );
    }
    next[parameter] = coerce(current[parameter], value, parameter);
  }
  const sum = SHARES.reduce((s, k) => s + Number(next[k]), 0);
  if (sum !== BPS) {
    const field = SHARES.includes(parameter as never) ? parameter : 'value';
    throw new OpenLedgerError(
      'invalid_shares',
      `${field}: ownerBps + stakersBps + contributorsBps must be ${BPS} (would be ${sum}); ` +
        'propose the three shares together as value { ownerBps, stakersBps, contributorsBps }',
      { field },
    );
  }
  return next;
}

async function readParams(ctx: NodeContext): Promise<Params> {
  const { params } = contractsOf(ctx);
  return (await ctx.chain.publicClient.readContract({
    address: params,
    abi: protocolParamsAbi,
    functionName: 'params',
  })) as unknown as Params;
}

async function proposals(ctx: NodeContext): Promise<ProposalRecord[]> {
  const { governor } = contractsOf(ctx);
  const events = await ctx.chain.publicClient.getContractEvents({
    address: governor,
    abi: openGovernorAbi,
    eventName: 'ProposalCreated',
    fromBlock: 0n,
    toBlock: 'latest',
  });
  return events.map((e) => {
    const a = e.args as {
      proposalId: bigint;
      proposer: Address;
      targets: readonly Address[];
      values: readonly bigint[];
      calldatas: readonly Hex[];
      description: string;
      voteStart: bigint;
      voteEnd: bigint;
    };
    return {
      id: a.proposalId,
      proposer: a.proposer,
      targets: a.targets,
      values: a.values,
      calldatas: a.calldatas,
      description: a.description,
      voteStart: a.voteStart,
      voteEnd: a.voteEnd,
    };
  });
}

async function findProposal(ctx: NodeContext, id: string): Promise<ProposalRecord> {
  const wanted = BigInt(id);
  const found = (await proposals(ctx)).find((p) => p.id === wanted);
  if (!found) throw new OpenLedgerError('not_found', `no proposal ${id}`, { status: 404, field: 'id' });
  return found;
}

async function describe(ctx: NodeContext, p: ProposalRecord) {
  const { governor } = contractsOf(ctx);
  const client = ctx.chain.publicClient;
  const [state, votes, eta] = await Promise.all([
    client.readContract({ address: governor, abi: openGovernorAbi, functionName: 'state', args: [p.id] }),
    client.readContract({
      address: governor,
      abi: openGovernorAbi,
      functionName: 'proposalVotes',
      args: [p.id],
    }),
    client.readContract({
      address: governor,
      abi: openGovernorAbi,
      functionName: 'proposalEta',
      args: [p.id],
    }),
  ]);
  const [against, forVotes, abstain] = votes as readonly [bigint, bigint, bigint];
  return {
    id: p.id.toString(),
    proposer: p.proposer,
    description: p.description,
    state: PROPOSAL_STATES[Number(state)] ?? String(state),
    votes: { for: forVotes.toString(), against: against.toString(), abstain: abstain.toString() },
    ...(Number(eta) > 0 ? { eta: Number(eta) } : {}),
    targets: p.targets,
    values: p.values.map(String),
    calldatas: p.calldatas,
    voteStart: Number(p.voteStart),
    voteEnd: Number(p.voteEnd),
  };
}

const proposalSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    proposer: { type: 'string' },
    description: { type: 'string' },
    state: { type: 'string', enum: [...PROPOSAL_STATES] },
    votes: {
      type: 'object',
      properties: { for: { type: 'string' }, against: { type: 'string' }, abstain: { type: 'string' } },
    },
    eta: { type: 'integer', description: 'unix time from which a queued proposal may execute' },
    targets: { type: 'array', items: { type: 'string' } },
    values: { type: 'array', items: { type: 'string' } },
    calldatas: { type: 'array', items: { type: 'string' } },
    voteStart: { type: 'integer' },
    voteEnd: { type: 'integer' },
  },
} as const;

/** Governance: proposals to change ProtocolParams through OpenGovernor + timelock, votes, vOPEN. */
export async function governanceRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  app.get(
    '/api/gov/proposals',
    {
      schema: {
        tags: ['governance'],
        summary: 'Proposals created on the governor, with their state and votes (newest first)',
        response: { 200: { type: 'array', items: proposalSchema } },
      },
    },
    async () => {
      const all = await proposals(ctx);
      const out = [];
      for (const p of all.reverse()) out.push(await describe(ctx, p));
      return out;
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/gov/proposals/:id',
    {
      schema: {
        tags: ['governance'],
        summary: 'One proposal, its state and votes',
        params: { type: 'object', properties: { id: PROPOSAL_ID } },
        response: { 200: proposalSchema },
      },
    },
    async (request) => describe(ctx, await findProposal(ctx, request.params.id)),
  );

  app.get(
    '/api/gov/params',
    {
      schema: {
        tags: ['governance'],
        summary: 'The protocol parameters in force for the current epoch (the fields a proposal may change)',
      },
    },
    async () => {
      const p = await readParams(ctx);
      return Object.fromEntries(
        Object.entries(p).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]),
      );
    },
  );

  app.post<{ Body: { parameter: string; value: unknown; description?: string } }>(
    '/api/gov/proposals',
    {
      schema: {
        tags: ['governance'],
        summary:
          'Propose ProtocolParams.setParams with one field changed (or the three fee shares together); applies from the epoch after execution',
        security: [{ bearer: [] }],
        body: {
          type: 'object',
          required: ['parameter', 'value'],
          properties: {
            parameter: {
              type: 'string',
              minLength: 1,
              maxLength: 64,
              description: 'a field of ProtocolParams.Params, e.g. contributorsBps, platformFee; or "shares"',
            },
            value: {
              description:
                'decimal string/number (address for treasury), or { ownerBps, stakersBps, contributorsBps }',
              anyOf: [
                { type: 'string', maxLength: 80 },
                { type: 'integer', minimum: 0 },
                {
                  type: 'object',
                  additionalProperties: true,
                  properties: {
                    ownerBps: BPS_VALUE,
                    stakersBps: BPS_VALUE,
                    contributorsBps: BPS_VALUE,
                  },
                },
              ],
            },
            description: { type: 'string', maxLength: 10_000 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              proposalId: { type: 'string' },
              txHash: { type: 'string' },
              description: { type: 'string' },
            },
          },
        },
      },
    },
    async (request) => {
      const account = ctx.auth.require(request) as Address;
      const { governor, params } = contractsOf(ctx);
      const { parameter, value } = request.body;
      const current = await readParams(ctx);
      const next = changeParams(current, parameter, value);
      const shown =
        value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value as string);
      const description =
        request.body.description?.trim() || `Set ${parameter} to ${shown} (from the next epoch)`;
      const calldata = encodeFunctionData({
        abi: protocolParamsAbi,
        functionName: 'setParams',
        args: [next as never],
      });
      const targets = [params] as const;
      const values = [0n] as const;
      const calldatas = [calldata] as const;
      const wallet = walletOf(ctx, account);
      const txHash = await send('propose', () =>
        writeContractAndWait(wallet, {
          address: governor,
          abi: openGovernorAbi,
          functionName: 'propose',
          args: [targets, values, calldatas, description],
        }),
      );
      const proposalId = (await ctx.chain.publicClient.readContract({
        address: governor,
        abi: openGovernorAbi,
        functionName: 'hashProposal',
        args: [targets, values, calldatas, keccak256(toHex(description))],
      })) as bigint;
      return { proposalId: proposalId.toString(), txHash, description };
    },
  );

  app.post<{ Params: { id: string }; Body: { support: keyof typeof SUPPORT; reason?: string } }>(
    '/api/gov/proposals/:id/vote',
    {
      schema: {
        tags: ['governance'],
        summary: "Cast the signed-in account's vote (its delegated vOPEN at the proposal's snapshot)",
        security: [{ bearer: [] }],
        params: { type: 'object', properties: { id: PROPOSAL_ID } },
        body: {
          type: 'object',
          required: ['support'],
          properties: {
            support: { type: 'string', enum: ['for', 'against', 'abstain'] },
            reason: { type: 'string', maxLength: 2_000 },
          },
        },
        response: { 200: txResult },
      },
    },
    async (request) => {
      const account = ctx.auth.require(request) as Address;
      const { governor } = contractsOf(ctx);
      const p = await findProposal(ctx, request.params.id);
      const support = SUPPORT[request.body.support];
      const wallet = walletOf(ctx, account);
      const reason = request.body.reason;
      const txHash = await send('castVote', () =>
        reason
          ? writeContractAndWait(wallet, {
              address: governor,
              abi: openGovernorAbi,
              functionName: 'castVoteWithReason',
              args: [p.id, support, reason],
            })
          : writeContractAndWait(wallet, {
              address: governor,
              abi: openGovernorAbi,
              functionName: 'castVote',
              args: [p.id, support],
            }),
      );
      return { txHash, proposalId: p.id.toString(), state: (await describe(ctx, p)).state };
    },
  );

  for (const action of ['queue', 'execute'] as const) {
    app.post<{ Params: { id: string } }>(
      `/api/gov/proposals/:id/${action}`,
      {
        schema: {
          tags: ['governance'],
          summary:
            action === 'queue'
              ? 'Queue a succeeded proposal in the timelock'
              : 'Execute a queued proposal once the timelock delay has passed',
          security: [{ bearer: [] }],
          params: { type: 'object', properties: { id: PROPOSAL_ID } },
          response: { 200: txResult },
        },
      },
      async (request) => {
        const account = ctx.auth.require(request) as Address;
        const { governor } = contractsOf(ctx);
        const p = await findProposal(ctx, request.params.id);
        const wallet = walletOf(ctx, account);
        const descriptionHash = keccak256(toHex(p.description));
        const txHash = await send(action, () =>
          writeContractAndWait(wallet, {
            address: governor,
            abi: openGovernorAbi,
            functionName: action,
            args: [p.targets, p.values, p.calldatas, descriptionHash],
          }),
        );
        return { txHash, proposalId: p.id.toString(), state: (await describe(ctx, p)).state };
      },
    );
  }

  app.post<{ Body: { amount: string } }>(
    '/api/gov/delegate',
    {
      schema: {
        tags: ['governance'],
        summary:
          'Lock OPEN into vOPEN (approve + OpenVotes.depositFor) and delegate the votes to the signed-in account',
        security: [{ bearer: [] }],
        body: { type: 'object', required: ['amount'], properties: { amount: WEI } },
      },
    },
    async (request) => {
      const account = ctx.auth.require(request) as Address;
      const { votes, token } = contractsOf(ctx);
      const amount = parseWei(request.body.amount, 'amount');
      const wallet = walletOf(ctx, account);
      const balance = (await ctx.chain.publicClient.readContract({
        address: token,
        abi: openTokenAbi,
        functionName: 'balanceOf',
        args: [account],
      })) as bigint;
      if (balance < amount) {
        throw new OpenLedgerError(
          'insufficient_balance',
          `amount: ${account} holds only ${balance} wei of OPEN`,
          {
            field: 'amount',
          },
        );
      }
      const txs: Hex[] = [];
      txs.push(
        await send('approve', () =>
          writeContractAndWait(wallet, {
            address: token,
            abi: openTokenAbi,
            functionName: 'approve',
            args: [votes, amount],
          }),
        ),
      );
      txs.push(
        await send('depositFor', () =>
          writeContractAndWait(wallet, {
            address: votes,
            abi: openVotesAbi,
            functionName: 'depositFor',
            args: [account, amount],
          }),
        ),
      );
      txs.push(
        await send('delegate', () =>
          writeContractAndWait(wallet, {
            address: votes,
            abi: openVotesAbi,
            functionName: 'delegate',
            args: [account],
          }),
        ),
      );
      return { ...(await power(ctx, account)), txHashes: txs };
    },
  );

  app.get<{ Params: { address: string } }>(
    '/api/gov/power/:address',
    {
      schema: {
        tags: ['governance'],
        summary: "An address's voting power: delegated votes, vOPEN balance and its delegate",
        response: {
          200: {
            type: 'object',
            properties: {
              address: { type: 'string' },
              votes: { type: 'string' },
              balance: { type: 'string' },
              delegate: { type: 'string' },
            },
          },
        },
      },
    },
    async (request) => power(ctx, parseAddress(request.params.address)),
  );

  // staking sits beside governance in the API (the Studio's "Governance and staking" page)
  await stakingRoutes(app, ctx);
}

async function power(ctx: NodeContext, account: Address) {
  const { votes } = contractsOf(ctx);
  const client = ctx.chain.publicClient;
  const [v, balance, delegate] = await Promise.all([
    client.readContract({ address: votes, abi: openVotesAbi, functionName: 'getVotes', args: [account] }),
    client.readContract({ address: votes, abi: openVotesAbi, functionName: 'balanceOf', args: [account] }),
    client.readContract({ address: votes, abi: openVotesAbi, functionName: 'delegates', args: [account] }),
  ]);
  return {
    address: account,
    votes: (v as bigint).toString(),
    balance: (balance as bigint).toString(),
    delegate: delegate as string,
  };
}
