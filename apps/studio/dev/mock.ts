// A development-only stand-in for the node's API (docs/api.md), so Studio pages can be built and
// looked at before every route exists: `OPENLEDGER_MOCK=1 npx vite` in apps/studio. In-memory,
// no signatures checked, shapes follow the packages' types. Never used by the build or the tests.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin } from 'vite';

const ACCOUNTS = [
  [
    '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
    '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  ],
  [
    '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  ],
  [
    '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
    '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  ],
].map(([address, privateKey], i) => ({
  label: `Local account ${i} — anvil well-known TEST key`,
  address,
  privateKey,
}));

const hex = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;
let block = 42;
const sessions = new Map<string, string>();
const datanets: Record<string, unknown>[] = [];
const rows: Record<string, unknown>[] = [];
const versions: Record<string, unknown>[] = [];
const jobs: Record<string, unknown>[] = [];
const models: Record<string, unknown>[] = [];
const receipts = new Map<string, Record<string, unknown>>();
const proposals: Record<string, unknown>[] = [
  {
    id: '1',
    description: 'Raise the contributors’ share to 45%',
    parameter: 'fee.split.contributors',
    value: '4500',
    state: 'Active',
    forVotes: '120000000000000000000000',
    againstVotes: '3000000000000000000000',
    abstainVotes: '0',
    proposer: ACCOUNTS[0].address,
  },
];
let claimed = false;

function send(res: ServerResponse, status: number, body: unknown) {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}
const err = (res: ServerResponse, status: number, code: string, message: string, field?: string) =>
  send(res, status, { error: { code, message, ...(field ? { field } : {}) } });

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const c of req) text += c;
  return text ? JSON.parse(text) : {};
}

function who(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? sessions.get(h.slice(7)) : undefined;
}

function seed() {
  const owner = ACCOUNTS[1].address;
  datanets.push({
    id: 1,
    owner,
    name: 'Lighthouse logs',
    summary: 'Notes kept by lighthouse keepers.',
    description: '## Scope\n- keeper notes\n- **plain text**',
    tags: ['history', 'maritime'],
    license: 'CC-BY-4.0',
    visibility: 'public',
    policy: 'open',
    schema: 'text',
    rowCount: 4,
    approvedCount: 3,
    pendingCount: 1,
    versionCount: 1,
    createdAt: new Date().toISOString(),
  });
  const texts = [
    'The Andromeda lighthouse keeper logs every passing ship in a blue ledger.',
    'Copper wire ledgers resist salt air far better than leather bindings.',
    'Each spring the keepers repaint the lantern room a pale sea green.',
    'The harbour archive keeps the copied ledgers in oak cabinets.',
  ];
  texts.forEach((text, i) => {
    rows.push({
      id: hex(1000 + i),
      datanetId: 1,
      contributor: ACCOUNTS[2].address,
      fields: { text },
      status: i < 3 ? 'approved' : 'pending',
      version: i < 3 ? 1 : null,
    });
  });
  versions.push({
    datanetId: 1,
    version: 1,
    root: hex(777),
    rowCount: 3,
    publishedAt: new Date().toISOString(),
    txHash: hex(555),
  });
  jobs.push({
    id: 1,
    owner,
    status: 'completed',
    spec: {
      baseModel: 'openledger-base',
      datanets: [{ id: 1, version: 1 }],
      template: 'completion',
      hyperparameters: { learningRate: 0.002 },
    },
    createdAt: new Date().toISOString(),
    modelId: 1,
    result: {
      steps: 20,
      before: { examples: 3, loss: 3.2, perplexity: 24.5 },
      after: { examples: 3, loss: 1.4, perplexity: 4.1 },
      samples: [
        { prompt: 'The Andromeda lighthouse', before: ' is a', after: ' keeper logs every passing ship' },
      ],
      history: Array.from({ length: 20 }, (_, s) => ({
        step: s + 1,
        loss: 3.2 * Math.exp(-s / 8) + 0.4,
        valLoss: s % 5 === 4 ? 3.3 * Math.exp(-s / 9) + 0.5 : undefined,
      })),
    },
  });
  models.push({
    id: 1,
    name: 'lighthouse-adapter',
    owner,
    baseModel: 'openledger-base',
    pricePerKInput: '10000000000000000',
    pricePerKOutput: '20000000000000000',
    txHash: hex(999),
    lineage: {
      owner,
      baseModelHash: hex(11),
      adapterHash: hex(22),
      trainingConfigHash: hex(33),
      attributionIndexHash: hex(44),
      datanets: [{ datanetId: 1, version: 1 }],
    },
  });
}
seed();

type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  m: RegExpMatchArray,
  url: URL,
) => Promise<void> | void;
const routes: [string, RegExp, Handler][] = [
  ['GET', /^\/api\/health$/, (_q, res) => send(res, 200, { ok: true, chainId: 31337, block: block++ })],
  [
    'GET',
    /^\/api\/chain\/status$/,
    (_q, res) =>
      send(res, 200, {
        chainId: 31337,
        blockNumber: block,
        contracts: { OpenToken: hex(1).slice(0, 42) },
        openTotalSupply: '1000000000000000000000000000',
      }),
  ],
  ['GET', /^\/api\/dev\/accounts$/, (_q, res) => send(res, 200, ACCOUNTS)],
  [
    'POST',
    /^\/api\/auth\/nonce$/,
    (_q, res) => send(res, 200, { nonce: Math.random().toString(36).slice(2, 14) }),
  ],
  [
    'POST',
    /^\/api\/auth\/verify$/,
    async (req, res) => {
      const b = await body(req);
      const address = /0x[0-9a-fA-F]{40}/.exec(String(b.message))?.[0] ?? '';
      const token = `t${Math.random().toString(36).slice(2)}`;
      sessions.set(token, address);
      send(res, 200, { token, address, expiresAt: new Date(Date.now() + 864e5).toISOString() });
    },
  ],
  [
    'POST',
    /^\/api\/keys$/,
    (req, res) =>
      who(req)
        ? send(res, 200, { key: `sk-${Math.random().toString(36).slice(2)}` })
        : err(res, 401, 'unauthenticated', 'sign in first'),
  ],
  [
    'GET',
    /^\/api\/datanets$/,
    (_q, res, _m, url) => {
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      send(
        res,
        200,
        datanets.filter((d) => JSON.stringify(d).toLowerCase().includes(q)),
      );
    },
  ],
  [
    'POST',
    /^\/api\/datanets$/,
    async (req, res) => {
      const owner = who(req);
      if (!owner) return err(res, 401, 'unauthenticated', 'sign in first', 'authorization');
      const b = await body(req);
      if (!b.name) return err(res, 400, 'invalid_field', 'name is required', 'name');
      const d = {
        ...b,
        id: datanets.length + 1,
        owner,
        rowCount: 0,
        approvedCount: 0,
        pendingCount: 0,
        versionCount: 0,
        createdAt: new Date().toISOString(),
      };
      datanets.push(d);
      send(res, 200, d);
    },
  ],
  [
    'GET',
    /^\/api\/datanets\/(\d+)$/,
    (_q, res, m) => {
      const d = datanets.find((x) => String(x.id) === m[1]);
      return d ? send(res, 200, d) : err(res, 404, 'datanet_not_found', `no datanet ${m[1]}`);
    },
  ],
  [
    'POST',
    /^\/api\/datanets\/(\d+)\/contributions$/,
    async (req, res, m) => {
      const contributor = who(req);
      if (!contributor) return err(res, 401, 'unauthenticated', 'sign in first');
      const b = await body(req);
      const text = Buffer.from(String(b.contentBase64), 'base64').toString('utf8');
      const parts = text
        .split(/\n\s*\n/)
        .map((t) => t.trim())
        .filter(Boolean);
      const reports = parts.map((t, i) => {
        const tooShort = t.length < 20;
        const id = hex(5000 + rows.length);
        if (!tooShort)
          rows.push({
            id,
            datanetId: Number(m[1]),
            contributor,
            fields: { text: t },
            status: 'pending',
            version: null,
          });
        return {
          index: i,
          source: `chunk ${i + 1}`,
          rowId: tooShort ? null : id,
          accepted: !tooShort,
          problems: tooShort ? [{ code: 'too_short', message: 'row has 3 words; the minimum is 5' }] : [],
        };
      });
      send(res, 200, { contribution: { id: 7, fileName: b.filename }, rows: reports });
    },
  ],
  [
    'GET',
    /^\/api\/datanets\/(\d+)\/rows$/,
    (_q, res, m, url) =>
      send(
        res,
        200,
        rows.filter(
          (r) =>
            String(r.datanetId) === m[1] &&
            (!url.searchParams.get('status') || r.status === url.searchParams.get('status')),
        ),
      ),
  ],
  [
    'POST',
    /^\/api\/datanets\/(\d+)\/review$/,
    async (req, res) => {
      const b = await body(req);
      for (const r of rows)
        if ((b.rowIds as string[]).includes(String(r.id)))
          r.status = b.decision === 'approve' ? 'approved' : 'rejected';
      send(res, 200, { reviewed: (b.rowIds as string[]).length });
    },
  ],
  [
    'POST',
    /^\/api\/datanets\/(\d+)\/publish$/,
    (_q, res, m) => {
      const d = datanets.find((x) => String(x.id) === m[1]) as Record<string, number>;
      d.versionCount = (d.versionCount ?? 0) + 1;
      const v = {
        datanetId: d.id,
        version: d.versionCount,
        root: hex(900 + d.versionCount),
        rowCount: rows.filter((r) => r.status === 'approved').length,
        publishedAt: new Date().toISOString(),
        txHash: hex(123),
      };
      versions.push(v);
      send(res, 200, v);
    },
  ],
  [
    'GET',
    /^\/api\/datanets\/(\d+)\/versions$/,
    (_q, res, m) =>
      send(
        res,
        200,
        versions.filter((v) => String(v.datanetId) === m[1]),
      ),
  ],
  [
    'GET',
    /^\/api\/datanets\/(\d+)\/versions\/(\d+)\/diff$/,
    (_q, res, m) => {
      const added = rows.filter((r) => String(r.datanetId) === m[1] && r.status === 'approved');
      send(res, 200, {
        from: 0,
        to: Number(m[2]),
        added: added.length,
        removed: 0,
        addedRows: added.map((r) => ({ id: r.id, contributor: r.contributor, contentHash: hex(1) })),
      });
    },
  ],
  [
    'GET',
    /^\/api\/rows\/(0x[0-9a-f]+)\/proof$/,
    (_q, res, m) =>
      send(res, 200, {
        datanetId: 1,
        version: 1,
        root: hex(777),
        onchainRoot: hex(777),
        rowId: m[1],
        leaf: hex(3),
        proof: [hex(4), hex(5)],
        valid: true,
      }),
  ],
  [
    'GET',
    /^\/api\/factory\/base-models$/,
    (_q, res) =>
      send(res, 200, [
        {
          id: 'openledger-base',
          source: 'shipped',
          hash: hex(11),
          bytes: 4_200_000,
          config: { hidden_size: 64 },
        },
      ]),
  ],
  ['GET', /^\/api\/factory\/jobs$/, (_q, res) => send(res, 200, jobs)],
  [
    'POST',
    /^\/api\/factory\/jobs$/,
    async (req, res) => {
      const b = await body(req);
      const job = {
        id: jobs.length + 1,
        status: 'running',
        spec: b,
        createdAt: new Date().toISOString(),
        modelId: null,
        result: null,
      };
      jobs.push(job);
      send(res, 200, { id: job.id });
    },
  ],
  [
    'GET',
    /^\/api\/factory\/jobs\/(\d+)$/,
    (_q, res, m) => {
      const j = jobs.find((x) => String(x.id) === m[1]);
      return j ? send(res, 200, j) : err(res, 404, 'job_not_found', `no job ${m[1]}`);
    },
  ],
  [
    'GET',
    /^\/api\/factory\/jobs\/(\d+)\/events$/,
    async (_q, res, m) => {
      const j = jobs.find((x) => String(x.id) === m[1]) as Record<string, unknown>;
      res.setHeader('content-type', 'text/event-stream');
      if (j.status === 'completed') {
        res.end('event: done\ndata: {}\n\n');
        return;
      }
      for (let step = 1; step <= 24; step++) {
        res.write(
          `event: progress\ndata: ${JSON.stringify({ step, totalSteps: 24, loss: 3 * Math.exp(-step / 8) + 0.5, valLoss: step % 6 === 0 ? 3.1 * Math.exp(-step / 9) + 0.6 : undefined, tokensPerSecond: 900, etaSeconds: 24 - step })}\n\n`,
        );
        await new Promise((r) => setTimeout(r, 150));
      }
      j.status = 'completed';
      j.result = (jobs[0] as Record<string, unknown>).result;
      res.end('event: done\ndata: {}\n\n');
    },
  ],
  [
    'POST',
    /^\/api\/factory\/jobs\/(\d+)\/publish$/,
    (_q, res, m) => {
      const j = jobs.find((x) => String(x.id) === m[1]) as Record<string, unknown>;
      j.modelId = models.length + 1;
      models.push({ ...models[0], id: j.modelId, name: `adapter-${j.id}` });
      send(res, 200, { modelId: j.modelId, txHash: hex(321) });
    },
  ],
  [
    'POST',
    /^\/api\/factory\/jobs\/(\d+)\/chat$/,
    (_q, res) => send(res, 200, { text: ' logs every passing ship in a blue ledger.' }),
  ],
  [
    'GET',
    /^\/v1\/models$/,
    (_q, res) =>
      send(res, 200, {
        object: 'list',
        data: [
          { id: 'base', owned_by: 'openledger' },
          ...models.map((x) => ({ id: String(x.id), owned_by: x.owner })),
        ],
      }),
  ],
  [
    'POST',
    /^\/v1\/chat\/completions$/,
    async (_q, res) => {
      res.setHeader('content-type', 'text/event-stream');
      const words =
        'The Andromeda lighthouse keeper logs every passing ship in a blue ledger, as the keepers say.'.split(
          ' ',
        );
      for (const w of words) {
        res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: `${w} ` } }] })}\n\n`);
        await new Promise((r) => setTimeout(r, 40));
      }
      const id = hex(receipts.size + 77);
      receipts.set(id, {
        id,
        modelId: '1',
        method: 'span+gradient',
        contributors: [
          { address: ACCOUNTS[2].address, weight: 0.72 },
          { address: ACCOUNTS[1].address, weight: 0.28 },
        ],
        spans: [
          {
            start: 4,
            end: 40,
            text: 'Andromeda lighthouse keeper logs every',
            rowIds: [hex(1000)],
            count: 1,
          },
        ],
      });
      res.write(
        `data: ${JSON.stringify({ choices: [{ delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 12, completion_tokens: 20, cost: '540000000000000' }, openledger: { receiptId: id } })}\n\n`,
      );
      res.end('data: [DONE]\n\n');
    },
  ],
  [
    'GET',
    /^\/api\/attribution\/receipts\/(0x[0-9a-f]+)$/,
    (_q, res, m) => {
      const r = receipts.get(m[1]);
      return r ? send(res, 200, r) : err(res, 404, 'receipt_not_found', `no receipt ${m[1]}`);
    },
  ],
  ['POST', /^\/api\/attribution\/verify$/, (_q, res) => send(res, 200, { ok: true })],
  ['GET', /^\/api\/models$/, (_q, res) => send(res, 200, models)],
  [
    'GET',
    /^\/api\/models\/(\d+)$/,
    (_q, res, m) => {
      const x = models.find((y) => String(y.id) === m[1]);
      return x ? send(res, 200, x) : err(res, 404, 'model_not_found', `no model ${m[1]}`);
    },
  ],
  [
    'GET',
    /^\/api\/rewards\/(0x[0-9a-fA-F]+)$/,
    (_q, res) =>
      send(res, 200, {
        epochs: [
          { epoch: 1, amount: '388800000000000', claimed, claimable: claimed ? '0' : '388800000000000' },
        ],
        answers: [
          {
            receiptId: hex(77),
            model: '1',
            weight: 0.72,
            amount: '388800000000000',
            createdAt: new Date().toISOString(),
          },
        ],
      }),
  ],
  [
    'POST',
    /^\/api\/rewards\/claim$/,
    (_q, res) => {
      claimed = true;
      send(res, 200, { txHash: hex(4242) });
    },
  ],
  [
    'GET',
    /^\/api\/epochs$/,
    (_q, res) =>
      send(res, 200, [
        {
          epoch: 1,
          fees: '540000000000000',
          contributors: '388800000000000',
          root: hex(8080),
          settledAt: new Date().toISOString(),
        },
      ]),
  ],
  ['POST', /^\/api\/epochs\/settle$/, (_q, res) => send(res, 200, { epoch: 2 })],
  ['GET', /^\/api\/gov\/proposals$/, (_q, res) => send(res, 200, proposals)],
  [
    'POST',
    /^\/api\/gov\/proposals$/,
    async (req, res) => {
      const b = await body(req);
      proposals.push({
        ...b,
        id: String(proposals.length + 1),
        state: 'Pending',
        forVotes: '0',
        againstVotes: '0',
        abstainVotes: '0',
        proposer: who(req),
      });
      send(res, 200, { proposalId: String(proposals.length) });
    },
  ],
  [
    'POST',
    /^\/api\/gov\/proposals\/(\w+)\/(vote|queue|execute)$/,
    (_q, res) => send(res, 200, { txHash: hex(1) }),
  ],
  [
    'GET',
    /^\/api\/accounts\/(0x[0-9a-fA-F]+)$/,
    (_q, res, m) =>
      send(res, 200, { address: m[1], open: '100000000000000000000000', staked: '0', escrow: '0' }),
  ],
  [
    'GET',
    /^\/api\/staking\/(0x[0-9a-fA-F]+)$/,
    (_q, res) => send(res, 200, { staked: '0', pending: '0', votes: '0' }),
  ],
  ['POST', /^\/api\/staking\/(stake|unstake|withdraw)$/, (_q, res) => send(res, 200, { txHash: hex(2) })],
];

export function mockApi(): Plugin {
  return {
    name: 'openledger-mock-api',
    configureServer(server) {
      server.middlewares.use(async (req, res, next) => {
        const url = new URL(req.url ?? '/', 'http://mock');
        if (!/^\/(api|v1)\//.test(url.pathname)) return next();
        for (const [method, re, handler] of routes) {
          const m = url.pathname.match(re);
          if (m && req.method === method) return void (await handler(req, res, m, url));
        }
        err(res, 404, 'not_found', `no route ${req.method} ${url.pathname}`);
      });
    },
  };
}
