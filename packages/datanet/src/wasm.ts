// A minimal WebAssembly binary encoder: just the sections and instructions that keccakf.ts and
// minhashkernel.ts emit
// (integers as LEB128, vectors, sections, a handful of opcodes), and synchronous instantiation.
// Enough to generate a small kernel at load time without a toolchain or a build step.

export const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};

export const sleb = (v: bigint): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
};

export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
export const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'utf8')];

export const op = {
  call: (f: number) => [0x10, ...uleb(f)],
  get: (l: number) => [0x20, ...uleb(l)],
  set: (l: number) => [0x21, ...uleb(l)],
  tee: (l: number) => [0x22, ...uleb(l)],
  i32: (v: number) => [0x41, ...sleb(BigInt(v))],
  i64: (v: bigint) => [0x42, ...sleb(BigInt.asIntN(64, v))],
  load64: (offset: number) => [0x29, 3, ...uleb(offset)],
  store64: (offset: number) => [0x37, 3, ...uleb(offset)],
  xor: [0x85],
  and: [0x83],
  rotl: [0x89],
  i32add: [0x6a],
  i32shl: [0x74],
  i32ne: [0x47],
  i32mul: [0x6c],
  i32ltu: [0x49],
  loop: [0x03, 0x40],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  end: [0x0b],
};

/** 128-bit SIMD instructions (prefix 0xfd; memarg = log2 alignment, offset). */
const simd = (code: number, ...rest: number[]) => [0xfd, ...uleb(code), ...rest];
export const v128 = {
  load: (offset: number) => simd(0x00, 4, ...uleb(offset)),
  load32Splat: (offset: number) => simd(0x09, 2, ...uleb(offset)),
  store: (offset: number) => simd(0x0b, 4, ...uleb(offset)),
  splatI32: simd(0x11),
  xor: simd(0x51),
  i32x4ShrU: simd(0xad),
  i32x4Mul: simd(0xb5),
  i32x4MinS: simd(0xb6),
};

export const I32 = 0x7f;
export const I64 = 0x7e;
export const V128 = 0x7b;

// The project's lib settings carry no WebAssembly types; declare the few used.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  validate(bytes: Uint8Array): boolean;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

/** Compiles and instantiates a module without imports (synchronously: fine for a few KB). */
export function instantiate(bytes: Uint8Array): unknown {
  const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  return new WA.Instance(new WA.Module(bytes), {}).exports;
}

/** True when this engine accepts the module (say, WebAssembly SIMD where it is unsupported). */
export function validates(bytes: Uint8Array): boolean {
  const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  return WA?.validate(bytes) === true;
}
