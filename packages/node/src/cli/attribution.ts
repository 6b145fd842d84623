import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { OpenLedgerError } from '../errors.ts';
import { type ConnOpts, NodeClient, print, withConn } from './client.ts';

export function registerAttributionCommands(program: Command): void {
  const attribution = program.command('attribution').description('Proof of Attribution receipts');

  withConn(
    attribution
      .command('query <receiptId>')
      .description('Show a receipt: contributors, weights and matched spans'),
  ).action(async (id: string, opts: ConnOpts, cmd: Command) => {
    const r = (await NodeClient.from(cmd, opts).request('GET', `/api/attribution/receipts/${id}`)) as {
      receipt: {
        method: string;
        contributors: { address: string; weight: number }[];
        spans: { text?: string; rowIds: string[] }[];
      };
      output: string;
    };
    print(opts, r, () => {
      console.log(`method ${r.receipt.method}\n${r.output}\n`);
      for (const c of r.receipt.contributors) console.log(`${c.address}  ${(c.weight * 100).toFixed(1)}%`);
      for (const s of r.receipt.spans) console.log(`span "${s.text ?? ''}" in ${s.rowIds.length} row(s)`);
    });
  });

  withConn(
    attribution
      .command('verify <file>')
      .description('Recompute a receipt (JSON file) and compare; a tampered one fails'),
  ).action(async (file: string, opts: ConnOpts, cmd: Command) => {
    let receipt: unknown;
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { receipt?: unknown };
      receipt = parsed.receipt ?? parsed;
    } catch (error) {
      throw new OpenLedgerError(
        'invalid_receipt',
        `${file}: not a JSON receipt (${(error as Error).message})`,
        { field: 'file' },
      );
    }
    const r = (await NodeClient.from(cmd, opts).request('POST', '/api/attribution/verify', { receipt })) as {
      ok: boolean;
      reason?: string;
    };
    print(opts, r, () => console.log(r.ok ? 'receipt verified' : `receipt FAILED: ${r.reason}`));
    if (!r.ok) process.exitCode = 1;
  });
}
