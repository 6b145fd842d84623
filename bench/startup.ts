/**
 * bench:startup — how long `npm start` takes to be ready, and how fast the Studio's pages load (issue 9).
 *
 * One run, everything measured on this machine in this run:
 *  1. first run: spawn `npm start` on a fresh temp OPENLEDGER_HOME (anvil start, contract deployment,
 *     local bootstrap transactions) and time until it prints `OpenLedger ready at <url>`;
 *  2. warm restart: stop it like Ctrl-C (SIGINT to its process group), wait for the exit, and start
 *     it again on the same home; time until ready again. Both with OPENLEDGER_DEMO=0, a free PORT and
 *     a free OPENLEDGER_CHAIN_PORT. Whether apps/studio/dist existed beforehand is reported (if it is
 *     missing the node builds it during the first start, which then dominates the first-run time);
 *  3. with the warm node up: each Studio page loaded in Debian's Chromium (playwright-core), ROUNDS
 *     rounds, median. Each load is a new tab with the HTTP cache disabled (a first visit), times in ms
 *     from navigation start (the page's performance.timeOrigin): DOMContentLoaded, the page's main
 *     heading (h1#page-title) visible, content ready (heading visible and no loading spinner left),
 *     and network idle (end of the last request, taken once Playwright reports network idle).
 * Finally the node is stopped cleanly (SIGINT, SIGKILL after 10 s) and the temp home removed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { benchDir, load1, median, printTable, round, writeBench } from './lib/report.ts';

const repoDir = join(benchDir, '..');
const studioIndex = join(repoDir, 'apps/studio/dist/index.html');
const ROUNDS = Number(process.env.BENCH_STARTUP_ROUNDS ?? 3);
const READY_TIMEOUT_MS = 300_000;
const STOP_GRACE_MS = 10_000;
const PAGES = ['datanets', 'factory', 'playground', 'rewards', 'governance', 'explorer'] as const;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function freePort(): Promise<number> {
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

interface Started {
  child: ChildProcess;
  url: string;
  /** seconds from spawn to the ready line, as seen by this process */
  readyS: number;
  /** the node's own figure printed on the ready line (from its start of `startNode`) */
  nodeReportedS: number | undefined;
  output: () => string;
}

/** Spawns `npm start` in its own process group and waits for "OpenLedger ready at <url>". */
function start(home: string, port: number, chainPort: number): Promise<Started> {
  const t0 = performance.now();
  const child = spawn('npm', ['start'], {
    cwd: repoDir,
    env: {
      ...process.env,
      OPENLEDGER_HOME: home,
      PORT: String(port),
      OPENLEDGER_CHAIN_PORT: String(chainPort),
      OPENLEDGER_DEMO: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so SIGINT reaches npm and the node as Ctrl-C would
  });
  let out = '';
  const output = () => out;
  return new Promise<Started>((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(child, 'SIGKILL');
      reject(new Error(`not ready after ${READY_TIMEOUT_MS / 1000} s; output:\n${out.slice(-4000)}`));
    }, READY_TIMEOUT_MS);
    let done = false;
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /OpenLedger ready at (\S+)(?: \(([\d.]+) s\))?/.exec(out);
      if (m && !done) {
        done = true;
        const readyS = (performance.now() - t0) / 1000;
        clearTimeout(timer);
        resolve({
          child,
          url: m[1].replace(/\/$/, ''),
          readyS,
          nodeReportedS: m[2] === undefined ? undefined : Number(m[2]),
          output,
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code, signal) => {
      if (done) return;
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code ?? signal}) before ready; output:\n${out.slice(-4000)}`));
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

function groupAlive(child: ChildProcess): boolean {
  if (!child.pid) return false;
  try {
    process.kill(-child.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ctrl-C: SIGINT to the process group (npm, the node, anvil), then waits until every process of the
 * group is gone; SIGKILL to the group if any is left 10 s after the SIGINT. Returns the seconds until
 * the group was gone, whether that happened without SIGKILL, and how npm itself ended.
 */
async function stop(child: ChildProcess): Promise<{ seconds: number; clean: boolean; npmExit: string }> {
  const t0 = performance.now();
  const exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => child.once('exit', () => r()));
  killGroup(child, 'SIGINT');
  const deadline = t0 + STOP_GRACE_MS;
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_GRACE_MS).unref());
  let clean = (await Promise.race([exited, timeout])) !== 'timeout';
  while (clean && groupAlive(child) && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  if (!clean || groupAlive(child)) {
    clean = false;
    killGroup(child, 'SIGKILL');
    await exited;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, clean, npmExit: String(child.exitCode ?? child.signalCode) };
}

interface PageLoad {
  domContentLoaded: number;
  heading: number;
  contentReady: number;
  networkIdle: number;
}

const HEADING_VISIBLE = `(() => {
  const h = document.getElementById('page-title');
  return h && h.getClientRects().length > 0 ? performance.now() : false;
})()`;
const CONTENT_READY = `(() => {
  const h = document.getElementById('page-title');
  const spinning = document.querySelector('main .loading');
  return h && h.getClientRects().length > 0 && !spinning ? performance.now() : false;
})()`;
const NAV_TIMES = `(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const ends = performance.getEntriesByType('resource').map((e) => e.responseEnd);
  return { dcl: nav ? nav.domContentLoadedEventEnd : NaN, lastResponse: Math.max(nav ? nav.loadEventEnd : 0, ...ends) };
})()`;

/** Loads `url` in a new tab with the HTTP cache disabled; times in ms from navigation start. */
async function loadPage(newPage: () => Promise<Page>, url: string): Promise<PageLoad> {
  const page = await newPage();
  try {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    // Page-side code is passed as source text: this tree's tsconfig has no DOM types.
    // Polled in the page every animation frame, so the time is taken when it first becomes true.
    const headingMs = Number(
      await (
        await page.waitForFunction(HEADING_VISIBLE, undefined, { polling: 'raf', timeout: 60_000 })
      ).jsonValue(),
    );
    const readyMs = Number(
      await (
        await page.waitForFunction(CONTENT_READY, undefined, { polling: 'raf', timeout: 60_000 })
      ).jsonValue(),
    );
    await page.waitForLoadState('networkidle', { timeout: 60_000 });
    const t = (await page.evaluate(NAV_TIMES)) as { dcl: number; lastResponse: number };
    return {
      domContentLoaded: t.dcl,
      heading: headingMs,
      contentReady: readyMs,
      networkIdle: t.lastResponse,
    };
  } finally {
    await page.close();
  }
}

async function main() {
  const studioDistExisted = existsSync(studioIndex);
  const home = mkdtempSync(join(tmpdir(), 'openledger-bench-startup-'));
  const port = await freePort();
  const chainPort = await freePort();
  console.log(
    `bench:startup — \`npm start\` with OPENLEDGER_DEMO=0 on ${home} (PORT ${port}, chain port ${chainPort}); ` +
      `Studio dist ${studioDistExisted ? 'present' : 'MISSING (built during the first start)'}; load1 ${load1()}`,
  );

  let running: ChildProcess | undefined;
  let userDataDir: string | undefined;
  try {
    const first = await start(home, port, chainPort);
    running = first.child;
    console.log(`first run: ready at ${first.url} after ${first.readyS.toFixed(2)} s`);
    const firstStop = await stop(first.child);
    running = undefined;
    if (!firstStop.clean)
      console.log(`warning: the first run needed SIGKILL to stop; output:\n${first.output().slice(-2000)}`);

    const warm = await start(home, port, chainPort);
    running = warm.child;
    console.log(`warm restart: ready after ${warm.readyS.toFixed(2)} s`);

    // page loads on the warm node
    userDataDir = mkdtempSync(join(tmpdir(), 'openledger-bench-chromium-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
    const loads = new Map<string, PageLoad[]>(PAGES.map((p) => [p, []]));
    try {
      // one untimed load so Chromium's own start-up (first renderer, fonts) is not charged to a page
      await loadPage(() => context.newPage(), `${warm.url}/`);
      for (let r = 0; r < ROUNDS; r++)
        for (const name of PAGES)
          loads.get(name)?.push(await loadPage(() => context.newPage(), `${warm.url}/#/${name}`));
    } finally {
      await context.close();
    }

    const warmStop = await stop(warm.child);
    running = undefined;

    const pages = Object.fromEntries(
      PAGES.map((name) => {
        const l = loads.get(name) ?? [];
        const med = (k: keyof PageLoad) => round(median(l.map((x) => x[k])), 1);
        return [
          name,
          {
            dom_content_loaded_ms: med('domContentLoaded'),
            heading_visible_ms: med('heading'),
            content_ready_ms: med('contentReady'),
            network_idle_ms: med('networkIdle'),
            heading_visible_ms_rounds: l.map((x) => round(x.heading, 1)),
          },
        ];
      }),
    );

    console.log('');
    printTable(
      [
        'phase',
        'ready (s, spawn → ready line)',
        'of which startNode (s, node-reported)',
        'stop (s, SIGINT → all exited)',
        'clean (no SIGKILL)',
      ],
      [
        [
          'first run (fresh home)',
          first.readyS.toFixed(2),
          first.nodeReportedS?.toFixed(1) ?? '-',
          firstStop.seconds.toFixed(2),
          String(firstStop.clean),
        ],
        [
          'warm restart (same home)',
          warm.readyS.toFixed(2),
          warm.nodeReportedS?.toFixed(1) ?? '-',
          warmStop.seconds.toFixed(2),
          String(warmStop.clean),
        ],
      ],
    );
    console.log('');
    console.log(
      `Studio page loads in Chromium, median of ${ROUNDS} (ms from navigation start, HTTP cache off)`,
    );
    printTable(
      ['page', 'DOMContentLoaded', 'heading visible', 'content ready', 'network idle', 'heading, rounds'],
      PAGES.map((name) => {
        const p = pages[name];
        return [
          `#/${name}`,
          p.dom_content_loaded_ms,
          p.heading_visible_ms,
          p.content_ready_ms,
          p.network_idle_ms,
          p.heading_visible_ms_rounds.join(' / '),
        ];
      }),
    );
    console.log('');

    writeBench({
      name: 'startup',
      command: 'npm start',
      env: { OPENLEDGER_DEMO: '0' },
      studio_dist_existed: studioDistExisted,
      first_run_ready_s: round(first.readyS, 2),
      first_run_node_reported_s: first.nodeReportedS ?? null,
      warm_restart_ready_s: round(warm.readyS, 2),
      warm_restart_node_reported_s: warm.nodeReportedS ?? null,
      first_over_warm: round(first.readyS / warm.readyS, 2),
      stop_s: { first: round(firstStop.seconds, 2), warm: round(warmStop.seconds, 2) },
      clean_stops: firstStop.clean && warmStop.clean,
      npm_exit: { first: firstStop.npmExit, warm: warmStop.npmExit },
      page_rounds: ROUNDS,
      page_load_median_ms: pages,
      page_heading_visible_max_ms: round(Math.max(...PAGES.map((p) => pages[p].heading_visible_ms)), 1),
      load1: load1(),
    });
  } finally {
    if (running) await stop(running);
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
