import { createWriteStream, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { verifyRowProof } from '@openledger/datanet';
import type { Command } from 'commander';
import { OpenLedgerError } from '../errors.ts';

import { type ConnOpts, NodeClient, print, wantsSignIn, withConn } from './client.ts';

type Json = Record<string, unknown>;

export function registerDatanetCommands(program: Command): void {
  const dn = program
    .command('datanet')
    .description('Datanets: create, contribute, review, publish versions on-chain, export, prove rows');

  withConn(dn.command('create'))
    .description('Create a datanet; you become its owner')
    .requiredOption('--name <name>', 'name (≤ 80 characters)')
    .requiredOption('--license <spdx>', 'license of the data, e.g. CC-BY-4.0')
    .option('--summary <text>', 'one-line summary')
    .option('--description <markdown>', 'Markdown description (or @file.md)')
    .option('--tags <a,b,c>', 'comma-separated tags')
    .option('--visibility <v>', 'public | permissioned', 'public')
    .option('--policy <p>', 'who may contribute: open | allowlist | owner', 'open')
    .option('--schema <s>', 'row schema: text | prompt_completion | text_label', 'text')
    .action(async (opts: ConnOpts & Record<string, string>, cmd: Command) => {
      const client = NodeClient.from(cmd, opts);
      const description = opts.description?.startsWith('@')
        ? readFileSync(opts.description.slice(1), 'utf8')
        : opts.description;
      const d = (await client.request(
        'POST',
        '/api/datanets',
        {
          name: opts.name,
          license: opts.license,
          summary: opts.summary,
          description,
          tags: opts.tags
            ? opts.tags
                .split(',')
                .map((t) => t.trim())
                .filter(Boolean)
            : undefined,
          visibility: opts.visibility,
          policy: opts.policy,
          schema: opts.schema,
        },
        true,
      )) as Json;
      print(opts, d, () => console.log(`created datanet ${d.id} "${d.name}" (owner ${d.owner})`));
    });

  withConn(dn.command('list'))
    .description('Datanets you can see')
    .option('--owner <address>', 'only those owned by this address')
    .option('--tag <tag>', 'only those with this tag')
    .action(async (opts: ConnOpts & { owner?: string; tag?: string }, cmd: Command) => {
      const client = NodeClient.from(cmd, opts);
      const q = new URLSearchParams();
      if (opts.owner) q.set('owner', opts.owner);
      if (opts.tag) q.set('tag', opts.tag);
      const res = (await client.read(`/api/datanets?${q}`, wantsSignIn(opts))) as { datanets: Json[] };
      print(opts, res.datanets, () => {
        if (res.datanets.length === 0) console.log('no datanets');
        for (const d of res.datanets) {
          console.log(
            `${String(d.id).padStart(4)}  ${String(d.name).padEnd(32)} ${String(d.visibility).padEnd(12)} ` +
              `${d.approvedCount} approved / ${d.pendingCount} pending, ${d.versionCount} versions`,
          );
        }
      });
    });

  withConn(dn.command('show <id>'))
    .description('A datanet: metadata, counts, latest version')
    .action(async (id: string, opts: ConnOpts, cmd: Command) => {
      const client = NodeClient.from(cmd, opts);
      const d = (await client.read(`/api/datanets/${encodeURIComponent(id)}`, wantsSignIn(opts))) as Json;
      print(opts, d, () => {
        for (const k of [
          'id',
          'name',
          'summary',
          'owner',
          'license',
          'visibility',
          'policy',
          'schema',
          'tags',
        ]) {
          console.log(
            `${k.padEnd(14)} ${Array.isArray(d[k]) ? (d[k] as string[]).join(', ') : String(d[k])}`,
          );
        }
        console.log(
          `${'rows'.padEnd(14)} ${d.approvedCount} approved, ${d.pendingCount} pending, ${d.rowCount} total`,
        );
        console.log(
          `${'versions'.padEnd(14)} ${d.versionCount}${d.latestRoot ? ` (latest root ${d.latestRoot})` : ''}`,
        );
        if (d.description) console.log(`\n${d.description}`);
      });
    });

  withConn(dn.command('contribute <id> <file>'))
    .description(
      'Contribute a .txt .md .jsonl .csv or .pdf file (UTF-8, ≤ 5 MB); prints what happened to each row',
    )
    .action(async (id: string, file: string, opts: ConnOpts, cmd: Command) => {
      const client = NodeClient.from(cmd, opts);
      const bytes = readFileSync(file);
      const res = (await client.request(
        'POST',
        `/api/datanets/${encodeURIComponent(id)}/contributions?filename=${encodeURIComponent(basename(file))}`,
        undefined,
        true,
        { bytes },
      )) as {
        contribution: Json;
        rows: { source: string; rowId: string | null; accepted: boolean; problems: { message: string }[] }[];
      };
      print(opts, res, () => {
        const c = res.contribution;
        console.log(
          `contribution ${c.id}: ${c.rowsAccepted} rows accepted (pending review), ${c.rowsRejected} refused`,
        );
        for (const r of res.rows) {
          if (!r.accepted) console.log(`  refused ${r.problems.map((p) => p.message).join('; ')}`);
        }
      });
    });

  withConn(dn.command('review <id> [rowIds...]'))
    .description(
      'Approve or reject pending rows (owner or reviewers); without row ids, lists the pending ones',
    )
    .option('--approve', 'approve the rows')
    .option('--reject', 'reject the rows (needs --reason)')
    .option('--reason <text>', 'reason, shown to the contributor')
    .option('--all', 'act on every pending row (up to 10,000)')
    .option('--contribution <n>', 'with --all: only rows of this contribution')
    .action(
      async (
        id: string,
        rowIds: string[],
        opts: ConnOpts & {
          approve?: boolean;
          reject?: boolean;
          reason?: string;
          all?: boolean;
          contribution?: string;
        },
        cmd: Command,
      ) => {
        const client = NodeClient.from(cmd, opts);
        const path = `/api/datanets/${encodeURIComponent(id)}`;
        if (opts.all) {
          const q = opts.contribution ? `?contributionId=${encodeURIComponent(opts.contribution)}` : '';
          rowIds = (
            (await client.request('GET', `${path}/pending${q}`, undefined, true)) as { rowIds: string[] }
          ).rowIds;
        }
        if (!opts.approve && !opts.reject) {
          const pending = (await client.request(
            'GET',
            `${path}/rows?status=pending&limit=200`,
            undefined,
            true,
          )) as {
            rows: { id: string; contributor: string; fields: Record<string, string> }[];
          };
          print(opts, pending.rows, () => {
            if (pending.rows.length === 0) console.log('no pending rows');
            for (const r of pending.rows) {
              console.log(
                `${r.id}  ${r.contributor}  ${Object.values(r.fields).join(' | ').replace(/\s+/g, ' ').slice(0, 80)}`,
              );
            }
          });
          return;
        }
        if (opts.approve && opts.reject) {
          throw new OpenLedgerError('invalid_request', 'give --approve or --reject, not both', {
            field: 'decision',
          });
        }
        if (rowIds.length === 0) {
          print(opts, { approved: 0, rejected: 0 }, () => console.log('no rows to review'));
          return;
        }
        const res = (await client.request(
          'POST',
          `${path}/review`,
          { rowIds, decision: opts.approve ? 'approve' : 'reject', reason: opts.reason },
          true,
        )) as Json;
        print(opts, res, () => console.log(`${res.approved} approved, ${res.rejected} rejected`));
      },
    );

  withConn(dn.command('publish <id>'))
    .description('Publish a version of all approved rows: Merkle root on-chain, contributions recorded')
    .action(async (id: string, opts: ConnOpts, cmd: Command) => {
      const client = NodeClient.from(cmd, opts);
      const v = (await client.request(
        'POST',
        `/api/datanets/${encodeURIComponent(id)}/publish`,
        undefined,
        true,
      )) as Json;
      print(opts, v, () =>
        console.log(
          `published version ${v.version} of datanet ${v.datanetId}: ${v.rowCount} rows, root ${v.root}`,
        ),
      );
    });

  withConn(dn.command('versions <id>'))
    .description('Version history')
    .option('--diff <a..b>', 'rows added between two versions, e.g. 1..2')
    .action(async (id: string, opts: ConnOpts & { diff?: string }, cmd: Command) => {
      const client = NodeClient.from(cmd, opts);
      const path = `/api/datanets/${encodeURIComponent(id)}`;
      if (opts.diff) {
        const m = /^(\d+)\.\.(\d+)$/.exec(opts.diff);
        if (!m)
          throw new OpenLedgerError('invalid_request', '--diff: expected A..B, e.g. 1..2', { field: 'diff' });
        const d = (await client.read(
          `${path}/versions/${m[2]}/diff?from=${m[1]}`,
          wantsSignIn(opts),
        )) as Json;
        print(opts, d, () => console.log(`v${d.from} → v${d.to}: ${d.added} added, ${d.removed} removed`));
        return;
      }
      const res = (await client.read(`${path}/versions`, wantsSignIn(opts))) as { versions: Json[] };
      print(opts, res.versions, () => {
        if (res.versions.length === 0) console.log('no versions yet');
        for (const v of res.versions) {
          console.log(`v${v.version}  ${String(v.rowCount).padStart(8)} rows  ${v.root}  ${v.publishedAt}`);
        }
      });
    });

  withConn(dn.command('export <id> [version]'))
    .description('Export a version (default: latest) as JSONL training records {id, contributor, ...fields}')
    .option('-o, --out <file>', 'write to a file instead of standard output')
    .action(
      async (id: string, version: string | undefined, opts: ConnOpts & { out?: string }, cmd: Command) => {
        const client = NodeClient.from(cmd, opts);
        const path = `/api/datanets/${encodeURIComponent(id)}`;
        let v = version;
        if (!v) {
          const d = (await client.read(path, wantsSignIn(opts))) as Json;
          if (!d.latestVersion)
            throw new OpenLedgerError('unknown_version', `datanet ${id} has no published version`, {
              status: 404,
            });
          v = String(d.latestVersion);
        }
        const headers: Record<string, string> = {};
        if (wantsSignIn(opts)) headers.authorization = `Bearer ${await client.signIn()}`;
        const res = await fetch(`${client.url}${path}/versions/${encodeURIComponent(v)}/export`, { headers });
        if (!res.ok || !res.body) {
          const e = ((await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } })
            .error;
          throw new OpenLedgerError(
            e?.code ?? 'http_error',
            e?.message ?? `export failed: HTTP ${res.status}`,
            { status: res.status },
          );
        }
        const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
        if (opts.out) {
          await pipeline(body, createWriteStream(opts.out));
          console.error(`wrote datanet ${id} v${v} to ${opts.out}`);
        } else await pipeline(body, process.stdout);
      },
    );

  withConn(dn.command('prove <rowId>'))
    .description("Print a row's Merkle proof against the on-chain root of its version, and verify it")
    .option('--datanet <id>', 'datanet id (found from the row id when omitted)')
    .option('--version <n>', 'version (default: the latest)')
    .action(async (rowId: string, opts: ConnOpts & { datanet?: string; version?: string }, cmd: Command) => {
      const client = NodeClient.from(cmd, opts);
      const q = opts.version ? `?version=${encodeURIComponent(opts.version)}` : '';
      const path = opts.datanet
        ? `/api/datanets/${encodeURIComponent(opts.datanet)}/rows/${encodeURIComponent(rowId)}/proof${q}`
        : `/api/rows/${encodeURIComponent(rowId)}/proof${q}`;
      const p = (await client.read(path, wantsSignIn(opts))) as Parameters<typeof verifyRowProof>[0] & {
        onchainRoot: `0x${string}` | null;
      };
      // verified here again, locally, against the root the chain reports
      const root = p.onchainRoot ?? p.root;
      const valid = verifyRowProof(p, { root });
      print(opts, { ...p, valid }, () => {
        console.log(`datanet ${p.datanetId} version ${p.version}`);
        console.log(`row          ${p.rowId}`);
        console.log(`contributor  ${p.contributor}`);
        console.log(`contentHash  ${p.contentHash}`);
        console.log(`leaf         ${p.leaf}`);
        console.log(`root         ${p.root}`);
        console.log(`on-chain     ${p.onchainRoot ?? '(not readable)'}`);
        console.log(`proof        ${p.proof.length} sibling hashes`);
        for (const h of p.proof) console.log(`  ${h}`);
        console.log(valid ? 'VALID: the proof verifies against the on-chain root' : 'INVALID');
      });
      if (!valid) process.exitCode = 1;
    });
}
