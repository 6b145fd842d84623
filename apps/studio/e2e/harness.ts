// Helpers for the Studio's browser tests: build the Studio when its sources changed, start the real
// node (`openledger start`) on a temp home and free ports, and drive Debian's Chromium.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const studioDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const repoDir = join(studioDir, '../..');
export const screenshotDir = join(studioDir, 'e2e/screenshots');

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const name of readdirSync(path)) max = Math.max(max, newestMtime(join(path, name)));
  return max;
}

/** Builds apps/studio/dist when it is missing or older than the sources (the node serves dist/). */
export function buildStudioIfStale(): void {
  const index = join(studioDir, 'dist/index.html');
  const sources = ['src', 'index.html', 'vite.config.ts', 'package.json'].map((p) => join(studioDir, p));
  const newest = Math.max(...sources.filter(existsSync).map(newestMtime));
  if (existsSync(index) && statSync(index).mtimeMs >= newest) return;
  const r = spawnSync('npm', ['run', 'build', '-w', '@openledger/studio'], {
    cwd: repoDir,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`Studio build failed:\n${(r.stdout ?? '') + (r.stderr ?? '')}`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RunningNode {
  url: string;
  home: string;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Spawns `node packages/node/bin/openledger.js start` and waits for "OpenLedger ready at <url>". */
export async function startNode(timeoutMs = 240_000): Promise<RunningNode> {
  const bin = join(repoDir, 'packages/node/bin/openledger.js');
  if (!existsSync(bin))
    throw new Error(`The node is missing: ${bin} does not exist (packages/node not written yet).`);
  const home = mkdtempSync(join(tmpdir(), 'openledger-e2e-'));
  const port = await freePort();
  const chainPort = await freePort();
  const child = spawn(process.execPath, [bin, 'start', '--chain-port', String(chainPort)], {
    cwd: repoDir,
    env: { ...process.env, OPENLEDGER_HOME: home, PORT: String(port), OPENLEDGER_DEMO: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so a stuck chain child can be killed with it
  });
  let out = '';
  const output = () => out;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`node not ready after ${timeoutMs / 1000} s; output:\n${out.slice(-4000)}`)),
      timeoutMs,
    );
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /OpenLedger ready at (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`node exited (${code ?? signal}) before it was ready; output:\n${out.slice(-4000)}`));
    });
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGINT');
    const grace = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000).unref());
    if ((await Promise.race([exited, grace])) === 'timeout' && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      await exited;
    }
    rmSync(home, { recursive: true, force: true });
  };
  return { url: url.replace(/\/$/, ''), home, child, output, stop };
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Chromium with a fresh profile directory (a persistent context is how Playwright takes one). */
export async function launchBrowser(
  width = 1280,
  height = 900,
): Promise<{ context: BrowserContext; userDataDir: string }> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'openledger-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    viewport: { width, height },
    acceptDownloads: true,
  });
  return { context, userDataDir };
}

export interface ConsoleProblem {
  kind: 'console' | 'pageerror' | 'missing-endpoint';
  text: string;
  url?: string;
  page: string;
}

/** Records console errors and uncaught exceptions. 404s of API routes are kept apart: they mean an
 * endpoint is not implemented, which the UI must show as a message rather than break on. */
export function watchConsole(page: Page, problems: ConsoleProblem[]): void {
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    const url = msg.location()?.url;
    const where = page.url();
    if (/Failed to load resource: .*status of 404/.test(text) && url && /\/(api|v1)\//.test(url))
      problems.push({ kind: 'missing-endpoint', text, url, page: where });
    else problems.push({ kind: 'console', text, url, page: where });
  });
  page.on('pageerror', (err) =>
    problems.push({ kind: 'pageerror', text: String(err?.stack ?? err), page: page.url() }),
  );
}

export async function shoot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Asks the node directly whether a route exists: a 404 "no route" means it is not implemented. */
export async function requireRoute(base: string, method: string, path: string, what: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: method === 'GET' ? {} : { 'content-type': 'application/json' },
      body: method === 'GET' ? undefined : '{}',
    });
  } catch (e) {
    throw new Error(`${what}: the node is unreachable (${(e as Error).message})`);
  }
  if (res.status === 404) {
    const body = await res.text();
    if (/no route/i.test(body))
      throw new Error(
        `${what}: API endpoint ${method} ${path} is not implemented on the node yet (404 no route).`,
      );
  }
}
