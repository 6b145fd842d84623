import type { Command } from 'commander';
import { type ConnOpts, NodeClient, print, withConn } from './client.ts';

type Json = Record<string, unknown>;

export function registerRewardsCommands(program: Command): void {
  const rewards = program
    .command('rewards')
    .description("Contributors' rewards, settlement epochs and claims");

  withConn(
    rewards.command('show <address>').description("An address's rewards per epoch and its penalty score"),
  ).action(async (address: string, opts: ConnOpts, cmd: Command) => {
    const r = (await NodeClient.from(cmd, opts).request('GET', `/api/rewards/${address}`)) as {
      epochs: { epoch: number; amount: string; claimed: boolean; claimable: boolean }[];
    };
    print(opts, r, () => {
      if (r.epochs.length === 0) console.log('no rewards yet');
      for (const e of r.epochs) {
        console.log(
          `epoch ${e.epoch}: ${e.amount} wei ${e.claimed ? '(claimed)' : e.claimable ? '(claimable)' : '(challenge window open)'}`,
        );
      }
    });
  });

  withConn(rewards.command('claim <epoch>').description("Claim the signer's reward for an epoch")).action(
    async (epoch: string, opts: ConnOpts, cmd: Command) => {
      const r = (await NodeClient.from(cmd, opts).request(
        'POST',
        '/api/rewards/claim',
        { epoch: Number(epoch) },
        true,
      )) as Json;
      print(opts, r, () => console.log(`claimed ${r.amount} wei for ${r.account} (tx ${r.txHash})`));
    },
  );

  withConn(rewards.command('settle').description("Settle the current epoch with this node's settler")).action(
    async (opts: ConnOpts, cmd: Command) => {
      const r = (await NodeClient.from(cmd, opts).request('POST', '/api/epochs/settle', {}, true)) as Json;
      print(opts, r, () =>
        console.log(
          `epoch ${r.epoch} settled: root ${r.root}, ${r.total} wei to ${r.contributors} contributors`,
        ),
      );
    },
  );

  withConn(
    rewards
      .command('verify-epoch <epoch>')
      .description('Recompute an epoch root from its published receipts'),
  ).action(async (epoch: string, opts: ConnOpts, cmd: Command) => {
    const r = (await NodeClient.from(cmd, opts).request('GET', `/api/epochs/${epoch}/verify`)) as {
      ok: boolean;
    };
    print(opts, r, () =>
      console.log(r.ok ? `epoch ${epoch}: root verified` : `epoch ${epoch}: MISMATCH ${JSON.stringify(r)}`),
    );
    if (!r.ok) process.exitCode = 1;
  });

  withConn(
    rewards
      .command('challenge <epoch>')
      .description(
        "Recompute an epoch's root and, if it differs from the posted one, challenge it (bonds the governed challengeBond in OPEN)",
      ),
  ).action(async (epoch: string, opts: ConnOpts, cmd: Command) => {
    const r = (await NodeClient.from(cmd, opts).request(
      'POST',
      `/api/epochs/${epoch}/challenge`,
      {},
      true,
    )) as Json;
    print(opts, r, () =>
      console.log(`epoch ${epoch} challenged: evidence ${r.evidenceUri} (tx ${r.txHash})`),
    );
  });
}
