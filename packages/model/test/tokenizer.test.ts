import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelFormatError } from '../src/errors.ts';
import { Rng } from '../src/rng.ts';
import { BpeTokenizer, trainBpe } from '../src/tokenizer.ts';

const CORPUS = [
  'The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs!',
  "It's the people's government, and we'll keep it. They've said they'd come.",
  'Numbers like 1790 and 2021 appear, as do prices: $3,000,000 florins.',
  'Unicode: café, naïve, 東京, 🎉🎉 — done.\n\n  Indented line\tTab.',
];

/** What UTF-8 can carry: lone surrogates replaced by U+FFFD (String.prototype.toWellFormed). */
function wellFormed(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    out += c >= 0xd800 && c <= 0xdfff ? '\ufffd' : ch;
  }
  return out;
}

function randomString(rng: Rng, len: number): string {
  const pools = [
    () => String.fromCharCode(32 + rng.int(95)), // ASCII
    () => String.fromCodePoint(0x4e00 + rng.int(0x5000)), // CJK
    () => String.fromCodePoint(0x1f300 + rng.int(0x300)), // emoji (astral)
    () => String.fromCharCode(0xd800 + rng.int(0x800)), // lone surrogate
    () => [' ', '\n', '\t', '  ', '\r\n'][rng.int(5)],
    () => String.fromCodePoint(0xc0 + rng.int(0x200)), // Latin extended / combining
    () => String.fromCodePoint(rng.int(0x10ffff + 1)), // anything
  ];
  let s = '';
  for (let i = 0; i < len; i++) s += pools[rng.int(pools.length)]();
  return s;
}

test('trained byte-level BPE round-trips arbitrary Unicode (lone surrogates become U+FFFD)', () => {
  const tok = trainBpe(CORPUS, { vocabSize: 300, specialTokens: ['<|endoftext|>'], minFrequency: 1 });
  assert.equal(tok.vocabSize, 300);
  assert.equal(tok.specialId('<|endoftext|>'), 0);
  const rng = new Rng(42);
  for (let i = 0; i < 200; i++) {
    const s = randomString(rng, 1 + rng.int(40));
    const ids = tok.encode(s, { allowSpecial: false });
    assert.equal(tok.decode(ids), wellFormed(s), `round trip of ${JSON.stringify(s)}`);
  }
  for (const s of CORPUS) assert.equal(tok.decode(tok.encode(s)), s);
  // merges shorten text the tokenizer was trained on
  assert.ok(tok.encode(CORPUS[0]).length < new TextEncoder().encode(CORPUS[0]).length * 0.7);
});

test('special tokens are recognised, and streaming decode is UTF-8 safe', () => {
  const tok = trainBpe(CORPUS, { vocabSize: 280, specialTokens: ['<|endoftext|>'] });
  const ids = tok.encode('a<|endoftext|>b');
  assert.ok(ids.includes(0));
  assert.ok(!tok.encode('a<|endoftext|>b', { allowSpecial: false }).includes(0));
  assert.equal(tok.decode(ids), 'a<|endoftext|>b');
  const emoji = tok.encode('🎉東');
  const dec = tok.streamDecoder();
  let out = '';
  for (const id of emoji) out += dec.push(id);
  out += dec.flush();
  assert.equal(out, '🎉東');
});

test('tokenizer.json round trip keeps encoding identical; GPT-2 style merges as strings load', () => {
  const tok = trainBpe(CORPUS, { vocabSize: 320, specialTokens: ['<|endoftext|>'], minFrequency: 1 });
  const json = tok.toJSONString();
  const back = BpeTokenizer.fromJSON(json);
  for (const s of CORPUS) assert.deepEqual(back.encode(s), tok.encode(s));
  assert.equal(back.toJSONString(), json);
  // legacy "left right" merge strings (GPT-2 / older HF files)
  const obj = JSON.parse(json);
  obj.model.merges = obj.model.merges.map((m: [string, string]) => `${m[0]} ${m[1]}`);
  const legacy = BpeTokenizer.fromJSON(obj);
  for (const s of CORPUS) assert.deepEqual(legacy.encode(s), tok.encode(s));
});

test('a hand-written HF tokenizer.json with a Llama-3 style Split regex (case-insensitive group)', () => {
  const bytes = (s: string) => s; // all ASCII here, byte-level form equals the text except space
  const vocab: Record<string, number> = {};
  let id = 0;
  for (let c = 33; c < 127; c++) vocab[String.fromCharCode(c)] = id++;
  vocab.Ġ = id++;
  vocab.He = id++;
  vocab.ll = id++;
  vocab.llo = id++;
  vocab.Hello = id++;
  vocab["'S"] = id++;
  const json = {
    added_tokens: [{ id: 200, content: '<|begin_of_text|>', special: true }],
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: {
            Regex: "(?i:'s|'t)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s+",
          },
          behavior: 'Isolated',
        },
        { type: 'ByteLevel', add_prefix_space: false, use_regex: false },
      ],
    },
    model: {
      type: 'BPE',
      vocab,
      merges: [
        ['H', 'e'],
        ['l', 'l'],
        ['ll', 'o'],
        ['He', 'llo'],
        ["'", 'S'],
      ],
    },
  };
  const tok = BpeTokenizer.fromJSON(json);
  assert.deepEqual(tok.encode(bytes("Hello'S")), [vocab.Hello, vocab["'S"]]);
  assert.deepEqual(tok.encode('<|begin_of_text|>Hello'), [200, vocab.Hello]);
  assert.equal(tok.decode(tok.encode("Hello'S 12345")), "Hello'S 12345");
});

test('bad tokenizer.json gives a clear error', () => {
  assert.throws(() => BpeTokenizer.fromJSON('{not json'), ModelFormatError);
  assert.throws(
    () => BpeTokenizer.fromJSON({ model: { type: 'WordPiece', vocab: {} } }),
    /model.type must be "BPE"/,
  );
  assert.throws(() => BpeTokenizer.fromJSON({ model: { type: 'BPE', vocab: { a: -1 } } }), /bad id/);
  assert.throws(
    () => BpeTokenizer.fromJSON({ model: { type: 'BPE', vocab: {}, merges: [3] } }),
    /merges\[0\]/,
  );
});
