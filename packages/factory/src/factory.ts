import { type ChildProcess, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Datanets } from '@openledger/datanet';
import type { Store } from '@openledger/store';
import { BaseModelCatalog } from './base-models.ts';
import { writeAtomic } from './checkpoint.ts';
import { FactoryError } from './errors.ts';
import type { TrainingRow } from './examples.ts';
import { type Job, JobRepository } from './repository.ts';
import { type JobSpecInput, validateJobSpec } from './spec.ts';
import { JOB_FILES, type TrainProgress, type TrainResult } from './train-job.ts';

export interface FactoryOptions {
  home: string;
  store: Store;
  datanets: Datanets;
  catalog?: BaseModelCatalog;
  /** start the queue runner now (default true) */
  autoStart?: boolean;
  log?: (line: string) => void;
}

export type FactoryEvent =
  | { type: 'progress'; jobId: number; progress: TrainProgress }
  | { type: 'log'; jobId: number; line: string }
  | { type: 'status'; jobId: number; status: Job['status']; error?: string };

const childEntry = fileURLToPath(new URL('./child.ts', import.meta.url));
const tsxLoader = import.meta.resolve('tsx');

/**
 * ModelFactory's job queue. Jobs persist in SQLite with their inputs frozen in a job folder
 * (`<home>/jobs/<id>/`); one job trains at a time in a child process; a job left running by a crash
 * or restart resumes from its last checkpoint when the factory starts again.
 */
export class Factory {
  readonly catalog: BaseModelCatalog;
  readonly jobs: JobRepository;
  readonly #events = new EventEmitter();
  readonly #options: FactoryOptions;
  #child: { jobId: number; process: ChildProcess; cancelled: boolean } | undefined;
  #running = false;
  #stopped = false;

  constructor(options: FactoryOptions) {
    this.#options = options;
    this.catalog = options.catalog ?? new BaseModelCatalog(options.home);
    this.jobs = new JobRepository(options.store);
    this.#events.setMaxListeners(1000);
    // a factory that was not started queues jobs but runs none until start()
    this.#stopped = options.autoStart === false;
    if (!this.#stopped) this.start();
  }

  jobDir(id: number): string {
    return join(this.#options.home, 'jobs', String(id));
  }

  /**
   * Validates a job and freezes its inputs. Every datanet version must exist and be readable by
   * `actor` (permissioned datanets need access). Returns the queued job.
   */
  submit(actor: string, input: JobSpecInput): Job {
    const spec = validateJobSpec(input);
    const base = this.catalog.get(spec.baseModel);
    const rows: TrainingRow[] = [];
    spec.datanets.forEach((ref, i) => {
      let exported: ReturnType<Datanets['exportVersion']>;
      try {
        exported = this.#options.datanets.exportVersion(actor, ref.id, ref.version);
      } catch (error) {
        const e = error as { message?: string; status?: number; code?: string };
        throw new FactoryError(
          e.code ?? 'datanet_unavailable',
          `datanets[${i}]: ${e.message ?? String(error)}`,
          {
            status: e.status && e.status < 500 ? e.status : 400,
            field: `datanets[${i}]`,
          },
        );
      }
      for (const line of exported.lines) {
        const row = JSON.parse(line) as Record<string, unknown>;
        rows.push({ ...(row as object), datanetId: ref.id, version: ref.version } as TrainingRow);
      }
    });
    if (rows.length === 0) {
      throw new FactoryError('no_training_data', 'the chosen datanet versions hold no rows', {
        field: 'datanets',
      });
    }
    const data = `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
    const dataHash = `0x${createHash('sha256').update(data).digest('hex')}`;
    const job = this.jobs.insert(actor, spec, base.hash, dataHash);
    const dir = this.jobDir(job.id);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeAtomic(join(dir, JOB_FILES.data), data);
    writeAtomic(
      join(dir, JOB_FILES.spec),
      `${JSON.stringify({ ...spec, baseModelDir: base.dir }, null, 2)}\n`,
    );
    this.jobs.log(
      job.id,
      `queued: ${rows.length} rows from ${spec.datanets.map((d) => `${d.id}@v${d.version}`).join(', ')}`,
    );
    this.#kick();
    return job;
  }

  get(id: number): Job {
    const job = this.jobs.get(id);
    if (!job) throw new FactoryError('unknown_job', `job ${id} does not exist`, { status: 404, field: 'id' });
    return job;
  }

  cancel(actor: string, id: number): Job {
    const job = this.get(id);
    if (job.owner.toLowerCase() !== actor.toLowerCase()) {
      throw new FactoryError('forbidden', `only the job's owner ${job.owner} can cancel it`, { status: 403 });
    }
    if (job.status === 'queued') {
      this.jobs.finish(id, 'cancelled');
      this.#emit({ type: 'status', jobId: id, status: 'cancelled' });
    } else if (job.status === 'running' && this.#child?.jobId === id) {
      this.#child.cancelled = true;
      this.#child.process.send({ type: 'cancel' });
    } else if (job.status === 'running') {
      this.jobs.finish(id, 'cancelled');
    } else {
      throw new FactoryError('job_finished', `job ${id} is already ${job.status}`, { status: 409 });
    }
    return this.get(id);
  }

  /** Listens to one job's events (or all with jobId undefined); returns the unsubscribe function. */
  subscribe(jobId: number | undefined, listener: (event: FactoryEvent) => void): () => void {
    const wrapped = (event: FactoryEvent) => {
      if (jobId === undefined || event.jobId === jobId) listener(event);
    };
    this.#events.on('event', wrapped);
    return () => this.#events.off('event', wrapped);
  }

  /** Resolves when the job reaches a final state. */
  waitFor(id: number): Promise<Job> {
    return new Promise((resolve) => {
      const check = () => {
        const job = this.get(id);
        if (job.status === 'completed' || job.status === 'failed' || job.status === 'cancelled') {
          off();
          resolve(job);
        }
      };
      const off = this.subscribe(id, (e) => {
        if (e.type === 'status') check();
      });
      check();
    });
  }

  start(): void {
    this.#stopped = false;
    this.#kick();
  }

  /** Stops the runner; a running child is stopped and its job stays `running`, to resume later. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const child = this.#child;
    if (child) {
      const exited = new Promise((resolve) => child.process.once('exit', resolve));
      child.process.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
  }

  #emit(event: FactoryEvent): void {
    this.#events.emit('event', event);
  }

  #kick(): void {
    if (this.#running || this.#stopped) return;
    const next = this.jobs.nextRunnable();
    if (!next) return;
    this.#running = true;
    void this.#run(next).finally(() => {
      this.#running = false;
      this.#child = undefined;
      setImmediate(() => this.#kick());
    });
  }

  async #run(job: Job): Promise<void> {
    const dir = this.jobDir(job.id);
    if (!existsSync(join(dir, JOB_FILES.spec))) {
      this.jobs.finish(job.id, 'failed', { error: 'job folder is missing its inputs' });
      return;
    }
    if (existsSync(join(dir, JOB_FILES.result))) {
      // finished before a crash, but the finish was not recorded
      const result = JSON.parse(readFileSync(join(dir, JOB_FILES.result), 'utf8')) as TrainResult;
      this.jobs.finish(job.id, 'completed', { result });
      this.#emit({ type: 'status', jobId: job.id, status: 'completed' });
      return;
    }
    this.jobs.markRunning(job.id);
    this.#emit({ type: 'status', jobId: job.id, status: 'running' });
    const child = fork(childEntry, [dir], {
      execArgv: ['--import', tsxLoader],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, OPENLEDGER_TRAINING_CHILD: '1' },
    });
    const state = { jobId: job.id, process: child, cancelled: false };
    this.#child = state;
    let finished = false;
    await new Promise<void>((resolve) => {
      child.on(
        'message',
        (message: {
          type: string;
          progress?: TrainProgress;
          line?: string;
          result?: TrainResult;
          message?: string;
        }) => {
          if (message.type === 'progress' && message.progress) {
            this.jobs.setProgress(job.id, message.progress);
            this.#emit({ type: 'progress', jobId: job.id, progress: message.progress });
          } else if (message.type === 'log' && message.line) {
            this.jobs.log(job.id, message.line);
            this.#emit({ type: 'log', jobId: job.id, line: message.line });
            this.#options.log?.(`job ${job.id}: ${message.line}`);
          } else if (message.type === 'done' && message.result) {
            finished = true;
            this.jobs.finish(job.id, 'completed', { result: message.result });
            this.jobs.log(
              job.id,
              `completed: held-out loss ${fmt(message.result.before.loss)} → ${fmt(message.result.after.loss)}`,
            );
            this.#emit({ type: 'status', jobId: job.id, status: 'completed' });
          } else if (message.type === 'stopped') {
            finished = true;
            if (state.cancelled) {
              this.jobs.finish(job.id, 'cancelled');
              this.jobs.log(job.id, 'cancelled');
              this.#emit({ type: 'status', jobId: job.id, status: 'cancelled' });
            }
          } else if (message.type === 'error') {
            finished = true;
            this.jobs.finish(job.id, 'failed', { error: message.message });
            this.jobs.log(job.id, `failed: ${message.message}`);
            this.#emit({ type: 'status', jobId: job.id, status: 'failed', error: message.message });
          }
        },
      );
      child.on('exit', (code, signal) => {
        if (!finished && !this.#stopped) {
          const error = `training process exited (${signal ?? `code ${code}`}) before finishing`;
          this.jobs.finish(job.id, 'failed', { error });
          this.jobs.log(job.id, error);
          this.#emit({ type: 'status', jobId: job.id, status: 'failed', error });
        }
        resolve();
      });
    });
  }
}

function fmt(n: number): string {
  return Number.isFinite(n) ? n.toFixed(3) : String(n);
}
