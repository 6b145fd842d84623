import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import {
  type AdamWState,
  LORA_TARGETS,
  type LoraAdapter,
  readSafetensors,
  writeSafetensors,
} from '@openledger/model';
import { FactoryError } from './errors.ts';

/**
 * A resumable training checkpoint: the adapter's A/B matrices, the optimizer's moments and the
 * step, in one safetensors file written atomically (temp file, fsync, rename), so a kill -9 at
 * any moment leaves either the previous checkpoint or the new one, never half of one.
 */
export interface Checkpoint {
  step: number;
  adapter: LoraAdapter;
  optimizer: AdamWState;
  /** running metrics to carry across a resume */
  history: { step: number; loss: number; valLoss?: number }[];
}

export function saveCheckpoint(path: string, ckpt: Checkpoint): void {
  const tensors: { name: string; dtype: 'F32'; shape: number[]; data: Float32Array }[] = [];
  ckpt.adapter.layers.forEach((layer, l) => {
    for (const t of LORA_TARGETS) {
      const pair = layer[t];
      if (!pair) continue;
      tensors.push({ name: `lora.${l}.${t}.a`, dtype: 'F32', shape: [pair.a.length], data: pair.a });
      tensors.push({ name: `lora.${l}.${t}.b`, dtype: 'F32', shape: [pair.b.length], data: pair.b });
    }
  });
  for (const [i, m] of ckpt.optimizer.m.entries()) {
    tensors.push({ name: `adam.m.${i}`, dtype: 'F32', shape: [m.length], data: m });
  }
  for (const [i, v] of ckpt.optimizer.v.entries()) {
    tensors.push({ name: `adam.v.${i}`, dtype: 'F32', shape: [v.length], data: v });
  }
  const bytes = writeSafetensors(tensors, {
    step: String(ckpt.step),
    adamStep: String(ckpt.optimizer.step),
    loraConfig: JSON.stringify(ckpt.adapter.config),
    history: JSON.stringify(ckpt.history),
  });
  writeAtomic(path, bytes);
}

/** Loads a checkpoint into `adapter` (which gives the shapes); returns undefined when there is none. */
export function loadCheckpoint(path: string, adapter: LoraAdapter): Checkpoint | undefined {
  if (!existsSync(path)) return undefined;
  const file = readSafetensors(readFileSync(path), path);
  const meta = file.metadata;
  const get = (name: string) => {
    const t = file.tensors.get(name);
    if (!t)
      throw new FactoryError('checkpoint_corrupt', `checkpoint ${path} lacks tensor ${name}`, {
        status: 500,
      });
    return t.data;
  };
  adapter.layers.forEach((layer, l) => {
    for (const target of LORA_TARGETS) {
      const pair = layer[target];
      if (!pair) continue;
      pair.a.set(get(`lora.${l}.${target}.a`));
      pair.b.set(get(`lora.${l}.${target}.b`));
    }
  });
  const m: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (let i = 0; file.tensors.has(`adam.m.${i}`); i++) {
    m.push(Float32Array.from(get(`adam.m.${i}`)));
    v.push(Float32Array.from(get(`adam.v.${i}`)));
  }
  return {
    step: Number(meta.step),
    adapter,
    optimizer: { step: Number(meta.adamStep), m, v },
    history: JSON.parse(meta.history ?? '[]'),
  };
}

export function writeAtomic(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}
