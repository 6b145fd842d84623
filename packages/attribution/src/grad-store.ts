import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { AttributionError } from './errors.ts';
import { fromHalf, toHalf } from './f16.ts';
import type { ProjectionSpec } from './projection.ts';

/**
 * Gradient store: the projected per-example gradients of a fine-tuned adapter's training set, at one
 * or more checkpoints (TracIn needs several; DataInf and gradient-dot use the last).
 *
 * File layout (little-endian):
 *   0   magic "OLGRADST" (8) · version u32 · header length u32 (64)
 *   16  metaLength u64 · dataLength u64
 *   32  SHA-256 of meta ‖ data (32 bytes)
 *   64  meta JSON: { dtype, layerDims, projection, checkpoints: [{ lr, step? }],
 *                    examples: [{ rowId, contributor, label? }] }
 *   …   data: for checkpoint c, for example i, the D = Σ layerDims values (float32 or float16)
 *
 * Bytes per example = checkpoints × D × (4 | 2); with D = 1024 float32 or 2048 float16 that is 4 KB
 * per checkpoint. The whole store is read and hashed at load (it is read in full by every query).
 */
export type GradDtype = 'f32' | 'f16';

export interface GradExample {
  rowId: string;
  contributor: string;
  label?: number;
}

export interface GradCheckpoint {
  /** Learning rate in effect around this checkpoint (TracIn weight η_c). */
  lr: number;
  step?: number;
  /** count × D row-major projected gradients. */
  grads: Float32Array;
}

export interface GradientSet {
  layerDims: number[];
  examples: GradExample[];
  checkpoints: GradCheckpoint[];
  projection?: ProjectionSpec;
  dtype?: GradDtype;
}

const MAGIC = 'OLGRADST';
const VERSION = 1;
const HEADER = 64;

function requireLittleEndian(): void {
  // The data section is copied to and from typed arrays directly, which is little-endian only.
  if (endianness() !== 'LE')
    throw new AttributionError('UNSUPPORTED_PLATFORM', 'gradient stores need a little-endian host', 500);
}

export function validateGradientSet(set: GradientSet): number {
  const D = set.layerDims.reduce((a, b) => a + b, 0);
  if (set.layerDims.length === 0 || set.layerDims.some((k) => !Number.isInteger(k) || k < 1)) {
    throw new AttributionError('INVALID_GRADIENT', 'layerDims must be positive integers');
  }
  if (set.checkpoints.length === 0)
    throw new AttributionError('INVALID_GRADIENT', 'at least one checkpoint is required');
  set.checkpoints.forEach((c, i) => {
    if (!(Number.isFinite(c.lr) && c.lr >= 0))
      throw new AttributionError('INVALID_GRADIENT', `checkpoints[${i}].lr must be ≥ 0`);
    if (c.grads.length !== set.examples.length * D) {
      throw new AttributionError(
        'INVALID_GRADIENT',
        `checkpoints[${i}].grads has ${c.grads.length} values, expected ${set.examples.length} × ${D}`,
      );
    }
  });
  return D;
}

/** Writes a gradient store (atomically: temp file + rename). Returns the file size in bytes. */
export function writeGradientStore(path: string, set: GradientSet): number {
  requireLittleEndian();
  const D = validateGradientSet(set);
  const dtype = set.dtype ?? 'f32';
  const meta = Buffer.from(
    JSON.stringify({
      dtype,
      layerDims: set.layerDims,
      projection: set.projection ?? null,
      checkpoints: set.checkpoints.map((c) => ({ lr: c.lr, step: c.step ?? null })),
      examples: set.examples.map((e) => ({
        rowId: e.rowId,
        contributor: e.contributor,
        label: e.label ?? null,
      })),
    }),
  );
  const per = dtype === 'f16' ? 2 : 4;
  const data = Buffer.alloc(set.checkpoints.length * set.examples.length * D * per);
  let o = 0;
  for (const c of set.checkpoints) {
    if (dtype === 'f16') {
      const halves = new Uint16Array(c.grads.length);
      for (let i = 0; i < c.grads.length; i++) halves[i] = toHalf(c.grads[i]);
      data.set(new Uint8Array(halves.buffer), o);
    } else {
      data.set(new Uint8Array(c.grads.buffer, c.grads.byteOffset, c.grads.byteLength), o);
    }
    o += c.grads.length * per;
  }
  const header = Buffer.alloc(HEADER);
  header.write(MAGIC, 0, 'latin1');
  header.writeUInt32LE(VERSION, 8);
  header.writeUInt32LE(HEADER, 12);
  header.writeBigUInt64LE(BigInt(meta.length), 16);
  header.writeBigUInt64LE(BigInt(data.length), 24);
  createHash('sha256').update(meta).update(data).digest().copy(header, 32);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, header);
    writeSync(fd, meta);
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return HEADER + meta.length + data.length;
}

/** Reads and verifies a gradient store; float16 data is widened to float32. */
export function readGradientStore(path: string): GradientSet & { fileBytes: number } {
  const fail = (code: string, msg: string, status = 422): never => {
    throw new AttributionError(code, `gradient store ${path}: ${msg}`, status);
  };
  requireLittleEndian();
  let fd = -1;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    fail('GRADSTORE_NOT_FOUND', (e as Error).message, 404);
  }
  try {
    const size = fstatSync(fd).size;
    if (size < HEADER)
      fail('GRADSTORE_TRUNCATED', `file is ${size} bytes, shorter than the ${HEADER}-byte header`);
    const header = Buffer.alloc(HEADER);
    readSync(fd, header, 0, HEADER, 0);
    if (header.toString('latin1', 0, 8) !== MAGIC)
      fail('GRADSTORE_FORMAT', 'not a gradient store (bad magic)');
    const version = header.readUInt32LE(8);
    if (version !== VERSION)
      fail('GRADSTORE_VERSION', `unsupported version ${version} (supported: ${VERSION})`);
    const metaLength = Number(header.readBigUInt64LE(16));
    const dataLength = Number(header.readBigUInt64LE(24));
    const expected = HEADER + metaLength + dataLength;
    if (size < expected)
      fail('GRADSTORE_TRUNCATED', `file is truncated: ${size} of ${expected} bytes present`);
    if (size > expected) fail('GRADSTORE_CORRUPT', `file has ${size - expected} unexpected trailing bytes`);
    const body = Buffer.alloc(metaLength + dataLength);
    let got = 0;
    while (got < body.length) {
      const r = readSync(fd, body, got, body.length - got, HEADER + got);
      if (r === 0) break;
      got += r;
    }
    if (got !== body.length) fail('GRADSTORE_TRUNCATED', 'file ended early');
    if (!createHash('sha256').update(body).digest().equals(header.subarray(32, 64))) {
      fail('GRADSTORE_CORRUPT', 'checksum mismatch; the file was altered or damaged');
    }
    const meta = JSON.parse(body.toString('utf8', 0, metaLength)) as {
      dtype: GradDtype;
      layerDims: number[];
      projection: ProjectionSpec | null;
      checkpoints: { lr: number; step: number | null }[];
      examples: { rowId: string; contributor: string; label: number | null }[];
    };
    const D = meta.layerDims.reduce((a, b) => a + b, 0);
    const per = meta.dtype === 'f16' ? 2 : 4;
    const count = meta.examples.length;
    if (dataLength !== meta.checkpoints.length * count * D * per)
      fail('GRADSTORE_CORRUPT', 'data length does not match meta');
    const checkpoints: GradCheckpoint[] = meta.checkpoints.map((c, ci) => {
      const grads = new Float32Array(count * D);
      const base = metaLength + ci * count * D * per;
      if (per === 4) {
        const copy = body.subarray(base, base + count * D * 4);
        new Uint8Array(grads.buffer).set(copy); // little-endian host assumed (x86/arm64)
      } else {
        const halves = new Uint16Array(
          body.buffer.slice(body.byteOffset + base, body.byteOffset + base + grads.length * 2),
        );
        for (let i = 0; i < grads.length; i++) grads[i] = fromHalf(halves[i]);
      }
      return { lr: c.lr, ...(c.step === null ? {} : { step: c.step }), grads };
    });
    return {
      layerDims: meta.layerDims,
      examples: meta.examples.map((e) => ({
        rowId: e.rowId,
        contributor: e.contributor,
        ...(e.label === null ? {} : { label: e.label }),
      })),
      checkpoints,
      ...(meta.projection ? { projection: meta.projection } : {}),
      dtype: meta.dtype,
      fileBytes: size,
    };
  } finally {
    closeSync(fd);
  }
}
