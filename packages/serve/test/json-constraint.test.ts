import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trainBpe } from '@openledger/model';
import {
  BatchEngine,
  compileResponseFormat,
  type EngineRequest,
  JsonRecognizer,
  type ResponseFormat,
  type ServeError,
  tokenBytesOf,
} from '../src/index.ts';
import { tinyModel } from './helpers.ts';

const enc = new TextEncoder();
const schemaFormat = (schema: unknown): ResponseFormat => ({
  type: 'json_schema',
  json_schema: { name: 't', schema },
});

const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    age: { type: 'integer' },
    score: { type: 'number' },
    member: { type: 'boolean' },
    tier: { enum: ['gold', 'silver', 7, null] },
    tags: { type: 'array', items: { type: 'string' }, maxItems: 3 },
    address: {
      type: 'object',
      properties: { city: { type: 'string' }, zip: { type: 'integer' } },
      required: ['city'],
    },
  },
  required: ['name', 'age', 'address'],
  additionalProperties: false,
};

/** An independent check of a parsed value against the supported schema subset. */
function validates(value: unknown, schema: Record<string, unknown>): boolean {
  if ('enum' in schema)
    return (schema.enum as unknown[]).some((v) => JSON.stringify(v) === JSON.stringify(value));
  if ('const' in schema) return JSON.stringify(schema.const) === JSON.stringify(value);
  switch (schema.type) {
    case undefined:
      return true;
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    case 'array': {
      if (!Array.isArray(value)) return false;
      if (value.length < ((schema.minItems as number) ?? 0)) return false;
      if (value.length > ((schema.maxItems as number) ?? Number.POSITIVE_INFINITY)) return false;
      return value.every((v) => validates(v, (schema.items as Record<string, unknown>) ?? {}));
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
      const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
      for (const r of (schema.required as string[]) ?? []) if (!(r in value)) return false;
      for (const [k, v] of Object.entries(value)) {
        if (k in props) {
          if (!validates(v, props[k])) return false;
        } else if (schema.additionalProperties === false || schema.properties) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function accepts(format: ResponseFormat, text: string): { valid: boolean; done: boolean } {
  const r = new JsonRecognizer(compileResponseFormat(format)!);
  const valid = r.feed(enc.encode(text));
  return { valid, done: valid && r.done };
}

test('unsupported schema keywords are refused with a 400 naming the keyword', () => {
  const cases: [unknown, RegExp][] = [
    [
      { type: 'object', properties: { s: { type: 'string', pattern: '^a' } } },
      /schema\.properties\.s: the keyword "pattern" is not supported/,
    ],
    [{ type: 'object', anyOf: [] }, /the keyword "anyOf" is not supported/],
    [{ type: 'object', properties: { n: { type: 'number', minimum: 1 } } }, /"minimum" is not supported/],
    [{ type: 'object', properties: { r: { $ref: '#/x' } } }, /"\$ref" is not supported/],
    [{ type: 'array', items: {} }, /the top level must be \{"type": "object"\}/],
    [{ type: ['string', 'null'] }, /type lists are not supported/],
    [{ type: 'object', properties: {}, required: ['x'] }, /"x" is not among the properties/],
  ];
  for (const [schema, message] of cases) {
    assert.throws(
      () => compileResponseFormat(schemaFormat(schema)),
      (e: ServeError) => e.status === 400 && e.field === 'response_format' && message.test(e.message),
      JSON.stringify(schema),
    );
  }
  assert.equal(compileResponseFormat({ type: 'text' }), null);
  assert.ok(compileResponseFormat(schemaFormat(PERSON)));
});

test('the recogniser accepts exactly the compact JSON a schema allows', () => {
  const person = schemaFormat(PERSON);
  const good = [
    '{"name":"Ada","age":36,"address":{"city":"London"}}',
    '{"name":"Ada \\"L\\" \\u00e9","age":-3,"score":1.5e+3,"member":false,"tier":"gold","tags":[],"address":{"city":"Zürich","zip":8001}}',
    '{"name":"","age":0,"tier":null,"tags":["a","b","c"],"address":{"city":"x"}}',
    '{"name":"x","age":1,"tier":7,"address":{"city":"y","zip":10}}',
  ];
  for (const text of good) {
    assert.deepEqual(accepts(person, text), { valid: true, done: true }, text);
    assert.ok(validates(JSON.parse(text), PERSON), text);
    // every proper prefix is valid but not complete, and the bytes it still needs at the least are
    // never more than this document's own remainder
    const bytes = enc.encode(text);
    const r = new JsonRecognizer(compileResponseFormat(person)!);
    for (let i = 0; i < bytes.length; i++) {
      assert.equal(r.done, false);
      assert.ok(r.minRemaining() <= bytes.length - i, `${text} at ${i}: ${r.minRemaining()}`);
      assert.ok(r.push(bytes[i]), `${text} at ${i}`);
    }
    assert.equal(r.done, true);
    assert.equal(r.minRemaining(), 0);
  }
  const bad = [
    '{"age":36,"name":"Ada","address":{"city":"London"}}', // out of schema order
    '{"name":"Ada","address":{"city":"London"}}', // required age missing
    '{"name":"Ada","age":3.5,"address":{"city":"London"}}', // not an integer
    '{"name":"Ada","age":36,"address":{"city":"London"},"extra":1}', // not a property
    '{"name":"Ada","age":36,"tier":"bronze","address":{"city":"L"}}', // not in the enum
    '{"name":"Ada","age":36,"tags":["a","b","c","d"],"address":{"city":"L"}}', // maxItems
    '{"name": "Ada","age":36,"address":{"city":"L"}}', // whitespace
    '{"name":"Ada","age":036,"address":{"city":"L"}}', // leading zero
    '{"name":"A\u0001","age":1,"address":{"city":"L"}}', // control character
    '{"name":"Ada","age":36,"address":{"city":"London"}}x', // trailing bytes
    '{"name":"Ada","age":1,}', // trailing comma
  ];
  for (const text of bad) assert.equal(accepts(person, text).done, false, text);

  const any: ResponseFormat = { type: 'json_object' };
  for (const text of ['{}', '{"a":[1,{"b":null}],"c":true,"d":-0.5E-2,"e":"\\n"}'])
    assert.deepEqual(accepts(any, text), { valid: true, done: true }, text);
  for (const text of ['[]', '{,}', '{"a":1,}', '{"a"}', '"x"', '{"a":tru}'])
    assert.equal(accepts(any, text).done, false, text);
});

function tinyEngine() {
  const tokenizer = trainBpe(['{"name": "Ada", "age": 36, "city": "London"} the quick brown fox'], {
    vocabSize: 320,
    specialTokens: ['<|endoftext|>'],
  });
  const model = tinyModel({ vocabSize: tokenizer.vocabSize, maxSeq: 128, seed: 5 });
  const engine = new BatchEngine(model, {
    maxBatch: 8,
    tokenBytes: tokenBytesOf(tokenizer, tokenizer.vocabSize),
  });
  return { engine, tokenizer, eot: tokenizer.specialId('<|endoftext|>')! };
}

function runAll(engine: BatchEngine, requests: EngineRequest[]) {
  const out = new Map<string, { tokens: number[]; reason?: string; error?: string }>();
  for (const r of requests) {
    engine.submit(r);
    out.set(r.id, { tokens: [] });
  }
  while (!engine.idle) {
    for (const e of engine.step()) {
      const o = out.get(e.id)!;
      if (e.type === 'token') o.tokens.push(e.token);
      else if (e.type === 'done') o.reason = e.reason;
      else o.error = e.message;
    }
  }
  return out;
}

test('constrained decoding: a random model writes JSON that parses and fits the schema, even on a tight budget', () => {
  const { engine, tokenizer, eot } = tinyEngine();
  const nested = {
    type: 'object',
    properties: {
      id: { type: 'integer' },
      ok: { type: 'boolean' },
      kind: { enum: ['a', 'b'] },
      items: {
        type: 'array',
        items: { type: 'object', properties: { v: { type: 'number' } }, required: ['v'] },
        minItems: 1,
        maxItems: 2,
      },
    },
    required: ['id', 'ok', 'kind', 'items'],
  };
  const schemas = [PERSON, nested];
  const requests: EngineRequest[] = [];
  for (const [s, schema] of schemas.entries()) {
    const min = compileResponseFormatMin(schema);
    for (let seed = 0; seed < 6; seed++) {
      for (const maxTokens of [min, min + 5, 100]) {
        requests.push({
          id: `s${s}-seed${seed}-max${maxTokens}`,
          adapter: null,
          prompt: tokenizer.encode('Answer in JSON:'),
          maxTokens,
          temperature: 1,
          topP: 1,
          topK: 0,
          seed,
          stopTokens: [eot],
          responseFormat: schemaFormat(schema),
        });
      }
    }
    requests.push({
      id: `object-${s}`,
      adapter: null,
      prompt: tokenizer.encode('JSON please'),
      maxTokens: 40,
      temperature: 1.2,
      topP: 1,
      topK: 0,
      seed: s,
      stopTokens: [eot],
      responseFormat: { type: 'json_object' },
    });
  }
  const results = runAll(engine, requests);
  for (const r of requests) {
    const o = results.get(r.id)!;
    assert.equal(o.error, undefined, r.id);
    assert.equal(o.reason, 'stop', `${r.id} finished because the JSON was complete`);
    assert.ok(o.tokens.length <= r.maxTokens);
    const text = tokenizer.decode(o.tokens);
    const value = JSON.parse(text);
    const schema =
      r.responseFormat?.type === 'json_schema'
        ? (r.responseFormat.json_schema.schema as Record<string, unknown>)
        : { type: 'object' };
    assert.ok(validates(value, schema), `${r.id}: ${text}`);
  }
  // the same request gives the same JSON when run alone (the mask does not depend on the batch)
  const again = runAll(engine, [{ ...requests[4], id: 'again' }]).get('again')!;
  assert.deepEqual(again.tokens, results.get(requests[4].id)!.tokens);
});

test('a schema whose shortest JSON exceeds max_tokens is refused before anything runs', () => {
  const { engine, tokenizer } = tinyEngine();
  assert.throws(
    () =>
      engine.submit({
        id: 'short',
        adapter: null,
        prompt: tokenizer.encode('x'),
        maxTokens: 5,
        temperature: 1,
        topP: 1,
        topK: 0,
        seed: 1,
        stopTokens: [],
        responseFormat: schemaFormat(PERSON),
      }),
    (e: ServeError) =>
      e.field === 'max_tokens' && /shortest JSON this schema allows takes \d+ tokens/.test(e.message),
  );
  assert.equal(engine.idle, true);
});

function compileResponseFormatMin(schema: unknown): number {
  const node = compileResponseFormat(schemaFormat(schema))!;
  return (node as { min: number }).min;
}
