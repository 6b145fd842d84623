import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { OpenLedgerError, openStore, type Store } from '@openledger/store';
import {
  type ContributionResult,
  contentHashOf,
  Datanets,
  MemoryAnchor,
  rowIdOf,
  verifyRowProof,
} from '../src/index.ts';
import { ALICE, BOB, CAROL, cleanup, minimalPdf, OWNER, prose, tempHome } from './helpers.ts';

after(cleanup);

let store: Store;
let anchor: MemoryAnchor;
let dn: Datanets;
let home: string;

beforeEach(() => {
  home = tempHome();
  store = openStore(home);
  anchor = new MemoryAnchor();
  dn = new Datanets(store, anchor);
});

const file = (name: string, text: string | Buffer) => ({
  name,
  bytes: typeof text === 'string' ? Buffer.from(text, 'utf8') : text,
});

function blobCount(): number {
  let n = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (e.name !== 'tmp') walk(join(d, e.name));
      } else n++;
    }
  };
  walk(join(home, 'blobs'));
  return n;
}

/** Everything a failed call must leave untouched. */
function snapshot() {
  const q = (sql: string) => store.sql.prepare(sql).all();
  return JSON.stringify({
    datanets: q('SELECT * FROM datanets ORDER BY id'),
    contributions: q('SELECT * FROM contributions ORDER BY id'),
    rows: q('SELECT id, status, reviewer, reason, approved_seq FROM rows ORDER BY id'),
    versions: q('SELECT * FROM versions'),
    members: q('SELECT datanet_id, address FROM datanet_members'),
    reviewers: q('SELECT datanet_id, address FROM datanet_reviewers'),
    blobs: blobCount(),
    anchor: anchor.calls.length,
  });
}

async function unchanged(fn: () => unknown, check: (e: unknown) => boolean) {
  const before = snapshot();
  await assert.rejects(async () => fn(), check);
  assert.equal(snapshot(), before, 'stored data changed after a refused call');
}

const err = (code: string, status: number, re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof OpenLedgerError, `expected OpenLedgerError, got ${e}`);
  assert.equal(e.code, code, e.message);
  assert.equal(e.status, status, e.message);
  assert.match(e.message, re);
  return true;
};

async function makeDatanet(extra: Record<string, unknown> = {}) {
  return dn.create(OWNER, {
    name: 'Medical QA',
    summary: 'Questions and answers',
    description: '# Medical QA\n\nCurated **answers**.',
    tags: ['medicine', 'qa'],
    license: 'CC-BY-4.0',
    ...extra,
  });
}

async function approveAll(id: number) {
  const ids = dn.pending(OWNER, id);
  return dn.review(
    OWNER,
    id,
    ids.map((rowId) => ({ rowId, decision: 'approve' as const })),
  );
}

describe('create and edit', () => {
  it('creates a datanet, anchors it, and reads it back', async () => {
    const d = await makeDatanet();
    assert.equal(d.id, 1);
    assert.equal(d.owner, OWNER);
    assert.deepEqual(d.tags, ['medicine', 'qa']);
    assert.equal(d.visibility, 'public');
    assert.equal(d.policy, 'open');
    assert.equal(d.schema, 'text');
    assert.equal(anchor.calls[0].method, 'createDatanet');
    assert.equal(anchor.calls[0].args.metadataHash, d.metadataHash);
    const meta = JSON.parse(Buffer.from((await store.blobs.get(d.metadataHash.slice(2)))!).toString());
    assert.equal(meta.description, '# Medical QA\n\nCurated **answers**.');
    assert.deepEqual(dn.get(null, 1), d);
    assert.equal(dn.list(null).length, 1);
  });

  it('edits summary, description and tags without creating a version', async () => {
    const d = await makeDatanet();
    const u = await dn.update(OWNER, d.id, { summary: 'New summary', tags: ['new'] });
    assert.equal(u.summary, 'New summary');
    assert.deepEqual(u.tags, ['new']);
    assert.equal(u.description, d.description);
    assert.notEqual(u.metadataHash, d.metadataHash);
    assert.equal(u.versionCount, 0);
    assert.deepEqual(
      anchor.calls.map((c) => c.method),
      ['createDatanet', 'updateMetadata'],
    );
  });

  it('refuses bad metadata naming the field and limit, and stores nothing', async () => {
    await unchanged(
      () => dn.create(OWNER, { name: '', license: 'MIT' }),
      err('invalid_input', 400, /^name: must not be empty/),
    );
    await unchanged(
      () => dn.create(OWNER, { name: 'x'.repeat(81), license: 'MIT' }),
      err('invalid_input', 400, /name: is 81 characters, the limit is 80/),
    );
    await unchanged(
      () =>
        dn.create(OWNER, { name: 'ok', license: 'MIT', tags: Array.from({ length: 17 }, (_, i) => `t${i}`) }),
      err('invalid_input', 400, /tags: has 17 tags, the limit is 16/),
    );
    await unchanged(
      () => dn.create(OWNER, { name: 'ok', license: 'MIT', visibility: 'secret' as never }),
      err('invalid_input', 400, /visibility: must be one of public, permissioned/),
    );
    await unchanged(
      () => dn.create(OWNER, { name: 'ok' } as never),
      err('invalid_input', 400, /license: is required/),
    );
    await unchanged(
      () => dn.create('0x123', { name: 'ok', license: 'MIT' }),
      err('invalid_address', 400, /actor: must be/),
    );
    const d = await makeDatanet();
    await unchanged(
      () => dn.update(ALICE, d.id, { summary: 'hijack' }),
      err('not_owner', 403, /not the owner/),
    );
    await unchanged(
      () => dn.update(OWNER, d.id, { name: 'renamed' } as never),
      err('invalid_input', 400, /^name: cannot be changed without a new datanet/),
    );
  });

  it('refuses an unknown datanet everywhere with 404', async () => {
    await unchanged(
      () => dn.contribute(ALICE, 99, file('a.txt', prose(1, 3))),
      err('unknown_datanet', 404, /datanetId: no datanet 99/),
    );
    await unchanged(() => dn.get(null, 99), err('unknown_datanet', 404, /no datanet 99/));
    await unchanged(() => dn.publish(OWNER, 99), err('unknown_datanet', 404, /no datanet 99/));
    await unchanged(() => dn.review(OWNER, 99, []), err('unknown_datanet', 404, /no datanet 99/));
    await unchanged(
      () => dn.get(null, 'abc'),
      err('invalid_input', 400, /datanetId: must be a positive integer/),
    );
  });
});

describe('contribute', () => {
  it('chunks text into pending rows with stable ids and reports per row', async () => {
    const d = await makeDatanet();
    const text = prose(11, 30, 40);
    const r = await dn.contribute(ALICE, d.id, file('notes.txt', text));
    assert.equal(r.contribution.contributor, ALICE);
    assert.equal(r.contribution.format, 'txt');
    assert.ok(r.rows.length > 1);
    assert.ok(r.rows.every((x) => x.accepted && x.problems.length === 0));
    const rows = dn.rows(OWNER, d.id);
    assert.equal(rows.length, r.rows.length);
    for (const row of rows) {
      assert.equal(row.status, 'pending');
      assert.equal(row.contentHash, contentHashOf('text', row.fields as { text: string }));
      assert.equal(row.id, rowIdOf(d.id, row.contentHash));
      assert.ok((row.fields as { text: string }).text.length <= 2000);
    }
    // the uploaded file is kept as a blob
    assert.equal(await store.blobs.has(r.contribution.fileBlob), true);
  });

  it('maps JSONL and CSV by schema, with per-row problems', async () => {
    const pc = await makeDatanet({ schema: 'prompt_completion' });
    const jsonl = [
      JSON.stringify({ prompt: 'What does a datanet hold?', completion: 'Rows of contributed data.' }),
      JSON.stringify({ prompt: 'Missing completion' }),
      JSON.stringify({ prompt: 'Why?', completion: 'Ok' }),
      JSON.stringify({ prompt: 'What does a datanet hold?', completion: 'Rows of contributed data.' }),
      JSON.stringify({ prompt: 'Bad', completion: 'encoding \uFFFD inside the text' }),
      '{oops',
    ].join('\n');
    const r = await dn.contribute(ALICE, pc.id, file('qa.jsonl', jsonl));
    const codes = r.rows.map((x) => (x.accepted ? 'ok' : x.problems[0].code));
    assert.deepEqual(codes, [
      'ok',
      'schema_mismatch',
      'too_short',
      'duplicate',
      'invalid_encoding',
      'schema_mismatch',
    ]);
    assert.match(
      r.rows[1].problems[0].message,
      /line 2: schema prompt_completion needs exactly \{prompt, completion\}; missing completion/,
    );
    assert.match(r.rows[3].problems[0].message, /exact duplicate of row 0 of this submission/);
    assert.equal(r.contribution.rowsAccepted, 1);
    assert.equal(r.contribution.rowsRejected, 5);

    const tl = await makeDatanet({ schema: 'text_label' });
    const csv =
      'text,label\n"A positive review of the product",pos\n"A negative review of the product, sadly",neg\n';
    const r2 = await dn.contribute(BOB, tl.id, file('labels.csv', csv));
    assert.equal(r2.contribution.rowsAccepted, 2);
    const rows = dn.rows(OWNER, tl.id);
    assert.deepEqual(rows[0].fields, { text: 'A positive review of the product', label: 'pos' });
  });

  it('ingests a PDF', async () => {
    const d = await makeDatanet();
    const pdf = minimalPdf([
      'Clinical note: patients should drink water regularly.',
      'Second page about sleep hygiene.',
    ]);
    const r = await dn.contribute(ALICE, d.id, file('notes.pdf', pdf));
    assert.equal(r.contribution.format, 'pdf');
    const text = dn
      .rows(OWNER, d.id)
      .map((x) => (x.fields as { text: string }).text)
      .join(' ');
    assert.match(text, /patients should drink water regularly/);
  });

  it('refuses a binary .txt, invalid UTF-8, an oversized file and a wrong schema, storing nothing', async () => {
    const d = await makeDatanet();
    await unchanged(
      () =>
        dn.contribute(ALICE, d.id, file('image.txt', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0x0d]))),
      err('binary_file', 415, /file: 'image.txt' contains binary data/),
    );
    await unchanged(
      () =>
        dn.contribute(ALICE, d.id, file('latin1.txt', Buffer.from('caf\xe9 au lait is fine text', 'latin1'))),
      err('invalid_encoding', 422, /file: is not valid UTF-8 \(first invalid byte at offset 3\)/),
    );
    const small = new Datanets(store, anchor, { maxSubmissionBytes: 1000 });
    await unchanged(
      () => small.contribute(ALICE, d.id, file('big.txt', 'a '.repeat(600))),
      err('file_too_large', 413, /file: 1200 bytes.*exceeds the limit of 1000 bytes/),
    );
    await unchanged(
      () => dn.contribute(ALICE, d.id, file('big.txt', Buffer.alloc(5 * 1024 * 1024 + 1, 97))),
      err(
        'file_too_large',
        413,
        /file: 5242881 bytes \(5 MB\) exceeds the limit of 5242880 bytes \(5 MB\) per submission/,
      ),
    );
    await unchanged(
      () => dn.contribute(ALICE, d.id, file('rows.csv', 'prompt,completion\na,b\n')),
      err('schema_mismatch', 422, /CSV header \[prompt, completion\] does not match schema text/),
    );
    await unchanged(
      () =>
        dn.contribute(
          ALICE,
          d.id,
          file('rows.jsonl', '{"prompt":"a question here?","completion":"an answer here"}\n'),
        ),
      err('no_acceptable_rows', 422, /1 schema_mismatch.*schema text needs exactly \{text\}/),
    );
    await unchanged(
      () => dn.contribute(ALICE, d.id, file('x.docx', 'hello')),
      err('unsupported_file_type', 415, /accepted: \.txt/),
    );
  });

  it('refuses exact duplicates of stored rows and a re-uploaded file, and flags near-duplicates', async () => {
    const d = await makeDatanet();
    const text = prose(5, 6, 80);
    await dn.contribute(ALICE, d.id, file('a.txt', text));
    await unchanged(
      () => dn.contribute(BOB, d.id, file('a-again.txt', text)),
      err('duplicate_submission', 409, /file: 'a-again.txt' is identical to contribution 1/),
    );
    await unchanged(
      () => dn.contribute(BOB, d.id, file('b.txt', `${text}\n`)),
      (e) =>
        err('no_acceptable_rows', 422, /duplicate/)(e) && /already in datanet 1/.test((e as Error).message),
    );
    // near-duplicate: one word changed in a long paragraph
    const para = prose(9, 1, 150);
    await dn.contribute(ALICE, d.id, file('p.txt', para));
    const words = para.split(' ');
    words[70] = 'different';
    const near = words.join(' ');
    await unchanged(
      () => dn.contribute(BOB, d.id, file('near.txt', near)),
      err('no_acceptable_rows', 422, /near_duplicate.*Jaccard 0\.\d+ ≥ 0\.8/),
    );
    // a mixed submission keeps the good rows and reports the near-duplicate
    const mixed = `${near}\n\n${prose(10, 1, 150)}`;
    const r = await new Datanets(store, anchor, { chunkTargetChars: 100 }).contribute(
      BOB,
      d.id,
      file('mixed.txt', mixed),
    );
    assert.deepEqual(
      r.rows.map((x) => (x.accepted ? 'ok' : x.problems[0].code)),
      ['near_duplicate', 'ok'],
    );
    assert.ok(r.rows[0].problems[0].similarity! >= 0.8);
  });

  it('flags a near-duplicate of an earlier row of the same submission', async () => {
    const d = await makeDatanet();
    const para = prose(21, 1, 150);
    const words = para.split(' ');
    words[30] = 'edited';
    const text = `${para}\n\n${prose(22, 1, 150)}\n\n${words.join(' ')}`;
    const r = await new Datanets(store, anchor, { chunkTargetChars: 100 }).contribute(
      ALICE,
      d.id,
      file('s.txt', text),
    );
    assert.deepEqual(
      r.rows.map((x) => (x.accepted ? 'ok' : x.problems[0].code)),
      ['ok', 'ok', 'near_duplicate'],
    );
    assert.match(r.rows[2].problems[0].message, /of row 0 of this submission/);
    assert.equal(r.rows[2].problems[0].duplicateOf, '0');
  });

  it('finds near-duplicates of rows committed by another instance and by itself (in-memory index kept up to date)', async () => {
    const d = await makeDatanet();
    const other = new Datanets(store, anchor);
    const edit = (t: string) => {
      const w = t.split(' ');
      w[40] = 'changed';
      return w.join(' ');
    };
    const p1 = prose(31, 1, 150);
    const p2 = prose(32, 1, 150);
    const p3 = prose(33, 1, 150);
    await dn.contribute(ALICE, d.id, file('1.txt', p1)); // dn's index now holds p1
    await other.contribute(BOB, d.id, file('2.txt', p2)); // other's index: built from p1, then p2
    const isNear = (e: unknown) => err('no_acceptable_rows', 422, /near_duplicate/)(e);
    await unchanged(() => dn.contribute(CAROL, d.id, file('n2.txt', edit(p2))), isNear); // catch-up
    await unchanged(() => other.contribute(CAROL, d.id, file('n1.txt', edit(p1))), isNear);
    await dn.contribute(ALICE, d.id, file('3.txt', p3)); // catches up with p2, then adds p3 itself
    await unchanged(() => dn.contribute(CAROL, d.id, file('n3.txt', edit(p3))), isNear);
    await unchanged(() => other.contribute(CAROL, d.id, file('n3b.txt', edit(p3))), isNear);
    // a fresh instance rebuilds the same index from the stored signatures
    await unchanged(
      () => new Datanets(store, anchor).contribute(CAROL, d.id, file('n3c.txt', edit(p3))),
      isNear,
    );
    // another instance commits while dn awaits its blob write, between dn's checks and its insert:
    // dn's index must still take that row (its rowid is below dn's own new rows)
    // (the unpipelined order, for a blob store without putSync, has that window; the pipelined
    // one checks and inserts in one transaction)
    const p4 = prose(34, 1, 150);
    const put = store.blobs.put.bind(store.blobs);
    const blobs = store.blobs as unknown as { putSync?: (data: Uint8Array | string) => unknown };
    const putSync = blobs.putSync?.bind(blobs);
    blobs.putSync = undefined;
    let interleaved = false;
    store.blobs.put = async (data) => {
      if (!interleaved) {
        interleaved = true;
        delete blobs.putSync; // (other's own contribution may take either order)
        await other.contribute(BOB, d.id, file('4.txt', p4));
        blobs.putSync = undefined;
      }
      return putSync?.(data) as ReturnType<typeof put>;
    };
    try {
      await dn.contribute(ALICE, d.id, file('5.txt', prose(35, 1, 150)));
    } finally {
      store.blobs.put = put;
      delete blobs.putSync;
    }
    assert.ok(interleaved);
    await unchanged(() => dn.contribute(CAROL, d.id, file('n4.txt', edit(p4))), isNear);
  });

  it('enforces the contribution policy', async () => {
    const owner = await makeDatanet({ policy: 'owner' });
    await unchanged(
      () => dn.contribute(ALICE, owner.id, file('a.txt', prose(1, 2))),
      err('contribution_denied', 403, /owner only/),
    );
    await dn.contribute(OWNER, owner.id, file('a.txt', prose(1, 2)));
    const allow = await makeDatanet({ policy: 'allowlist' });
    await unchanged(
      () => dn.contribute(ALICE, allow.id, file('a.txt', prose(2, 2))),
      err('contribution_denied', 403, /not on the allow-list/),
    );
    await dn.grantAccess(OWNER, allow.id, ALICE);
    await dn.contribute(ALICE, allow.id, file('a.txt', prose(2, 2)));
  });
});

describe('review', () => {
  it('approves and rejects one by one or in batch, with reasons', async () => {
    const d = await makeDatanet();
    await dn.contribute(ALICE, d.id, file('a.txt', prose(3, 12, 120)));
    const ids = dn.pending(OWNER, d.id);
    assert.ok(ids.length >= 3);
    assert.deepEqual(dn.review(OWNER, d.id, [{ rowId: ids[0], decision: 'approve' }]), {
      approved: 1,
      rejected: 0,
    });
    assert.deepEqual(dn.review(OWNER, d.id, [{ rowId: ids[1], decision: 'reject', reason: 'off topic' }]), {
      approved: 0,
      rejected: 1,
    });
    const rest = ids.slice(2).map((rowId) => ({ rowId, decision: 'approve' as const }));
    assert.deepEqual(dn.review(OWNER, d.id, rest), { approved: rest.length, rejected: 0 });
    const rejected = dn.rows(OWNER, d.id, { status: 'rejected' });
    assert.equal(rejected[0].reason, 'off topic');
    assert.equal(rejected[0].reviewer, OWNER);
  });

  it('lets delegated reviewers review and refuses everyone else', async () => {
    const d = await makeDatanet();
    await dn.contribute(ALICE, d.id, file('a.txt', prose(4, 3, 120)));
    const ids = dn.pending(OWNER, d.id);
    await unchanged(
      () => dn.review(BOB, d.id, [{ rowId: ids[0], decision: 'approve' }]),
      err('not_reviewer', 403, /actor: 0x3333.* is neither the owner nor a reviewer of datanet 1/),
    );
    await unchanged(
      () => dn.setReviewer(BOB, d.id, BOB, true),
      err('not_owner', 403, /only the owner can delegate review/),
    );
    await dn.setReviewer(OWNER, d.id, BOB, true);
    dn.review(BOB, d.id, [{ rowId: ids[0], decision: 'approve' }]);
    await dn.setReviewer(OWNER, d.id, BOB, false);
    await unchanged(
      () => dn.review(BOB, d.id, [{ rowId: ids[1], decision: 'approve' }]),
      err('not_reviewer', 403, /reviewer/),
    );
  });

  it('refuses a bad batch as a whole (unknown row, missing reason, repeat, already reviewed)', async () => {
    const d = await makeDatanet();
    await dn.contribute(ALICE, d.id, file('a.txt', prose(6, 3, 120)));
    const [a, b] = dn.pending(OWNER, d.id);
    const unknown = `0x${'ab'.repeat(32)}`;
    await unchanged(
      () =>
        dn.review(OWNER, d.id, [
          { rowId: a, decision: 'approve' },
          { rowId: unknown, decision: 'approve' },
        ]),
      err('unknown_row', 404, /decisions\[1\]\.rowId: no row 0xabab/),
    );
    await unchanged(
      () => dn.review(OWNER, d.id, [{ rowId: b, decision: 'reject' }]),
      err('invalid_input', 400, /decisions\[0\]\.reason: is required when rejecting/),
    );
    await unchanged(
      () =>
        dn.review(OWNER, d.id, [
          { rowId: a, decision: 'approve' },
          { rowId: a, decision: 'approve' },
        ]),
      err('invalid_input', 400, /appears twice/),
    );
    await unchanged(
      () => dn.review(OWNER, d.id, [{ rowId: a, decision: 'maybe' as never }]),
      err('invalid_input', 400, /'approve' or 'reject'/),
    );
    dn.review(OWNER, d.id, [{ rowId: a, decision: 'approve' }]);
    await unchanged(
      () => dn.review(OWNER, d.id, [{ rowId: a, decision: 'reject', reason: 'x' }]),
      err('already_reviewed', 409, /already approved/),
    );
  });
});

describe('publish, versions, diff, export, proofs', () => {
  it('publishes versions of approved rows, anchors root and contributions, diffs and exports them', async () => {
    const d = await makeDatanet();
    await unchanged(() => dn.publish(OWNER, d.id), err('nothing_to_publish', 422, /no approved rows/));
    const r1 = await dn.contribute(ALICE, d.id, file('a.txt', prose(21, 10, 120)));
    const r2 = await dn.contribute(BOB, d.id, file('b.txt', prose(22, 6, 120)));
    dn.review(
      OWNER,
      d.id,
      r1.rows.map((x) => ({ rowId: x.rowId!, decision: 'approve' as const })),
    );
    await unchanged(() => dn.publish(ALICE, d.id), err('not_owner', 403, /only the owner can publish/));
    const v1 = await dn.publish(OWNER, d.id);
    assert.equal(v1.version, 1);
    assert.equal(v1.rowCount, r1.rows.length);
    const pub = anchor.calls.find((c) => c.method === 'publishVersion')!;
    assert.equal(pub.args.root, v1.root);
    assert.equal(pub.args.rowCount, v1.rowCount);
    assert.equal(pub.args.contentURI, v1.contentURI);
    const rec = anchor.calls.filter((c) => c.method === 'recordContributions');
    const recorded = rec.flatMap(
      (c) => c.args.contributions as { contributor: string; contentHash: string }[],
    );
    assert.equal(recorded.length, r1.rows.length);
    assert.ok(recorded.every((c) => c.contributor === ALICE));
    await unchanged(
      () => dn.publish(OWNER, d.id),
      err('nothing_to_publish', 409, /no rows approved since version 1/),
    );

    // approve Bob's rows except one, publish v2
    const bobIds = r2.rows.map((x) => x.rowId!);
    dn.review(OWNER, d.id, [
      ...bobIds.slice(1).map((rowId) => ({ rowId, decision: 'approve' as const })),
      { rowId: bobIds[0], decision: 'reject' as const, reason: 'low quality' },
    ]);
    const v2 = await dn.publish(OWNER, d.id);
    assert.equal(v2.version, 2);
    assert.equal(v2.rowCount, r1.rows.length + bobIds.length - 1);
    assert.notEqual(v2.root, v1.root);
    assert.deepEqual(
      dn.versions(null, d.id).map((v) => [v.version, v.rowCount, v.recorded]),
      [
        [1, r1.rows.length, r1.rows.length],
        [2, v2.rowCount, bobIds.length - 1],
      ],
    );
    const diff = dn.diff(null, d.id, 1, 2);
    assert.equal(diff.added, bobIds.length - 1);
    assert.equal(diff.removed, 0);
    assert.deepEqual(new Set(diff.addedRows.map((x) => x.id)), new Set(bobIds.slice(1)));
    assert.equal(dn.diff(null, d.id, 2, 1).removed, bobIds.length - 1);

    // export v1 and v2 as JSONL training records
    const lines1 = [...dn.exportVersion(null, d.id, 1).lines].map((l) => JSON.parse(l));
    assert.equal(lines1.length, v1.rowCount);
    assert.deepEqual(Object.keys(lines1[0]), ['id', 'contributor', 'text']);
    const lines2 = [...dn.exportVersion(null, d.id).lines].map((l) => JSON.parse(l));
    assert.equal(lines2.length, v2.rowCount);
    assert.ok(!lines2.some((l) => l.id === bobIds[0]), 'rejected row not exported');

    // proofs for every row of v2 verify against the anchored root; v1 proofs against v1's
    for (const l of lines2) {
      const p = await dn.prove(null, d.id, l.id);
      assert.equal(p.version, 2);
      assert.equal(p.onchainRoot, v2.root);
      assert.ok(
        verifyRowProof(p, { root: p.onchainRoot!, content: { schema: 'text', fields: { text: l.text } } }),
      );
      // a tampered row fails
      assert.equal(verifyRowProof(p, { content: { schema: 'text', fields: { text: `${l.text}!` } } }), false);
      assert.equal(verifyRowProof({ ...p, contributor: CAROL }), false);
    }
    const p1 = await dn.prove(null, d.id, lines1[0].id, 1);
    assert.equal(p1.root, v1.root);
    assert.ok(verifyRowProof(p1));
    await assert.rejects(dn.prove(null, d.id, bobIds[1], 1), err('unknown_row', 404, /not in version 1/));
    await assert.rejects(dn.prove(null, d.id, bobIds[0]), err('unknown_row', 404, /no approved row/));
    await assert.rejects(
      dn.prove(null, d.id, lines1[0].id, 7),
      err('unknown_version', 404, /has no version 7/),
    );
  });

  it('proves rows after a restart (tree rebuilt from the stored leaves)', async () => {
    const d = await makeDatanet();
    await dn.contribute(ALICE, d.id, file('a.txt', prose(31, 8, 120)));
    await approveAll(d.id);
    const v = await dn.publish(OWNER, d.id);
    store.close();
    const store2 = openStore(home);
    const dn2 = new Datanets(store2, anchor);
    const id = dn2.rows(null, d.id)[3].id;
    const p = await dn2.prove(null, d.id, id);
    assert.equal(p.root, v.root);
    assert.ok(verifyRowProof(p));
    store2.close();
  });

  it('resumes recording contributions after the anchor failed mid-way', async () => {
    const small = new Datanets(store, anchor, { recordBatchSize: 2 });
    const d = await small.create(OWNER, { name: 'x', license: 'MIT' });
    await small.contribute(ALICE, d.id, file('a.txt', prose(41, 6, 120)));
    await approveAll(d.id);
    const n = small.pending(OWNER, d.id).length + dn.rows(OWNER, d.id, { status: 'approved' }).length;
    const orig = anchor.recordContributions.bind(anchor);
    let calls = 0;
    anchor.recordContributions = async (req) => {
      if (++calls === 2) throw new Error('chain down');
      return orig(req);
    };
    await assert.rejects(small.publish(OWNER, d.id), /chain down/);
    assert.equal(small.versions(null, d.id)[0].recorded, 2);
    const v = await small.resumeRecording(OWNER, d.id, 1);
    assert.equal(v.recorded, n);
  });
});

describe('access', () => {
  it('permissioned datanets are readable only by the owner, allow-listed addresses and reviewers', async () => {
    const d = await makeDatanet({ visibility: 'permissioned' });
    await dn.contribute(OWNER, d.id, file('a.txt', prose(51, 4, 120)));
    await approveAll(d.id);
    await dn.publish(OWNER, d.id);
    const denied = err('access_denied', 403, /has no access to permissioned datanet 1/);
    await unchanged(() => dn.get(ALICE, d.id), denied);
    await unchanged(() => dn.get(null, d.id), denied);
    await unchanged(() => dn.rows(ALICE, d.id), denied);
    await unchanged(() => dn.versions(ALICE, d.id), denied);
    await unchanged(() => dn.exportVersion(ALICE, d.id), denied);
    await unchanged(() => dn.prove(ALICE, d.id, dn.rows(OWNER, d.id)[0].id), denied);
    await unchanged(
      () => dn.contribute(ALICE, d.id, file('b.txt', prose(52, 2))),
      err('contribution_denied', 403, /no access/),
    );
    assert.equal(dn.list(ALICE).length, 0);
    assert.equal(dn.list(OWNER).length, 1);
    await dn.grantAccess(OWNER, d.id, ALICE);
    assert.equal(dn.get(ALICE, d.id).id, d.id);
    assert.equal([...dn.exportVersion(ALICE, d.id).lines].length, dn.rows(OWNER, d.id).length);
    assert.equal(dn.list(ALICE).length, 1);
    await dn.revokeAccess(OWNER, d.id, ALICE);
    await unchanged(() => dn.get(ALICE, d.id), denied);
    assert.deepEqual(
      anchor.calls.filter((c) => c.method.endsWith('Access')).map((c) => [c.method, c.args.account]),
      [
        ['grantAccess', ALICE],
        ['revokeAccess', ALICE],
      ],
    );
  });

  it('public readers see approved rows only; contributors also see their own pending rows', async () => {
    const d = await makeDatanet();
    await dn.contribute(ALICE, d.id, file('a.txt', prose(61, 4, 120)));
    assert.equal(dn.rows(null, d.id).length, 0);
    assert.equal(dn.rows(BOB, d.id).length, 0);
    const mine = dn.rows(ALICE, d.id);
    assert.ok(mine.length > 0);
    await assert.rejects(async () => dn.row(BOB, d.id, mine[0].id), err('unknown_row', 404, /no row/));
    await approveAll(d.id);
    assert.equal(dn.rows(BOB, d.id).length, mine.length);
  });
});

describe('datanet ids and results', () => {
  it('returns the same row id for the same content across submissions (dedup uses it)', async () => {
    const d = await makeDatanet({ schema: 'prompt_completion' });
    const line = JSON.stringify({ prompt: 'A stable question?', completion: 'A stable answer.' });
    const r: ContributionResult = await dn.contribute(ALICE, d.id, file('a.jsonl', line));
    const expected = rowIdOf(
      d.id,
      contentHashOf('prompt_completion', { prompt: 'A stable question?', completion: 'A stable answer.' }),
    );
    assert.equal(r.rows[0].rowId, expected);
    await unchanged(
      () => dn.contribute(BOB, d.id, file('b.jsonl', ` ${line} \n`)),
      err('no_acceptable_rows', 422, /duplicate/),
    );
  });
});
