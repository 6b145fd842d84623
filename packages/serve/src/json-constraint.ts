import { ServeError } from './errors.ts';

/**
 * JSON-constrained decoding: a response format compiles to a small schema tree, and a byte-level
 * pushdown recogniser walks the output as it is generated. Before each token is sampled, every
 * vocabulary token (its bytes, from the byte-level BPE) is tried against the recogniser through a
 * trie, and the logits of tokens that would break the JSON — or leave too few tokens to close it
 * within `max_tokens` — are masked. The output is compact JSON (no whitespace between tokens).
 *
 * Written here rather than taken from a library: the grammar-constrained samplers on npm are bound
 * to llama.cpp's GBNF or to a Python runtime, and this engine samples in its own TypeScript loop.
 */
export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name?: string; schema?: unknown; strict?: boolean } };

export type JsonNode =
  | { kind: 'any' }
  | { kind: 'object'; props: JsonProp[] | null; min: number }
  | { kind: 'array'; items: JsonNode; minItems: number; maxItems: number; min: number }
  | { kind: 'string' }
  | { kind: 'number'; integer: boolean }
  | { kind: 'literal'; options: Uint8Array[]; min: number };

export interface JsonProp {
  /** the key as it is written, quotes included */
  key: Uint8Array;
  node: JsonNode;
  required: boolean;
}

const SUPPORTED = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'minItems',
  'maxItems',
  'title',
  'description',
  'default',
  'examples',
  '$schema',
]);
const TYPES = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'];
const utf8 = new TextEncoder();

function unsupported(path: string, message: string): ServeError {
  return new ServeError('unsupported_schema', `response_format.json_schema.schema${path}: ${message}`, {
    field: 'response_format',
  });
}

/** Compiles a response format; null for plain text. Unsupported schema keywords give a 400 naming them. */
export function compileResponseFormat(format: ResponseFormat | undefined): JsonNode | null {
  if (!format || format.type === 'text') return null;
  if (format.type === 'json_object') return { kind: 'object', props: null, min: 2 };
  if (format.type !== 'json_schema') {
    throw new ServeError(
      'invalid_response_format',
      `response_format.type must be text, json_object or json_schema`,
      { field: 'response_format' },
    );
  }
  const schema = format.json_schema?.schema;
  if (schema === undefined)
    throw new ServeError('invalid_response_format', 'response_format.json_schema.schema is required', {
      field: 'response_format',
    });
  const node = compileSchema(schema, '');
  if (node.kind !== 'object') throw unsupported('', 'the top level must be {"type": "object"}');
  return node;
}

export function compileSchema(schema: unknown, path: string): JsonNode {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    throw unsupported(path, 'a schema must be a JSON object');
  const s = schema as Record<string, unknown>;
  for (const keyword of Object.keys(s)) {
    if (!SUPPORTED.has(keyword))
      throw unsupported(
        path,
        `the keyword "${keyword}" is not supported (supported: ${[...SUPPORTED].join(', ')})`,
      );
  }
  if ('const' in s || 'enum' in s) {
    const values = 'const' in s ? [s.const] : s.enum;
    if (!Array.isArray(values) || values.length === 0)
      throw unsupported(path, '"enum" must be a non-empty array');
    const options = values.map((v) => utf8.encode(JSON.stringify(v)));
    return { kind: 'literal', options, min: Math.min(...options.map((o) => o.length)) };
  }
  const type = s.type;
  if (type === undefined) return { kind: 'any' };
  if (typeof type !== 'string' || !TYPES.includes(type))
    throw unsupported(
      `${path}.type`,
      `"type" must be one of ${TYPES.join(', ')} (type lists are not supported)`,
    );
  for (const [keyword, only] of [
    ['properties', 'object'],
    ['required', 'object'],
    ['additionalProperties', 'object'],
    ['items', 'array'],
    ['minItems', 'array'],
    ['maxItems', 'array'],
  ] as const) {
    if (keyword in s && type !== only)
      throw unsupported(path, `the keyword "${keyword}" applies to type ${only}, not ${type}`);
  }
  switch (type) {
    case 'string':
      return { kind: 'string' };
    case 'number':
    case 'integer':
      return { kind: 'number', integer: type === 'integer' };
    case 'boolean':
      return { kind: 'literal', options: [utf8.encode('true'), utf8.encode('false')], min: 4 };
    case 'null':
      return { kind: 'literal', options: [utf8.encode('null')], min: 4 };
    case 'array': {
      const items =
        s.items === undefined ? ({ kind: 'any' } as JsonNode) : compileSchema(s.items, `${path}.items`);
      const minItems = count(s.minItems, `${path}.minItems`, 0);
      const maxItems = count(s.maxItems, `${path}.maxItems`, Number.POSITIVE_INFINITY);
      if (minItems > maxItems) throw unsupported(path, 'minItems is larger than maxItems');
      return {
        kind: 'array',
        items,
        minItems,
        maxItems,
        min: 2 + minItems * minLength(items) + Math.max(0, minItems - 1),
      };
    }
    default: {
      if (s.additionalProperties !== undefined && typeof s.additionalProperties !== 'boolean')
        throw unsupported(`${path}.additionalProperties`, 'only true or false is supported');
      const properties = s.properties;
      if (
        properties !== undefined &&
        (typeof properties !== 'object' || properties === null || Array.isArray(properties))
      )
        throw unsupported(`${path}.properties`, '"properties" must be an object');
      const required = s.required ?? [];
      if (!Array.isArray(required) || required.some((r) => typeof r !== 'string'))
        throw unsupported(`${path}.required`, '"required" must be an array of property names');
      const names = Object.keys((properties as object) ?? {});
      for (const r of required as string[])
        if (!names.includes(r)) throw unsupported(`${path}.required`, `"${r}" is not among the properties`);
      if (properties === undefined && s.additionalProperties !== false)
        return { kind: 'object', props: null, min: 2 };
      // generated in the order the schema lists them; optional ones may be left out
      const props: JsonProp[] = names.map((name) => ({
        key: utf8.encode(JSON.stringify(name)),
        node: compileSchema((properties as Record<string, unknown>)[name], `${path}.properties.${name}`),
        required: (required as string[]).includes(name),
      }));
      const req = props.filter((p) => p.required);
      const min =
        2 +
        req.reduce((sum, p) => sum + p.key.length + 1 + minLength(p.node), 0) +
        Math.max(0, req.length - 1);
      return { kind: 'object', props, min };
    }
  }
}

function count(value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 0)
    throw unsupported(path, 'must be a non-negative integer');
  return value as number;
}

/** Bytes of the shortest JSON text a node accepts. */
export function minLength(node: JsonNode): number {
  switch (node.kind) {
    case 'any':
    case 'number':
      return 1;
    case 'string':
      return 2;
    default:
      return node.min;
  }
}

// ---- the recogniser: a stack of frames, each a small record; clone() copies them shallowly.

type Frame =
  /** a value of `node` is expected next */
  | { t: 'value'; node: JsonNode }
  /** object: 0 after `{`, 1 in a declared key, 2 expects `:`, 3 a value is being read, 4 after a value */
  | {
      t: 'object';
      node: Extract<JsonNode, { kind: 'object' }>;
      phase: 0 | 1 | 2 | 3 | 4;
      idx: number;
      cands: number[];
      kpos: number;
    }
  /** array: 0 after `[`, 1 after an item, 2 an item is being read */
  | { t: 'array'; node: Extract<JsonNode, { kind: 'array' }>; phase: 0 | 1 | 2; count: number }
  /** string body: `esc` after a backslash, `hex` digits of \u left, `cont` UTF-8 continuation bytes left */
  | { t: 'string'; esc: boolean; hex: number; cont: number }
  /** number: a state of -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
  | { t: 'number'; integer: boolean; phase: number; digits: number }
  /** a literal among several (true/false/null/enum values) */
  | { t: 'literal'; options: Uint8Array[]; pos: number };

const ACCEPTING_NUMBER = new Set([2, 3, 5, 8]);
/** digits of a number's integer or fraction part, and of its exponent */
const MAX_DIGITS = 15;
const MAX_EXPONENT_DIGITS = 2;
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;

export class JsonRecognizer {
  stack: Frame[];
  done = false;

  constructor(root: JsonNode, stack?: Frame[]) {
    this.stack = stack ?? [{ t: 'value', node: root }];
  }

  clone(): JsonRecognizer {
    const copy = new JsonRecognizer(
      null as never,
      this.stack.map((f) => ({ ...f })),
    );
    copy.done = this.done;
    return copy;
  }

  /** Feeds bytes; false (and the recogniser left in an undefined state) if they break the JSON. */
  feed(bytes: Uint8Array): boolean {
    for (const b of bytes) if (!this.push(b)) return false;
    return true;
  }

  push(b: number): boolean {
    for (;;) {
      if (this.done) return false;
      const r = this.#step(this.stack[this.stack.length - 1], b);
      if (r !== 'reprocess') return r;
    }
  }

  /** Marks the top frame's value complete and tells its parent. */
  #complete(): void {
    this.stack.pop();
    const parent = this.stack[this.stack.length - 1];
    if (!parent) {
      this.done = true;
      return;
    }
    if (parent.t === 'object') parent.phase = parent.phase === 1 ? 2 : 4;
    else if (parent.t === 'array') {
      parent.count++;
      parent.phase = 1;
    }
  }

  #startValue(node: JsonNode, b: number): boolean | 'reprocess' {
    const top = this.stack.length - 1;
    switch (node.kind) {
      case 'object':
        if (b !== 0x7b) return false;
        this.stack[top] = { t: 'object', node, phase: 0, idx: -1, cands: [], kpos: 0 };
        return true;
      case 'array':
        if (b !== 0x5b) return false;
        this.stack[top] = { t: 'array', node, phase: 0, count: 0 };
        return true;
      case 'string':
        if (b !== 0x22) return false;
        this.stack[top] = { t: 'string', esc: false, hex: 0, cont: 0 };
        return true;
      case 'number':
        if (b !== 0x2d && !isDigit(b)) return false;
        this.stack[top] = { t: 'number', integer: node.integer, phase: 0, digits: 0 };
        return 'reprocess';
      case 'literal':
        this.stack[top] = { t: 'literal', options: node.options, pos: 0 };
        return 'reprocess';
      default: {
        if (b === 0x7b) return this.#startValue({ kind: 'object', props: null, min: 2 }, b);
        if (b === 0x5b) return this.#startValue(ANY_ARRAY, b);
        if (b === 0x22) return this.#startValue({ kind: 'string' }, b);
        if (b === 0x2d || isDigit(b)) return this.#startValue({ kind: 'number', integer: false }, b);
        return this.#startValue(ANY_LITERAL, b);
      }
    }
  }

  #step(f: Frame, b: number): boolean | 'reprocess' {
    switch (f.t) {
      case 'value':
        return this.#startValue(f.node, b);
      case 'string': {
        const r = stringByte(f, b);
        if (r === CLOSE) this.#complete();
        return r !== BAD;
      }
      case 'number': {
        let next = numberStep(f.phase, b, f.integer);
        if (next >= 0) {
          // a part continuing with one more digit: bounded, so the number stays a finite double
          f.digits = next === f.phase ? f.digits + 1 : 1;
          if (f.digits > (next === 8 ? MAX_EXPONENT_DIGITS : MAX_DIGITS)) next = -1;
        }
        if (next >= 0) {
          f.phase = next;
          return true;
        }
        if (!ACCEPTING_NUMBER.has(f.phase)) return false;
        this.#complete();
        return 'reprocess';
      }
      case 'literal': {
        const longer = f.options.filter((o) => o.length > f.pos && o[f.pos] === b);
        if (longer.length > 0) {
          f.options = longer;
          f.pos++;
          if (longer.every((o) => o.length === f.pos)) this.#complete();
          return true;
        }
        if (!f.options.some((o) => o.length === f.pos) || f.pos === 0) return false;
        this.#complete();
        return 'reprocess';
      }
      case 'array': {
        const { node } = f;
        if (f.phase !== 1 && b === 0x5d && f.count >= node.minItems) {
          this.#complete();
          return true;
        }
        if (f.phase === 1) {
          if (b === 0x5d && f.count >= node.minItems) {
            this.#complete();
            return true;
          }
          if (b !== 0x2c || f.count >= node.maxItems) return false;
          f.phase = 2;
          this.stack.push({ t: 'value', node: node.items });
          return true;
        }
        if (f.count >= node.maxItems) return false;
        f.phase = 2;
        this.stack.push({ t: 'value', node: node.items });
        return 'reprocess';
      }
      case 'object':
        return this.#objectStep(f, b);
    }
  }

  #objectStep(f: Extract<Frame, { t: 'object' }>, b: number): boolean | 'reprocess' {
    const props = f.node.props;
    switch (f.phase) {
      case 0:
      case 4: {
        if (b === 0x7d) {
          if (f.kpos === -1) return false; // a key must follow a comma
          if (props?.some((p, i) => i > f.idx && p.required)) return false;
          this.#complete();
          return true;
        }
        if (f.phase === 4) {
          if (b !== 0x2c) return false;
          if (props && !props.some((_, i) => i > f.idx)) return false;
          f.phase = 0; // a key must follow: reuse phase 0 without accepting `}` after a comma
          f.kpos = -1;
          return true;
        }
        if (b !== 0x22) return false;
        if (f.kpos === -1) f.kpos = 0;
        if (!props) {
          f.phase = 1;
          this.stack.push({ t: 'string', esc: false, hex: 0, cont: 0 });
          return true;
        }
        const cands: number[] = [];
        for (let i = f.idx + 1; i < props.length; i++) {
          cands.push(i);
          if (props[i].required) break;
        }
        if (cands.length === 0) return false;
        f.cands = cands;
        f.kpos = 1;
        f.phase = 1;
        return this.#keyDone(f);
      }
      case 1: {
        // a declared key (an any-key object reads its key as a string frame above this one)
        const cands = f.cands.filter((i) => props![i].key[f.kpos] === b);
        if (cands.length === 0) return false;
        f.cands = cands;
        f.kpos++;
        return this.#keyDone(f);
      }
      case 2:
        if (b !== 0x3a) return false;
        f.phase = 3;
        this.stack.push({ t: 'value', node: props ? props[f.idx].node : ANY });
        return true;
      default:
        return false; // phase 3: the value's own frame is on top
    }
  }

  #keyDone(f: Extract<Frame, { t: 'object' }>): true {
    const props = f.node.props!;
    const whole = f.cands.find((i) => props[i].key.length === f.kpos);
    if (whole !== undefined) {
      // keys are quoted, so no other candidate can extend a complete one
      f.idx = whole;
      f.cands = [];
      f.phase = 2;
    }
    return true;
  }

  /** Bytes still needed, at the least, to complete the JSON from here. */
  minRemaining(): number {
    if (this.done) return 0;
    let total = 0;
    for (const f of this.stack) total += frameCost(f);
    return total;
  }
}

const ANY: JsonNode = { kind: 'any' };
const ANY_ARRAY: JsonNode = {
  kind: 'array',
  items: ANY,
  minItems: 0,
  maxItems: Number.POSITIVE_INFINITY,
  min: 2,
};
const ANY_LITERAL: JsonNode = {
  kind: 'literal',
  options: ['true', 'false', 'null'].map((s) => utf8.encode(s)),
  min: 4,
};

const OK = 0;
const CLOSE = 1;
const BAD = 2;
const ESCAPABLE = new Set([...'"\\/bfnrtu'].map((c) => c.charCodeAt(0)));
const isHex = (b: number) => isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);

/** One byte of a string body: updates `f` and says whether it continues, closes or breaks the string. */
function stringByte(f: { esc: boolean; hex: number; cont: number }, b: number): number {
  if (f.cont > 0) {
    if (b < 0x80 || b > 0xbf) return BAD;
    f.cont--;
  } else if (f.esc) {
    if (!ESCAPABLE.has(b)) return BAD;
    f.esc = false;
    if (b === 0x75) f.hex = 4;
  } else if (f.hex > 0) {
    if (!isHex(b)) return BAD;
    f.hex--;
  } else if (b === 0x22) return CLOSE;
  else if (b === 0x5c) f.esc = true;
  else if (b < 0x20) return BAD;
  else if (b >= 0x80) {
    if (b >= 0xc2 && b <= 0xdf) f.cont = 1;
    else if (b >= 0xe0 && b <= 0xef) f.cont = 2;
    else if (b >= 0xf0 && b <= 0xf4) f.cont = 3;
    else return BAD;
  }
  return OK;
}

function numberStep(phase: number, b: number, integer: boolean): number {
  const digit = isDigit(b);
  switch (phase) {
    case 0:
      return b === 0x2d ? 1 : b === 0x30 ? 2 : digit ? 3 : -1;
    case 1:
      return b === 0x30 ? 2 : digit ? 3 : -1;
    case 2:
    case 3:
      if (phase === 3 && digit) return 3;
      if (integer) return -1;
      return b === 0x2e ? 4 : b === 0x65 || b === 0x45 ? 6 : -1;
    case 4:
      return digit ? 5 : -1;
    case 5:
      return digit ? 5 : integer ? -1 : b === 0x65 || b === 0x45 ? 6 : -1;
    case 6:
      return b === 0x2b || b === 0x2d ? 7 : digit ? 8 : -1;
    case 7:
    case 8:
      return digit ? 8 : -1;
    default:
      return -1;
  }
}

/** Required properties after index `idx`, each with its leading comma. */
function requiredAfter(props: JsonProp[], idx: number): number {
  let sum = 0;
  for (let i = idx + 1; i < props.length; i++)
    if (props[i].required) sum += 1 + props[i].key.length + 1 + minLength(props[i].node);
  return sum;
}

function frameCost(f: Frame): number {
  switch (f.t) {
    case 'value':
      return minLength(f.node);
    case 'string':
      return f.cont > 0 ? f.cont + 1 : f.esc ? 2 : f.hex > 0 ? f.hex + 1 : 1;
    case 'number':
      return ACCEPTING_NUMBER.has(f.phase) ? 0 : 1;
    case 'literal': {
      let best = Number.POSITIVE_INFINITY;
      for (const o of f.options) if (o.length >= f.pos) best = Math.min(best, o.length - f.pos);
      return best;
    }
    case 'array': {
      const per = 1 + minLength(f.node.items);
      // phase 2: the item being read counts itself (its frame is above this one)
      const done = f.phase === 2 ? f.count + 1 : f.count;
      const missing = Math.max(0, f.node.minItems - done);
      const first = f.phase === 0 && missing > 0 ? -1 : 0; // no comma before the first item
      return missing * per + first + 1;
    }
    case 'object': {
      const props = f.node.props;
      if (!props) {
        // any-key object: `}`; after a comma a key, `:` and a value are owed too
        if (f.phase === 0 && f.kpos === -1) return 2 + 1 + 1 + 1;
        if (f.phase === 1) return 1 + 1 + 1;
        if (f.phase === 2) return 1 + 1 + 1;
        return 1;
      }
      if (f.phase === 1) {
        let best = Number.POSITIVE_INFINITY;
        for (const i of f.cands)
          best = Math.min(
            best,
            props[i].key.length - f.kpos + 1 + minLength(props[i].node) + requiredAfter(props, i) + 1,
          );
        return best;
      }
      if (f.phase === 2) return 1 + minLength(props[f.idx].node) + requiredAfter(props, f.idx) + 1;
      if (f.phase === 3 || f.phase === 4) return requiredAfter(props, f.idx) + 1;
      // phase 0: right after `{` (no comma before the first required) or after a comma (a key is owed)
      if (f.kpos === -1) {
        let best = Number.POSITIVE_INFINITY;
        for (let i = f.idx + 1; i < props.length; i++) {
          best = Math.min(
            best,
            props[i].key.length + 1 + minLength(props[i].node) + requiredAfter(props, i) + 1,
          );
          if (props[i].required) break;
        }
        return best;
      }
      const req = requiredAfter(props, f.idx);
      return req > 0 ? req - 1 + 1 : 1;
    }
  }
}

/** A byte trie over the vocabulary, so tokens sharing a prefix share its recogniser steps. */
export class TokenTrie {
  readonly children = new Map<number, TokenTrie>();
  readonly ids: number[] = [];
  /** every token's bytes (on the root) */
  tokens: readonly (Uint8Array | null)[] = [];

  static build(tokenBytes: readonly (Uint8Array | null)[]): TokenTrie {
    const root = new TokenTrie();
    root.tokens = tokenBytes;
    tokenBytes.forEach((bytes, id) => {
      if (!bytes || bytes.length === 0) return;
      let node: TokenTrie = root;
      for (const b of bytes) {
        let next = node.children.get(b);
        if (!next) {
          next = new TokenTrie();
          node.children.set(b, next);
        }
        node = next;
      }
      node.ids.push(id);
    });
    return root;
  }
}

/**
 * The tokens that may come next: each keeps the JSON valid and leaves at most `budget - 1` bytes
 * (so at most that many single-byte tokens) needed to complete it.
 */
export function allowedTokens(state: JsonRecognizer, trie: TokenTrie, budget: number): number[] {
  const top = state.stack[state.stack.length - 1];
  if (!state.done && top?.t === 'string') return allowedInString(state, top, trie, budget);
  const out: number[] = [];
  const walk = (node: TokenTrie, s: JsonRecognizer) => {
    for (const [b, child] of node.children) {
      const next = s.clone();
      if (!next.push(b)) continue;
      if (child.ids.length && (next.done || next.minRemaining() <= budget - 1)) out.push(...child.ids);
      if (!next.done && child.children.size) walk(child, next);
    }
  };
  walk(trie, state);
  return out;
}

/**
 * Inside a string almost every token is allowed, so walking the trie with a cloned recogniser per
 * edge is slow; instead each token's bytes run through the string rules on three local counters,
 * and only a token that closes the string goes through a full recogniser.
 */
function allowedInString(
  state: JsonRecognizer,
  top: Extract<Frame, { t: 'string' }>,
  trie: TokenTrie,
  budget: number,
): number[] {
  const rest = state.minRemaining() - frameCost(top);
  const out: number[] = [];
  const f = { esc: false, hex: 0, cont: 0 };
  trie.tokens.forEach((bytes, id) => {
    if (!bytes || bytes.length === 0) return;
    f.esc = top.esc;
    f.hex = top.hex;
    f.cont = top.cont;
    for (const b of bytes) {
      const r = stringByte(f, b);
      if (r === BAD) return;
      if (r === CLOSE) {
        const next = state.clone();
        if (next.feed(bytes) && (next.done || next.minRemaining() <= budget - 1)) out.push(id);
        return;
      }
    }
    if (rest + frameCost({ t: 'string', ...f }) <= budget - 1) out.push(id);
  });
  return out;
}
