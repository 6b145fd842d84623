import type { Command } from 'commander';
import { OpenLedgerError } from '../errors.ts';
import { type ConnOpts, NodeClient, print, withConn } from './client.ts';

type Json = Record<string, unknown>;

interface Proposal {
  id: string;
  proposer: string;
  description: string;
  state: string;
  votes: { for: string; against: string; abstain: string };
  eta?: number;
  voteStart: number;
  voteEnd: number;
}

const SUPPORT = ['for', 'against', 'abstain'];

const line = (p: Proposal) =>
  `${p.id}  ${p.state.padEnd(9)} for ${p.votes.for} / against ${p.votes.against} / abstain ${p.votes.abstain} wei  ${p.description}`;

/** `--shares owner,stakers,contributors` in basis points, e.g. `2500,1000,6500`. */
function parseShares(s: string) {
  const parts = s.split(',').map((x) => x.trim());
  if (parts.length !== 3 || parts.some((x) => !/^[0-9]+$/.test(x))) {
    throw new OpenLedgerError('invalid_value', '--shares must be ownerBps,stakersBps,contributorsBps', {
      field: 'shares',
    });
  }
  return { ownerBps: Number(parts[0]), stakersBps: Number(parts[1]), contributorsBps: Number(parts[2]) };
}

export function registerGovCommands(program: Command): void {
  const gov = program
    .command('gov')
    .description(
      'Governance of the protocol parameters: vOPEN voting power, proposals, votes, timelock queue and execution',
    );

  withConn(
    gov
      .command('propose [parameter] [value]')
      .description(
        'Propose ProtocolParams.setParams with one parameter changed (e.g. `platformFee 2000000000000000`); ' +
          'fee shares change together with --shares owner,stakers,contributors (bps summing to 10000)',
      )
      .option('--shares <bps>', 'ownerBps,stakersBps,contributorsBps, e.g. 2500,1000,6500')
      .option('-d, --description <text>', 'proposal description (default: a summary of the change)'),
  ).action(
    async (
      parameter: string | undefined,
      value: string | undefined,
      opts: ConnOpts & { shares?: string; description?: string },
      cmd: Command,
    ) => {
      let body: Json;
      if (opts.shares) body = { parameter: 'shares', value: parseShares(opts.shares) };
      else if (parameter && value !== undefined) body = { parameter, value };
      else {
        throw new OpenLedgerError('missing_argument', 'give <parameter> <value>, or --shares', {
          field: 'parameter',
        });
      }
      if (opts.description) body.description = opts.description;
      const r = (await NodeClient.from(cmd, opts).request('POST', '/api/gov/proposals', body, true)) as Json;
      print(opts, r, () =>
        console.log(`proposal ${r.proposalId} created: ${r.description} (tx ${r.txHash})`),
      );
    },
  );

  withConn(
    gov
      .command('vote <id> <support>')
      .description("Vote for|against|abstain on a proposal with the signer's delegated vOPEN")
      .option('--reason <text>', 'a reason recorded with the vote'),
  ).action(async (id: string, support: string, opts: ConnOpts & { reason?: string }, cmd: Command) => {
    if (!SUPPORT.includes(support)) {
      throw new OpenLedgerError('invalid_support', 'support must be for, against or abstain', {
        field: 'support',
      });
    }
    const r = (await NodeClient.from(cmd, opts).request(
      'POST',
      `/api/gov/proposals/${id}/vote`,
      { support, ...(opts.reason ? { reason: opts.reason } : {}) },
      true,
    )) as Json;
    print(opts, r, () => console.log(`voted ${support} on ${id}: now ${r.state} (tx ${r.txHash})`));
  });

  for (const action of ['queue', 'execute'] as const) {
    withConn(
      gov
        .command(`${action} <id>`)
        .description(
          action === 'queue'
            ? 'Queue a succeeded proposal in the timelock'
            : 'Execute a queued proposal after the timelock delay (the change applies from the next epoch)',
        ),
    ).action(async (id: string, opts: ConnOpts, cmd: Command) => {
      const r = (await NodeClient.from(cmd, opts).request(
        'POST',
        `/api/gov/proposals/${id}/${action}`,
        {},
        true,
      )) as Json;
      print(opts, r, () => console.log(`${action}d ${id}: now ${r.state} (tx ${r.txHash})`));
    });
  }

  withConn(
    gov.command('status [id]').description('List the proposals with their state and votes, or show one'),
  ).action(async (id: string | undefined, opts: ConnOpts, cmd: Command) => {
    const client = NodeClient.from(cmd, opts);
    if (id) {
      const p = (await client.request('GET', `/api/gov/proposals/${id}`)) as Proposal;
      print(opts, p, () => {
        console.log(line(p));
        console.log(
          `  proposer ${p.proposer}; voting ${p.voteStart} → ${p.voteEnd}${p.eta ? `; eta ${p.eta}` : ''}`,
        );
      });
      return;
    }
    const list = (await client.request('GET', '/api/gov/proposals')) as Proposal[];
    print(opts, list, () => {
      if (list.length === 0) console.log('no proposals yet');
      for (const p of list) console.log(line(p));
    });
  });

  withConn(
    gov
      .command('delegate <amount>')
      .description("Lock <amount> wei of the signer's OPEN into vOPEN and delegate the votes to itself"),
  ).action(async (amount: string, opts: ConnOpts, cmd: Command) => {
    const r = (await NodeClient.from(cmd, opts).request(
      'POST',
      '/api/gov/delegate',
      { amount },
      true,
    )) as Json;
    print(opts, r, () => console.log(`${r.address}: ${r.votes} wei of votes (${r.balance} wei vOPEN)`));
  });

  withConn(gov.command('power <address>').description("An address's voting power and delegate")).action(
    async (address: string, opts: ConnOpts, cmd: Command) => {
      const r = (await NodeClient.from(cmd, opts).request('GET', `/api/gov/power/${address}`)) as Json;
      print(opts, r, () => console.log(`${r.address}: ${r.votes} wei of votes, delegate ${r.delegate}`));
    },
  );
}
