import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { OpenLedgerError } from '../errors.ts';
import { type ConnOpts, NodeClient, print, withConn } from './client.ts';

type Json = Record<string, unknown>;

function parseDatanets(value: string): { id: number; version: number }[] {
  return value.split(',').map((part) => {
    const m = /^(\d+)@v?(\d+)$/.exec(part.trim());
    if (!m)
      throw new OpenLedgerError('invalid_datanets', `--datanets: "${part}" is not <id>@<version>, e.g. 1@2`, {
        field: 'datanets',
      });
    return { id: Number(m[1]), version: Number(m[2]) };
  });
}

function bar(progress: Json): string {
  const step = Number(progress.step ?? 0);
  const total = Math.max(1, Number(progress.totalSteps ?? 1));
  const width = 30;
  const filled = Math.round((step / total) * width);
  const loss = typeof progress.loss === 'number' ? progress.loss.toFixed(3) : '-';
  const eta = typeof progress.etaSeconds === 'number' ? `${Math.round(progress.etaSeconds)}s` : '-';
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${step}/${total} loss ${loss} eta ${eta}`;
}

/** Follows a job's progress over Server-Sent Events, drawing a progress bar, until it ends. */
async function follow(client: NodeClient, jobId: number): Promise<Json> {
  const res = await fetch(`${client.url}/api/factory/jobs/${jobId}/events`);
  if (!res.ok || !res.body) throw new OpenLedgerError('http_error', `events: HTTP ${res.status}`);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut = buffer.indexOf('\n\n');
    while (cut >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      cut = buffer.indexOf('\n\n');
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!event || !data) continue;
      if (event === 'progress' && process.stderr.isTTY) process.stderr.write(`\r${bar(JSON.parse(data))}`);
      else if (event === 'progress') process.stderr.write(`${bar(JSON.parse(data))}\n`);
      if (event === 'done') {
        if (process.stderr.isTTY) process.stderr.write('\n');
        return JSON.parse(data);
      }
    }
  }
  return (await client.request('GET', `/api/factory/jobs/${jobId}`)) as Json;
}

export function registerFactoryCommands(program: Command): void {
  const factory = program
    .command('factory')
    .description('ModelFactory: fine-tune LoRA adapters from datanet versions');

  withConn(
    factory
      .command('train')
      .description('Queue a fine-tuning job and follow its progress')
      .requiredOption('--datanets <list>', 'datanet versions, e.g. 1@1,2@3')
      .option('--base <model>', 'base model id', 'openledger-base')
      .option('--template <t>', 'completion | instruction | classification', 'completion')
      .option('--epochs <n>', 'epochs')
      .option('--lr <rate>', 'learning rate')
      .option('--batch-size <n>', 'batch size')
      .option('--rank <r>', 'LoRA rank')
      .option('--max-seq-len <n>', 'longest training sequence')
      .option('--name <name>', 'adapter name')
      .option('--no-follow', 'return once queued'),
  ).action(async (opts: ConnOpts & Record<string, string | boolean | undefined>, cmd: Command) => {
    const client = NodeClient.from(cmd, opts);
    const hp: Json = {};
    for (const [flag, key] of [
      ['epochs', 'epochs'],
      ['lr', 'learningRate'],
      ['batchSize', 'batchSize'],
      ['rank', 'loraRank'],
      ['maxSeqLen', 'maxSeqLen'],
    ] as const) {
      if (opts[flag] !== undefined) hp[key] = Number(opts[flag]);
    }
    const job = (await client.request(
      'POST',
      '/api/factory/jobs',
      {
        baseModel: opts.base,
        datanets: parseDatanets(String(opts.datanets)),
        template: opts.template,
        hyperparameters: hp,
        name: opts.name,
      },
      true,
    )) as Json;
    if (!opts.follow) return print(opts, job, () => console.log(`job ${job.id} queued`));
    const done = await follow(client, Number(job.id));
    print(opts, done, () => {
      const result = done.result as { before: { loss: number }; after: { loss: number } } | null;
      console.log(
        `job ${done.id}: ${done.status}${result ? ` — held-out loss ${result.before.loss.toFixed(3)} → ${result.after.loss.toFixed(3)}` : ''}`,
      );
      if (done.error) console.log(`error: ${done.error}`);
    });
  });

  withConn(factory.command('jobs').description('List training jobs')).action(
    async (opts: ConnOpts, cmd: Command) => {
      const jobs = (await NodeClient.from(cmd, opts).request('GET', '/api/factory/jobs')) as Json[];
      print(opts, jobs, () => {
        for (const j of jobs)
          console.log(
            `${String(j.id).padStart(4)}  ${String(j.status).padEnd(10)} ${j.owner}  model ${j.modelId ?? '-'}`,
          );
      });
    },
  );

  withConn(factory.command('status <job>').description("A job's progress, result and recent logs")).action(
    async (job: string, opts: ConnOpts, cmd: Command) => {
      const j = (await NodeClient.from(cmd, opts).request('GET', `/api/factory/jobs/${job}`)) as Json;
      print(opts, j, () => {
        console.log(`job ${j.id}: ${j.status}`);
        if (j.progress) console.log(bar(j.progress as Json));
        for (const l of (j.logs as { line: string }[]).slice(-10)) console.log(`  ${l.line}`);
      });
    },
  );

  withConn(factory.command('cancel <job>').description('Cancel a queued or running job')).action(
    async (job: string, opts: ConnOpts, cmd: Command) => {
      const j = (await NodeClient.from(cmd, opts).request(
        'POST',
        `/api/factory/jobs/${job}/cancel`,
        {},
        true,
      )) as Json;
      print(opts, j, () => console.log(`job ${j.id}: ${j.status}`));
    },
  );

  withConn(
    factory.command('eval <job>').description('Held-out loss and perplexity before vs after, and samples'),
  ).action(async (job: string, opts: ConnOpts, cmd: Command) => {
    const e = (await NodeClient.from(cmd, opts).request('GET', `/api/factory/jobs/${job}/eval`)) as {
      before: { loss: number; perplexity: number; accuracy?: number };
      after: { loss: number; perplexity: number; accuracy?: number };
      samples: { prompt: string; before: string; after: string }[];
    };
    print(opts, e, () => {
      console.log(`held-out loss ${e.before.loss.toFixed(3)} → ${e.after.loss.toFixed(3)}`);
      console.log(`perplexity    ${e.before.perplexity.toFixed(1)} → ${e.after.perplexity.toFixed(1)}`);
      if (e.after.accuracy !== undefined)
        console.log(`accuracy      ${e.before.accuracy} → ${e.after.accuracy}`);
      for (const s of e.samples) console.log(`\n> ${s.prompt}\n  before: ${s.before}\n  after:  ${s.after}`);
    });
  });

  withConn(factory.command('chat <job> <prompt>').description('Try a finished adapter (owner only)')).action(
    async (job: string, prompt: string, opts: ConnOpts, cmd: Command) => {
      const r = (await NodeClient.from(cmd, opts).request(
        'POST',
        `/api/factory/jobs/${job}/chat`,
        { prompt },
        true,
      )) as Json;
      print(opts, r, () => console.log(r.text));
    },
  );

  withConn(
    factory
      .command('publish <job>')
      .description('Register a finished adapter on-chain with its lineage and price')
      .requiredOption('--price-in <wei>', 'wei of OPEN per 1,000 input tokens')
      .requiredOption('--price-out <wei>', 'wei of OPEN per 1,000 output tokens'),
  ).action(async (job: string, opts: ConnOpts & { priceIn: string; priceOut: string }, cmd: Command) => {
    const r = (await NodeClient.from(cmd, opts).request(
      'POST',
      `/api/factory/jobs/${job}/publish`,
      { pricePerKInput: opts.priceIn, pricePerKOutput: opts.priceOut },
      true,
    )) as Json;
    print(opts, r, () => console.log(`published as model-${r.modelId} (tx ${r.txHash})`));
  });

  withConn(
    factory
      .command('export <job>')
      .description('Download the adapter: peft | peft-config | gguf-lora | merged')
      .requiredOption('--format <f>', 'peft | peft-config | gguf-lora | merged')
      .requiredOption('--out <file>', 'output file'),
  ).action(async (job: string, opts: ConnOpts & { format: string; out: string }, cmd: Command) => {
    const client = NodeClient.from(cmd, opts);
    const res = await fetch(`${client.url}/api/factory/jobs/${job}/export/${opts.format}`);
    if (!res.ok)
      throw new OpenLedgerError('http_error', `export: ${(await res.text()).slice(0, 200)}`, {
        status: res.status,
      });
    writeFileSync(opts.out, Buffer.from(await res.arrayBuffer()));
    console.log(`wrote ${opts.out}`);
  });
}
