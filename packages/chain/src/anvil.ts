import { type ChildProcess, spawn } from 'node:child_process';
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  type WriteStream,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { DEV_MNEMONIC } from './accounts.ts';
import { LOCAL_CHAIN_ID } from './chains.ts';
import { ChainError } from './errors.ts';

export interface StartAnvilOptions {
  /**
   * Data directory (`$OPENLEDGER_HOME`): the chain is kept in `<home>/chain/state.json` and anvil's
   * log in `<home>/chain/anvil.log`. Without `home` or `statePath` the chain is in memory only.
   */
  home?: string;
  /** Explicit state file (overrides `home`). */
  statePath?: string;
  /** Also dump the state every this many seconds, so a crash loses at most that much. Default 5. */
  stateIntervalSeconds?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default: a free port chosen by the OS. */
  port?: number;
  /** Default 31337. */
  chainId?: number;
  /** Default: anvil's well-known TEST mnemonic ("test test … junk"); never for real funds. */
  mnemonic?: string;
  /** Seconds between blocks; default undefined = auto-mine one block per transaction. */
  blockTimeSeconds?: number;
  /** Give up if anvil does not answer within this time. Default 20 s. */
  startupTimeoutMs?: number;
  /** Path to the anvil binary; default: the one shipped by `@foundry-rs/anvil` on npm. */
  binary?: string;
  /** Extra command-line arguments. */
  extraArgs?: string[];
}

export interface AnvilHandle {
  rpcUrl: string;
  host: string;
  port: number;
  chainId: number;
  /** Where the chain is persisted, if anywhere. */
  statePath: string | undefined;
  pid: number;
  /** Stops anvil with SIGTERM (anvil dumps its state on the way out) and waits for it to exit. */
  stop(): Promise<void>;
  /** Resolves with the exit code when the process ends (for whatever reason). */
  exited: Promise<number | null>;
}

const require = createRequire(import.meta.url);

/** The anvil executable from the platform package that `@foundry-rs/anvil` installs. */
export function anvilBinaryPath(): string {
  const platform = process.platform;
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const exe = platform === 'win32' ? 'anvil.exe' : 'anvil';
  const pkg = `@foundry-rs/anvil-${platform}-${arch}`;
  try {
    const path = join(dirname(require.resolve(`${pkg}/package.json`)), 'bin', exe);
    if (existsSync(path)) return path;
  } catch {
    // fall through
  }
  throw new ChainError(
    'ANVIL_NOT_FOUND',
    `anvil binary not found: install @foundry-rs/anvil (needs ${pkg} for this platform) with npm install`,
  );
}

/** Resolves with a port the OS says is free on `host`. */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        reject(
          new ChainError(
            'PORT_IN_USE',
            `port ${port} on ${host} is already in use (another anvil or node?); stop it or choose another port`,
          ),
        );
      } else {
        reject(new ChainError('ANVIL_FAILED', `cannot listen on ${host}:${port}: ${error.message}`));
      }
    });
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

async function rpcAnswers(url: string): Promise<number | undefined> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1000),
    });
    const body = (await response.json()) as { result?: string };
    return body.result ? Number(body.result) : undefined;
  } catch {
    return undefined;
  }
}

function lastMeaningfulLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const error = lines.find((l) => /error|failed|invalid|panicked/i.test(l));
  return error ?? lines.at(-1) ?? '';
}

/**
 * Checks the state file before anvil loads it and keeps a copy of the last good one as
 * `<state>.bak`: a state dump interrupted by a crash would otherwise stop the chain from starting.
 */
function backUpState(statePath: string): void {
  if (!existsSync(statePath)) return;
  try {
    JSON.parse(readFileSync(statePath, 'utf8'));
  } catch {
    const backup = existsSync(`${statePath}.bak`) ? ` the last good copy is ${statePath}.bak;` : '';
    throw new ChainError(
      'ANVIL_FAILED',
      `chain state file ${statePath} is not valid JSON (interrupted write?);${backup} move it away to start a new chain`,
    );
  }
  copyFileSync(statePath, `${statePath}.bak`);
}

/**
 * Starts anvil (from npm) on 127.0.0.1 with auto-mining, chain id 31337 and the well-known test
 * mnemonic. With `home`, the chain survives restarts: anvil loads `<home>/chain/state.json` at start,
 * dumps it every `stateIntervalSeconds` and again on SIGINT/SIGTERM.
 */
export async function startAnvil(options: StartAnvilOptions = {}): Promise<AnvilHandle> {
  const host = options.host ?? '127.0.0.1';
  const chainId = options.chainId ?? LOCAL_CHAIN_ID;
  const binary = options.binary ?? anvilBinaryPath();
  const statePath =
    options.statePath ?? (options.home ? join(options.home, 'chain', 'state.json') : undefined);
  const logPath = options.home ? join(options.home, 'chain', 'anvil.log') : undefined;
  let port = options.port;
  if (port === undefined) port = await findFreePort(host);
  else await assertPortFree(host, port);

  const args = [
    '--host',
    host,
    '--port',
    String(port),
    '--chain-id',
    String(chainId),
    '--mnemonic',
    options.mnemonic ?? DEV_MNEMONIC,
  ];
  if (options.blockTimeSeconds !== undefined) args.push('--block-time', String(options.blockTimeSeconds));
  if (statePath) {
    mkdirSync(dirname(statePath), { recursive: true });
    backUpState(statePath);
    args.push('--state', statePath, '--state-interval', String(options.stateIntervalSeconds ?? 5));
  }
  args.push(...(options.extraArgs ?? []));

  let log: WriteStream | undefined;
  if (logPath) {
    mkdirSync(dirname(logPath), { recursive: true });
    log = createWriteStream(logPath, { flags: 'a' });
  }

  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let recent = '';
  const remember = (chunk: Buffer) => {
    recent = (recent + chunk.toString()).slice(-4000);
    log?.write(chunk);
  };
  child.stdout?.on('data', remember);
  child.stderr?.on('data', remember);

  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      log?.end();
      resolve(code);
    });
  });
  const spawnFailed = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(new ChainError('ANVIL_FAILED', `cannot start anvil (${binary}): ${error.message}`)),
    );
  });
  // Make sure a parent that exits normally never leaves anvil running. SIGTERM lets anvil dump state.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);

  const rpcUrl = `http://${host}:${port}`;
  const deadline = Date.now() + (options.startupTimeoutMs ?? 20_000);
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });

  try {
    await Promise.race([
      spawnFailed,
      (async () => {
        while (true) {
          if (exitCode !== undefined) {
            const why = lastMeaningfulLine(recent);
            if (/address already in use/i.test(recent)) {
              throw new ChainError(
                'PORT_IN_USE',
                `port ${port} on ${host} is already in use; choose another port`,
              );
            }
            throw new ChainError('ANVIL_FAILED', `anvil exited with code ${exitCode} at start: ${why}`);
          }
          const answered = await rpcAnswers(rpcUrl);
          if (answered !== undefined) {
            if (answered !== chainId) {
              throw new ChainError(
                'WRONG_CHAIN',
                `anvil on ${rpcUrl} reports chain id ${answered}, expected ${chainId} (state file from another chain?)`,
              );
            }
            return;
          }
          if (Date.now() > deadline) {
            throw new ChainError(
              'ANVIL_FAILED',
              `anvil did not answer on ${rpcUrl} within the startup timeout`,
            );
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      })(),
    ]);
  } catch (error) {
    process.removeListener('exit', killOnExit);
    if (exitCode === undefined) {
      child.kill('SIGKILL');
      await exited;
    }
    throw error;
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (exitCode !== undefined) return;
      child.kill('SIGTERM');
      // anvil writes the state file on the way out; give it time before forcing.
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };

  return { rpcUrl, host, port, chainId, statePath, pid: child.pid ?? -1, stop, exited };
}
