#!/usr/bin/env node
// Runs the project's test suites and ends with one plain line "total: N passed, N failed".
// Usage: node scripts/test.mjs [--contracts] [--ts] [--browser]   (no flag: contracts + ts)
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = new Set(process.argv.slice(2));
const all = !args.has('--contracts') && !args.has('--ts') && !args.has('--browser');
const filter = process.env.TEST_FILTER; // optional substring to run a subset of test files

function findTests(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

function run(cmd, cmdArgs, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, cmdArgs, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let text = '';
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      text += d;
    });
    child.stderr.on('data', (d) => {
      process.stderr.write(d);
      text += d;
    });
    child.on('close', (code) => resolve({ code: code ?? 1, text }));
  });
}

let passed = 0;
let failed = 0;
let exit = 0;

if (all || args.has('--contracts')) {
  if (existsSync(join(root, 'contracts/foundry.toml'))) {
    const r = await run('node', ['scripts/forge.mjs', 'test'], { cwd: root });
    const m = [...r.text.matchAll(/(\d+) tests? passed, (\d+) failed/g)].at(-1);
    if (m) {
      passed += Number(m[1]);
      failed += Number(m[2]);
    }
    if (r.code !== 0) exit = 1;
  }
}

async function nodeSuite(files) {
  if (filter) files = files.filter((f) => f.includes(filter));
  if (files.length === 0) return;
  const r = await run('node', [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    ...files.map((f) => relative(root, f)),
  ]);
  const p = [...r.text.matchAll(/ℹ pass (\d+)/g)].at(-1);
  const f = [...r.text.matchAll(/ℹ fail (\d+)/g)].at(-1);
  if (p) passed += Number(p[1]);
  if (f) failed += Number(f[1]);
  if (r.code !== 0) exit = 1;
}

if (all || args.has('--ts')) {
  const dirs = readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p, 'test'));
  await nodeSuite(dirs.flatMap((d) => findTests(d)));
}

if (args.has('--browser')) {
  await nodeSuite(findTests(join(root, 'apps/studio/e2e')));
}

console.log(`\ntotal: ${passed} passed, ${failed} failed`);
process.exit(exit || (failed > 0 ? 1 : 0));
