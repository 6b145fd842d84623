import { float32ToHalf, halfToFloat32, type LoraMatrix } from '@openledger/tensor';
import type { AnyLoraAdapter, LoraAdapter, LoraLayer } from './lora.ts';

/** Largest finite IEEE half value. */
const HALF_MAX = 65504;

function fitsHalf(m: Float32Array): boolean {
  for (let i = 0; i < m.length; i++) if (!(Math.abs(m[i]) <= HALF_MAX)) return false;
  return true;
}

/**
 * The adapter with its matrices rounded to IEEE half precision, as a server holds it (as S-LoRA
 * holds fp16 adapters): a decode step over many adapters is bound by the adapter bytes it reads, and
 * half width halves them. The rounding error (2⁻¹¹ relative per weight) is far below what changes a
 * token in practice, but it is a different adapter from the float32 one, bit for bit: compare served
 * outputs against `floatLora(halfLora(a))`. A matrix with a value beyond half's range (±65504) stays
 * float32 rather than becoming infinite.
 */
export function halfLora(adapter: AnyLoraAdapter): AnyLoraAdapter {
  const half = (m: LoraMatrix): LoraMatrix =>
    m instanceof Float32Array && fitsHalf(m) ? float32ToHalf(m) : m;
  return mapLora(adapter, half);
}

/** The adapter with float32 matrices (half matrices widened exactly): for merging and mixing. */
export function floatLora(adapter: AnyLoraAdapter): LoraAdapter {
  return mapLora(adapter, (m) => (m instanceof Uint16Array ? halfToFloat32(m) : m)) as LoraAdapter;
}

function mapLora(adapter: AnyLoraAdapter, f: (m: LoraMatrix) => LoraMatrix): AnyLoraAdapter {
  const layers = adapter.layers.map((layer) => {
    const out: LoraLayer<LoraMatrix> = {};
    for (const [t, pair] of Object.entries(layer) as [
      keyof LoraLayer,
      NonNullable<LoraLayer[keyof LoraLayer]>,
    ][])
      out[t] = { a: f(pair.a), b: f(pair.b) };
    return out;
  });
  return { config: adapter.config, layers };
}
