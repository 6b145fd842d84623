import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OpenLedgerError } from '@openledger/store';
import {
  canonicalContent,
  checkRecord,
  chunkText,
  contentHashOf,
  decodeUtf8,
  looksBinary,
  minhash,
  parseFile,
  rowIdOf,
  similarity,
} from '../src/index.ts';
import { minimalPdf, prose } from './helpers.ts';

const MB5 = 5 * 1024 * 1024;
const opts = { maxBytes: MB5, targetChars: 1000, maxChars: 2000 };
const isErr = (code: string, re: RegExp) => (e: unknown) =>
  e instanceof OpenLedgerError && e.code === code && re.test(e.message);

describe('chunking', () => {
  it('keeps paragraphs whole, packs short ones, and bounds every chunk', () => {
    const paras = ['Short one.', 'Another short paragraph here.', 'x'.repeat(980), 'Tail paragraph.'];
    const chunks = chunkText(paras.join('\n\n'));
    assert.deepEqual(chunks, [
      'Short one.\n\nAnother short paragraph here.',
      `${'x'.repeat(980)}\n\nTail paragraph.`,
    ]);
  });

  it('splits an over-long paragraph at sentence ends, then whitespace, then hard', () => {
    const sentence = `${'word '.repeat(60).trim()}.`;
    const long = Array.from({ length: 20 }, () => sentence).join(' ');
    const chunks = chunkText(long, { targetChars: 500, maxChars: 700 });
    assert.ok(chunks.length > 1);
    for (const c of chunks) {
      assert.ok(c.length <= 700, `chunk of ${c.length}`);
      assert.ok(c.endsWith('.'), 'split at a sentence end');
    }
    const noSpaces = 'y'.repeat(5000);
    const hard = chunkText(noSpaces, { targetChars: 1000, maxChars: 2000 });
    assert.deepEqual(
      hard.map((c) => c.length),
      [2000, 2000, 1000],
    );
    assert.equal(hard.join(''), noSpaces);
  });

  it('starts a new chunk at a Markdown heading', () => {
    const md = '# Title\nIntro text.\n\nMore intro.\n## Section\nBody.';
    assert.deepEqual(chunkText(md), ['# Title\nIntro text.\n\nMore intro.', '## Section\nBody.']);
  });

  it('never loses text (all words survive chunking)', () => {
    const text = prose(7, 40, 50);
    const chunks = chunkText(text, { targetChars: 300, maxChars: 400 });
    assert.equal(chunks.join(' ').split(/\s+/).length, text.split(/\s+/).length);
  });
});

describe('encoding and binary detection', () => {
  it('decodes UTF-8 and drops a BOM', () => {
    assert.equal(decodeUtf8(Buffer.from('\uFEFFhéllo ✓', 'utf8')), 'héllo ✓');
  });

  it('names the offset of the first invalid byte', () => {
    const bad = Buffer.concat([Buffer.from('abc'), Buffer.from([0xc3, 0x28]), Buffer.from('def')]);
    assert.throws(
      () => decodeUtf8(bad),
      isErr('invalid_encoding', /file: is not valid UTF-8 \(first invalid byte at offset 3\)/),
    );
    assert.throws(() => decodeUtf8(Buffer.from([0xed, 0xa0, 0x80])), /offset 0/); // encoded surrogate
    assert.throws(() => decodeUtf8(Buffer.from([0x61, 0xe2, 0x82])), /offset 1/); // truncated
  });

  it('flags NUL bytes and control-heavy data as binary, not ordinary text', () => {
    assert.equal(looksBinary(Buffer.from('plain text\n\twith tabs\r\n')), false);
    assert.equal(looksBinary(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01])), true);
    assert.equal(
      looksBinary(Buffer.from(Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? 1 : 65)))),
      true,
    );
  });
});

describe('parseFile', () => {
  it('refuses unsupported types, oversized and empty files, naming field and limit', async () => {
    await assert.rejects(
      parseFile(Buffer.from('x'), 'a.docx', 'text', opts),
      isErr('unsupported_file_type', /file: 'a.docx'.*accepted: \.txt \.md \.jsonl \.csv \.pdf/),
    );
    await assert.rejects(
      parseFile(Buffer.alloc(101, 97), 'a.txt', 'text', { ...opts, maxBytes: 100 }),
      (e: unknown) =>
        e instanceof OpenLedgerError &&
        e.status === 413 &&
        /file: .*101 bytes.*exceeds the limit of 100 bytes/.test(e.message),
    );
    await assert.rejects(parseFile(Buffer.alloc(0), 'a.txt', 'text', opts), isErr('empty_file', /is empty/));
  });

  it('refuses a binary file named .txt and a non-PDF named .pdf', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82]);
    await assert.rejects(
      parseFile(png, 'photo.txt', 'text', opts),
      isErr('binary_file', /file: 'photo.txt' contains binary data/),
    );
    await assert.rejects(
      parseFile(Buffer.from('hello'), 'x.pdf', 'text', opts),
      isErr('invalid_pdf', /not a PDF/),
    );
  });

  it('refuses a text file for a non-text schema', async () => {
    await assert.rejects(
      parseFile(Buffer.from('some text here'), 'a.md', 'prompt_completion', opts),
      isErr('schema_mismatch', /schema is prompt_completion \{prompt, completion\}/),
    );
  });

  it('maps JSONL by schema and reports bad lines per row', async () => {
    const lines = [
      '{"prompt":"What is a datanet?","completion":"A community data repository."}',
      '',
      'not json',
      '[1,2]',
      '{"prompt":"only prompt"}',
    ].join('\n');
    const { format, rows } = await parseFile(Buffer.from(lines), 'd.jsonl', 'prompt_completion', opts);
    assert.equal(format, 'jsonl');
    assert.equal(rows.length, 4);
    assert.deepEqual(rows[0].record, {
      prompt: 'What is a datanet?',
      completion: 'A community data repository.',
    });
    assert.equal(rows[1].source, 'line 3');
    assert.match(rows[1].problem!.message, /line 3: invalid JSON/);
    assert.match(rows[2].problem!.message, /expected a JSON object/);
    assert.equal(rows[3].problem, undefined); // field check happens in checkRecord
  });

  it('maps CSV by header (quoted fields, embedded newlines) and refuses a wrong header', async () => {
    const csv =
      'text,label\n"Hello, world ""quoted""\nsecond line",positive\nplain text row,negative\nonly-one-column\n';
    const { rows } = await parseFile(Buffer.from(csv), 'l.csv', 'text_label', opts);
    assert.deepEqual(rows[0].record, { text: 'Hello, world "quoted"\nsecond line', label: 'positive' });
    assert.deepEqual(rows[1].record, { text: 'plain text row', label: 'negative' });
    assert.match(rows[2].problem!.message, /record 3: has 1 columns, the header has 2/);
    await assert.rejects(
      parseFile(Buffer.from('text,score\na,1\n'), 'l.csv', 'text_label', opts),
      isErr('schema_mismatch', /missing label; unexpected score/),
    );
  });

  it('extracts text from a PDF', async () => {
    const pdf = minimalPdf(['OpenLedger datanet page one text.', 'Second page (with parentheses) here.']);
    const { format, rows } = await parseFile(pdf, 'doc.pdf', 'text', opts);
    assert.equal(format, 'pdf');
    const all = rows.map((r) => r.record!.text).join('\n');
    assert.match(all, /OpenLedger datanet page one text\./);
    assert.match(all, /Second page \(with parentheses\) here\./);
  });

  it('refuses a damaged PDF with a clear error', async () => {
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\ngarbage without xref\n');
    await assert.rejects(
      parseFile(pdf, 'bad.pdf', 'text', opts),
      isErr('invalid_pdf', /could not be read as PDF|no extractable text/),
    );
  });
});

describe('row checks and ids', () => {
  const o = { minChars: 16, maxChars: 200 };
  it('accepts a valid record and normalises it (NFC, LF, trim)', () => {
    const r = checkRecord('text', { text: '  Cafe\u0301 au lait,\r\nplease and thanks ' }, 'line 1', o);
    assert.ok(!('code' in r));
    assert.equal((r as { fields: { text: string } }).fields.text, 'Café au lait,\nplease and thanks');
  });

  it('reports empty, too short, too long, schema mismatch and invalid encoding', () => {
    const code = (x: unknown) => (x as { code: string }).code;
    assert.equal(code(checkRecord('text', { text: '   ' }, 'l', o)), 'empty');
    assert.equal(code(checkRecord('text', { text: 'tiny' }, 'l', o)), 'too_short');
    assert.equal(code(checkRecord('text', { text: 'x'.repeat(201) }, 'l', o)), 'too_long');
    assert.equal(
      code(checkRecord('text', { text: 'fine text here!!', extra: 1 }, 'l', o)),
      'schema_mismatch',
    );
    assert.equal(
      code(checkRecord('text_label', { text: 'fine text here!!', label: 3 }, 'l', o)),
      'schema_mismatch',
    );
    assert.equal(code(checkRecord('text', { text: 'broken \uFFFD text here' }, 'l', o)), 'invalid_encoding');
    assert.equal(
      code(checkRecord('text', { text: 'lone \uD800 surrogate here' }, 'l', o)),
      'invalid_encoding',
    );
  });

  it('gives stable row ids: same content → same id, other datanet or content → other id', () => {
    const f = { prompt: 'p?', completion: 'c.' };
    assert.equal(
      canonicalContent('prompt_completion', { completion: 'c.', prompt: 'p?' }),
      '{"prompt":"p?","completion":"c."}',
    );
    const h = contentHashOf('prompt_completion', f);
    assert.equal(rowIdOf(1, h), rowIdOf(1, h));
    assert.notEqual(rowIdOf(1, h), rowIdOf(2, h));
    assert.notEqual(
      rowIdOf(1, h),
      rowIdOf(1, contentHashOf('prompt_completion', { ...f, completion: 'd.' })),
    );
  });
});

describe('MinHash', () => {
  it('estimates high similarity for a one-word edit and low for unrelated text', () => {
    const base = prose(3, 1, 120);
    const words = base.split(' ');
    words[60] = 'changed';
    const edited = words.join(' ');
    const other = prose(4, 1, 120);
    const a = minhash(base)!;
    assert.ok(similarity(a, minhash(edited)!) >= 0.85);
    assert.ok(similarity(a, minhash(other)!) < 0.2);
    assert.equal(minhash('!!! ???'), null);
  });
});
