// A minimal WebAssembly binary encoder: just the sections and instructions that keccakf.ts emits
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
  loop: [0x03, 0x40],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  end: [0x0b],
};

export const I32 = 0x7f;
export const I64 = 0x7e;

// The project's lib settings carry no WebAssembly types; declare the few used.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

/** Compiles and instantiates a module without imports (synchronously: fine for a few KB). */
export function instantiate(bytes: Uint8Array): unknown {
  const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  return new WA.Instance(new WA.Module(bytes), {}).exports;
}
