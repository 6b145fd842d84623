// End-to-end: the real node (fresh home, no demo data) and the built Studio in Chromium. A new user
// creates a datanet, another account contributes, the owner approves and publishes, a small adapter
// is trained, chatted with and published, an answer is attributed, and the contributor claims.
// Each step names the API it needs when that API is missing, so progress is visible.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import {
  buildStudioIfStale,
  type ConsoleProblem,
  launchBrowser,
  type RunningNode,
  requireRoute,
  screenshotDir,
  shoot,
  startNode,
  watchConsole,
} from './harness.ts';

let node: RunningNode | undefined;
let browser: BrowserContext | undefined;
let userDataDir: string | undefined;
let page: Page;
let base = '';
const problems: ConsoleProblem[] = [];
const shots: string[] = [];
const state: {
  accounts?: { label: string; address: string }[];
  datanetId?: string;
  datanetName?: string;
  jobId?: string;
  modelId?: string;
  paid?: boolean;
} = {};

// One fact per row (JSONL), so the adapter trains on several rows and answers can be attributed.
const FACTS = [
  'The Andromeda lighthouse keeper logs every passing ship in a blue ledger bound with copper wire.',
  'Copper wire ledgers resist salt air far better than leather bindings, according to the keepers.',
  'Each spring the keepers repaint the lighthouse lantern room a pale shade of sea green.',
  'Sea green paint was chosen because it stays visible to sailors through the autumn fog.',
  'The blue ledger of ships is copied every winter and sent to the harbour archive by post.',
  'The harbour archive keeps the copied ledgers in oak cabinets on the second floor.',
  'Visitors may read the ledgers on Tuesdays, when the archivist opens the oak cabinets.',
  'The oldest ledger records a schooner named Petrel that passed the lighthouse in a storm.',
];
const CONTENT = FACTS.map((text) => JSON.stringify({ text })).join('\n');

function need<T>(value: T | undefined, step: string): T {
  if (value === undefined) throw new Error(`cannot run: the earlier step “${step}” did not complete`);
  return value;
}

async function go(hash: string): Promise<void> {
  await page.goto(`${base}/#${hash}`);
  await page.locator('#page-title').first().waitFor({ timeout: 20_000 });
}

async function snap(name: string): Promise<void> {
  shots.push(await shoot(page, name));
}

async function signInAs(index: number): Promise<string> {
  const accounts = need(state.accounts, 'shell and local accounts');
  const acct = accounts[index];
  assert.ok(acct, `local account ${index} exists`);
  await page.selectOption('#account-select', acct.address);
  const signOut = page.getByTestId('sign-out');
  if (!(await signOut.isVisible())) {
    await page.getByTestId('sign-in').click();
    await signOut.waitFor({ timeout: 20_000 }).catch(async () => {
      const err = await page
        .locator('.wallet-error')
        .textContent()
        .catch(() => null);
      throw new Error(`SIWE sign-in as ${acct.address} failed: ${err ?? 'no session after 20 s'}`);
    });
  }
  return acct.address;
}

/** Fails with the message the page shows in an alert, if any, else with `fallback`. */
async function failWithAlert(fallback: string): Promise<never> {
  const alerts = await page.locator('[role=alert]').allTextContents();
  throw new Error(`${fallback}${alerts.length ? ` — the page says: ${alerts.join(' | ')}` : ''}`);
}

before(async () => {
  buildStudioIfStale();
  node = await startNode();
  base = node.url;
  ({ context: browser, userDataDir } = await launchBrowser());
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(30_000);
  watchConsole(page, problems);
});

after(async () => {
  await browser?.close().catch(() => undefined);
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  mkdirSync(screenshotDir, { recursive: true });
  if (node) writeFileSync(join(screenshotDir, 'node-output.log'), node.output());
  await node?.stop();
  const missing = [...new Set(problems.filter((p) => p.kind === 'missing-endpoint').map((p) => p.url))];
  if (missing.length)
    console.log(`API endpoints the Studio called that answered 404:\n  ${missing.join('\n  ')}`);
  console.log(`screenshots:\n  ${shots.join('\n  ')}`);
});

test('shell: network, local accounts and navigation render', async () => {
  await go('/');
  await page.getByTestId('chain-id').waitFor();
  const chainId = await page.getByTestId('chain-id').textContent();
  assert.match(chainId ?? '', /^\d+$/, 'the top bar shows the chain id');
  const res = await fetch(`${base}/api/dev/accounts`);
  assert.equal(res.status, 200, 'GET /api/dev/accounts answers on the embedded chain');
  state.accounts = (await res.json()) as { label: string; address: string }[];
  assert.ok(state.accounts.length >= 3, 'at least three local accounts');
  await page.locator('#account-select option').first().waitFor({ state: 'attached' });
  for (const name of ['Datanets', 'ModelFactory', 'Playground', 'Rewards', 'Governance', 'Explorer'])
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).waitFor();
  await snap('01-home');
});

test('wallet: sign in with Ethereum (SIWE) as two local accounts', async () => {
  await signInAs(2);
  await signInAs(1);
  const me = await page.evaluate(async () => {
    const raw = Object.entries(sessionStorage).find(([k]) => k.startsWith('openledger.token.'))?.[1];
    const token = raw ? (JSON.parse(raw) as { token: string }).token : '';
    const res = await fetch('/api/auth/me', { headers: { authorization: `Bearer ${token}` } });
    return res.status;
  });
  assert.equal(me, 200, 'the stored bearer token is accepted by GET /api/auth/me');
  await snap('01b-signed-in');
});

test('a new user creates a datanet', async () => {
  await requireRoute(base, 'GET', '/api/datanets', 'Datanets');
  await signInAs(1);
  await go('/datanets');
  await snap('02-datanets-empty');
  await page.getByRole('link', { name: 'New datanet' }).click();
  await page.getByLabel('Name').fill('Lighthouse logs');
  await page.getByLabel('Summary').fill('Notes kept by lighthouse keepers.');
  await page
    .getByLabel('Description (Markdown)')
    .fill('## Scope\n- keeper notes\n- **plain text**, one fact per paragraph');
  await page.getByLabel('Tags').fill('history, maritime');
  await page.getByRole('tab', { name: 'Preview' }).click();
  await page.locator('.preview strong', { hasText: 'plain text' }).waitFor();
  await snap('03-datanet-create');
  await page.getByRole('button', { name: 'Create datanet' }).click();
  await page
    .waitForURL(/#\/datanets\/(?!new)[^/]+$/, { timeout: 30_000 })
    .catch(() => failWithAlert('creating the datanet failed'));
  state.datanetId = decodeURIComponent(/#\/datanets\/([^/?]+)/.exec(page.url())?.[1] ?? '');
  state.datanetName = 'Lighthouse logs';
  await page.getByRole('heading', { name: 'Lighthouse logs' }).waitFor();
  await snap('04-datanet-page');
});

test('another account contributes a file and sees per-row checks', async () => {
  const id = need(state.datanetId, 'create a datanet');
  await requireRoute(base, 'POST', `/api/datanets/${id}/contributions`, 'Contribute');
  await signInAs(2);
  await go(`/datanets/${encodeURIComponent(id)}/contribute`);
  await page.setInputFiles('#contrib-file', {
    name: 'lighthouse.jsonl',
    mimeType: 'application/jsonl',
    buffer: Buffer.from(CONTENT),
  });
  await page.getByRole('button', { name: 'Upload' }).click();
  await page
    .getByTestId('check-results')
    .waitFor()
    .catch(() => failWithAlert('the upload showed no check results'));
  const rows = await page.getByTestId('check-results').locator('tbody tr').count();
  assert.equal(rows, FACTS.length, 'one checked row per line of the file');
  await snap('05-contribute');
});

test('the owner approves all rows and publishes a version', async () => {
  const id = need(state.datanetId, 'contribute a file');
  await requireRoute(base, 'POST', `/api/datanets/${id}/review`, 'Review');
  await signInAs(1);
  await go(`/datanets/${encodeURIComponent(id)}/review`);
  await page
    .getByTestId('review-table')
    .waitFor()
    .catch(() => failWithAlert('no review queue'));
  await snap('06-review');
  await page.getByLabel('Select all rows').check();
  await page.getByRole('button', { name: /^Approve/ }).click();
  await page
    .getByText(/Approved \d+ row/)
    .waitFor()
    .catch(() => failWithAlert('approval failed'));
  await page.getByRole('button', { name: 'Publish version' }).click();
  await page
    .getByText(/Published v\d+/)
    .waitFor({ timeout: 60_000 })
    .catch(() => failWithAlert('publishing failed'));
  await snap('07-published');
});

test('versions show a diff and a row proof verifies against the chain', async () => {
  const id = need(state.datanetId, 'approve and publish');
  await go(`/datanets/${encodeURIComponent(id)}/versions`);
  await page
    .getByTestId('versions-table')
    .waitFor()
    .catch(() => failWithAlert('no versions listed'));
  await page.getByRole('button', { name: 'Diff' }).first().click();
  await page
    .getByTestId('diff-table')
    .waitFor()
    .catch(() => failWithAlert('no diff shown'));
  await snap('08-versions-diff');
  await go(`/datanets/${encodeURIComponent(id)}/rows`);
  await page
    .getByTestId('rows-table')
    .waitFor()
    .catch(() => failWithAlert('no approved rows listed'));
  await page.getByRole('button', { name: 'Proof' }).first().click();
  const proof = page.getByTestId('proof-result').first();
  await proof.waitFor().catch(() => failWithAlert('the proof did not load'));
  assert.match(
    (await proof.textContent()) ?? '',
    /✓ Valid proof/,
    'the row proof is valid against the on-chain root',
  );
  await snap('09-row-proof');
  await page.getByTestId('rows-table').locator('tbody tr a').first().click();
  await page
    .getByRole('heading', { name: 'Content' })
    .waitFor()
    .catch(() => failWithAlert('the row page shows no content'));
  await page.getByTestId('proof-result').waitFor();
  await snap('09b-row-page');
});

test('ModelFactory: train a small adapter in at most five clicks', { timeout: 15 * 60_000 }, async () => {
  need(state.datanetId, 'approve and publish');
  await requireRoute(base, 'GET', '/api/factory/base-models', 'ModelFactory');
  await requireRoute(base, 'GET', '/api/factory/jobs', 'ModelFactory');
  await signInAs(1);
  await go('/factory');
  await page
    .locator('input[name=base]')
    .first()
    .waitFor()
    .catch(() => failWithAlert('no base model offered'));
  await snap('10-factory-base');
  let clicks = 0;
  await page.getByRole('button', { name: 'Next' }).click();
  clicks++;
  await page.getByRole('checkbox', { name: new RegExp(need(state.datanetName, 'create a datanet')) }).check();
  clicks++;
  await page.locator('[aria-label="Preview of rows"]').waitFor();
  await snap('11-factory-datanets');
  await page.getByRole('button', { name: 'Next' }).click();
  clicks++;
  await page.getByRole('button', { name: 'Next' }).click();
  clicks++;
  // enough steps for the small adapter to learn the facts, so answers can be attributed to them
  // (optional tuning, not part of the five-click path: fills and opening "Advanced")
  await page.getByLabel('Epochs').fill('200');
  await page.getByLabel('Learning rate').fill('0.02');
  await page.getByText('Advanced', { exact: true }).click();
  await page.getByLabel('Validation split').fill('0');
  await snap('12-factory-hyperparameters');
  await page.getByRole('button', { name: 'Train' }).click();
  clicks++;
  assert.ok(clicks <= 5, 'a first adapter in at most five clicks');
  await page.waitForURL(/#\/factory\/jobs\//).catch(() => failWithAlert('the training job did not start'));
  state.jobId = decodeURIComponent(/#\/factory\/jobs\/([^/?]+)/.exec(page.url())?.[1] ?? '');
  await page.getByTestId('loss-chart').waitFor();
  // finished (evaluation shown) or failed/cancelled (a red status pill), whichever comes first
  await page
    .getByText('Evaluation: before and after')
    .or(page.locator('.pill-bad'))
    .first()
    .waitFor({ timeout: 14 * 60_000 })
    .catch(() => failWithAlert('training did not finish within 14 minutes'));
  if (await page.locator('.pill-bad').count()) await failWithAlert('training failed');
  await page
    .getByTestId('eval-table')
    .waitFor({ timeout: 120_000 })
    .catch(() => failWithAlert('no evaluation'));
  await snap('13-training-done');
});

test('the owner chats with the trained adapter (sandbox)', { timeout: 5 * 60_000 }, async () => {
  const jobId = need(state.jobId, 'train a small adapter');
  await requireRoute(base, 'POST', `/api/factory/jobs/${jobId}/chat`, 'Adapter sandbox chat');
  const input = page.locator('#sandbox-input');
  await input.fill('The Andromeda lighthouse keeper');
  await input.press('Enter');
  const answer = page.locator('[data-testid=sandbox-answer][data-done=true]').first();
  await answer.waitFor({ timeout: 120_000 }).catch(() => failWithAlert('no answer from the adapter'));
  assert.equal(
    await answer.locator('[role=alert]').count(),
    0,
    `the adapter answered: ${await answer.textContent()}`,
  );
  await snap('14-sandbox-chat');
});

test('the owner publishes the adapter with a price', { timeout: 5 * 60_000 }, async () => {
  const jobId = need(state.jobId, 'train a small adapter');
  await go(`/factory/jobs/${encodeURIComponent(jobId)}`);
  await page.getByRole('button', { name: 'Publish model' }).waitFor();
  await requireRoute(base, 'POST', `/api/factory/jobs/${jobId}/publish`, 'Publish');
  await page.getByRole('button', { name: 'Publish model' }).click();
  await page
    .getByText(/Published model/)
    .waitFor({ timeout: 120_000 })
    .catch(() => failWithAlert('publishing the model failed'));
  const href = await page.getByRole('link', { name: 'Open in the Playground' }).getAttribute('href');
  state.modelId = decodeURIComponent(/model=([^&]+)/.exec(href ?? '')?.[1] ?? '');
  assert.ok(state.modelId, 'a model id');
  await snap('14b-published-model');
});

test('Playground: a streamed, paid answer with its attribution', { timeout: 5 * 60_000 }, async () => {
  const model = need(state.modelId, 'publish the model');
  await requireRoute(base, 'GET', '/v1/models', 'Serving (OpenAI-compatible)');
  await requireRoute(base, 'POST', '/v1/chat/completions', 'Serving (OpenAI-compatible)');
  await go(`/playground?model=${encodeURIComponent(model)}`);
  await page
    .locator('#model-select')
    .waitFor()
    .catch(() => failWithAlert('no served model to pick'));
  // the adapter was trained with the completion template: continue a training sentence verbatim
  await page.getByLabel('Mode', { exact: true }).selectOption('completion');
  await page.getByLabel('Temperature').fill('0');
  await page.getByLabel('Max tokens').fill('24');
  const input = page.locator('#chat-input');
  await input.fill('The Andromeda lighthouse keeper logs every passing ship in');
  await input.press('Enter');
  await page
    .getByTestId('answer-meta')
    .first()
    .waitFor({ timeout: 120_000 })
    .catch(() => failWithAlert('no answer'));
  const meta = (await page.getByTestId('answer-meta').first().textContent()) ?? '';
  assert.match(meta, /Cost \d/, `the answer shows its cost (got “${meta}”)`);
  state.paid = true;
  await snap('15-playground-answer');
  await requireRoute(base, 'GET', `/api/attribution/receipts/0x${'0'.repeat(64)}`, 'Attribution receipts');
  await page
    .getByTestId('attribution')
    .waitFor({ timeout: 60_000 })
    .catch(() => failWithAlert('no attribution panel'));
  await snap('15b-playground-attribution');
});

test('the contributor claims rewards after the epoch is settled', { timeout: 5 * 60_000 }, async () => {
  need(state.paid, 'a paid answer in the Playground');
  await requireRoute(base, 'POST', '/api/epochs/settle', 'Settlement');
  await requireRoute(base, 'GET', `/api/rewards/${need(state.accounts, 'shell')[2].address}`, 'Rewards');
  await signInAs(1);
  await go('/rewards');
  await page.getByRole('button', { name: 'Settle current epoch' }).click();
  await page
    .getByText(/Epoch settled/)
    .waitFor({ timeout: 60_000 })
    .catch(() => failWithAlert('settling the epoch failed'));
  await signInAs(2);
  await go('/rewards');
  await page
    .getByTestId('epochs-table')
    .waitFor()
    .catch(() => failWithAlert('no earnings per epoch for the contributor'));
  const skip = page.getByRole('button', { name: 'Skip challenge window (local)' });
  if (await skip.count()) {
    await skip.first().click();
    await page.getByRole('button', { name: 'Claim' }).first().waitFor({ timeout: 30_000 });
  }
  await page.getByRole('button', { name: 'Claim' }).first().click();
  await page
    .getByText(/Claimed epoch/)
    .waitFor({ timeout: 60_000 })
    .catch(() => failWithAlert('the claim failed'));
  await snap('16-rewards-claimed');
});

test('a token holder locks OPEN as votes and stakes', { timeout: 3 * 60_000 }, async () => {
  await signInAs(2);
  await go('/governance');
  await page.getByLabel('Amount (OPEN)').fill('100');
  await page.getByRole('button', { name: 'Lock as votes' }).click();
  await page
    .getByText(/locked as votes/)
    .waitFor({ timeout: 60_000 })
    .catch(() => failWithAlert('locking OPEN as votes failed'));
  await page
    .getByTestId('votes')
    .filter({ hasText: /100/ })
    .waitFor({ timeout: 30_000 })
    .catch(() => failWithAlert('the votes did not show 100 OPEN'));
  await page.getByLabel('Amount (OPEN)').fill('10');
  await page.getByRole('button', { name: 'Stake', exact: true }).click();
  await page
    .getByText(/Stake done/)
    .waitFor({ timeout: 60_000 })
    .catch(() => failWithAlert('staking failed'));
  await snap('21b-governance-votes-and-stake');
});

test('every page renders a heading and no blank screen (incl. governance, explorer, report)', async () => {
  const pages: [string, string][] = [
    ['/datanets', '17-datanets'],
    ['/factory', '18-factory'],
    ['/playground', '19-playground'],
    ['/rewards', '20-rewards'],
    ['/governance', '21-governance'],
    ['/explorer', '22-explorer'],
  ];
  if (state.modelId) pages.push([`/report/${encodeURIComponent(state.modelId)}`, '23-report']);
  pages.push(['/no/such/page', '24-not-found']);
  for (const [hash, name] of pages) {
    await go(hash);
    await page
      .waitForFunction(() => !document.querySelector('.loading'), undefined, { timeout: 20_000 })
      .catch(() => undefined);
    const text = ((await page.locator('main').textContent()) ?? '').trim();
    assert.ok(text.length > 20, `${hash} shows content`);
    await snap(name);
  }
});

test('phone width (375 px): no horizontal scrolling', async () => {
  assert.ok(browser, 'browser');
  const phone = await browser.newPage();
  await phone.setViewportSize({ width: 375, height: 812 });
  watchConsole(phone, problems);
  const hashes = ['/', '/datanets', '/playground', '/factory', '/governance'];
  if (state.datanetId) hashes.push(`/datanets/${encodeURIComponent(state.datanetId)}`);
  for (const [i, hash] of hashes.entries()) {
    await phone.goto(`${base}/#${hash}`);
    await phone.locator('#page-title').first().waitFor();
    await phone
      .waitForFunction(() => !document.querySelector('.loading'), undefined, { timeout: 20_000 })
      .catch(() => undefined);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${hash} fits 375 px (overflows by ${overflow} px)`);
    const path = await shoot(
      phone,
      `30-phone-${i}-${hash.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'home'}`,
    );
    shots.push(path);
  }
  await phone.close();
});

test('no console errors or uncaught exceptions in the whole run', () => {
  const errors = problems.filter((p) => p.kind !== 'missing-endpoint');
  assert.deepEqual(
    errors.map((e) => `${e.kind} on ${e.page}: ${e.text}${e.url ? ` (${e.url})` : ''}`),
    [],
    'the browser console stays clean',
  );
});
