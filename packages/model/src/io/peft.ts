// LoRA adapters in Hugging Face PEFT format: adapter_config.json + adapter_model.safetensors with
// names base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight ([rank][in]) and
// ….lora_B.weight ([out][rank]). PEFT's scale is lora_alpha / r, or lora_alpha / √r with use_rslora.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LlamaConfig } from '../config.ts';
import { ModelFormatError } from '../errors.ts';
import {
  LORA_TARGETS,
  type LoraAdapter,
  type LoraLayer,
  type LoraTarget,
  targetShape,
  validateLoraConfig,
} from '../lora.ts';
import { readSafetensors, type SafeTensor, type SafetensorsDtype, writeSafetensors } from './safetensors.ts';

export const PEFT_MODULES: Record<LoraTarget, string> = {
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj',
  up: 'mlp.up_proj',
  down: 'mlp.down_proj',
};

export function peftConfig(adapter: LoraAdapter, baseModel = 'openledger-base'): Record<string, unknown> {
  const c = adapter.config;
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: c.rank,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    use_rslora: c.rsLora,
    target_modules: c.targets.map((t) => PEFT_MODULES[t].split('.')[1]),
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    modules_to_save: null,
  };
}

export function loraToPeftSafetensors(adapter: LoraAdapter, dtype: SafetensorsDtype = 'F32'): Uint8Array {
  const tensors: SafeTensor[] = [];
  const r = adapter.config.rank;
  adapter.layers.forEach((layer, l) => {
    for (const t of LORA_TARGETS) {
      const p = layer[t];
      if (!p) continue;
      const base = `base_model.model.model.layers.${l}.${PEFT_MODULES[t]}`;
      tensors.push({ name: `${base}.lora_A.weight`, dtype, shape: [r, p.a.length / r], data: p.a });
      tensors.push({ name: `${base}.lora_B.weight`, dtype, shape: [p.b.length / r, r], data: p.b });
    }
  });
  return writeSafetensors(tensors, { format: 'pt' });
}

/** Builds an adapter from adapter_config.json contents and adapter_model.safetensors bytes. */
export function loraFromPeft(
  configJson: Record<string, unknown>,
  bytes: Uint8Array,
  model: LlamaConfig,
  what = 'PEFT adapter',
): LoraAdapter {
  if (configJson.peft_type !== undefined && configJson.peft_type !== 'LORA')
    throw new ModelFormatError(
      `${what}: peft_type must be "LORA", got ${JSON.stringify(configJson.peft_type)}`,
    );
  const rank = configJson.r;
  const alpha = configJson.lora_alpha ?? rank;
  if (typeof rank !== 'number' || typeof alpha !== 'number')
    throw new ModelFormatError(`${what}: adapter_config.json needs numeric r and lora_alpha`);
  if (configJson.rank_pattern && Object.keys(configJson.rank_pattern as object).length)
    throw new ModelFormatError(`${what}: rank_pattern is not supported`);
  const file = readSafetensors(bytes, `${what} adapter_model.safetensors`);
  const layers: LoraLayer[] = Array.from({ length: model.nLayers }, () => ({}));
  const found = new Set<LoraTarget>();
  for (const name of file.tensors.keys()) {
    const m =
      /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_A(?:\.default)?\.weight$/.exec(
        name,
      );
    if (!m) {
      if (/lora_B/.test(name)) continue;
      throw new ModelFormatError(`${what}: unexpected tensor ${name}`);
    }
    const l = Number(m[1]);
    const target = LORA_TARGETS.find((t) => PEFT_MODULES[t] === `${m[2]}.${m[3]}`);
    if (!target) throw new ModelFormatError(`${what}: tensor ${name} adapts unknown module ${m[2]}.${m[3]}`);
    if (l >= model.nLayers)
      throw new ModelFormatError(`${what}: tensor ${name} names layer ${l}, model has ${model.nLayers}`);
    const a = file.tensors.get(name)!;
    const b = file.tensors.get(name.replace('lora_A', 'lora_B'));
    if (!b) throw new ModelFormatError(`${what}: ${name} has no matching lora_B`);
    const [inDim, outDim] = targetShape(model, target);
    if (a.shape.join() !== `${rank},${inDim}`)
      throw new ModelFormatError(
        `${what}: ${name} has shape ${JSON.stringify(a.shape)}, expected [${rank},${inDim}]`,
      );
    if (b.shape.join() !== `${outDim},${rank}`)
      throw new ModelFormatError(
        `${what}: ${b.name} has shape ${JSON.stringify(b.shape)}, expected [${outDim},${rank}]`,
      );
    layers[l][target] = { a: a.data, b: b.data };
    found.add(target);
  }
  try {
    const config = validateLoraConfig({
      rank,
      alpha,
      dropout: typeof configJson.lora_dropout === 'number' ? configJson.lora_dropout : 0,
      rsLora: Boolean(configJson.use_rslora),
      targets: LORA_TARGETS.filter((t) => found.has(t)),
    });
    return { config, layers };
  } catch (e) {
    throw new ModelFormatError(`${what}: ${(e as Error).message}`);
  }
}

export function savePeftAdapter(
  dir: string,
  adapter: LoraAdapter,
  opts: { baseModel?: string; dtype?: SafetensorsDtype } = {},
): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'adapter_config.json'),
    `${JSON.stringify(peftConfig(adapter, opts.baseModel), null, 2)}\n`,
  );
  writeFileSync(join(dir, 'adapter_model.safetensors'), loraToPeftSafetensors(adapter, opts.dtype));
}

export function loadPeftAdapter(dir: string, model: LlamaConfig): LoraAdapter {
  const cfgPath = join(dir, 'adapter_config.json');
  const stPath = join(dir, 'adapter_model.safetensors');
  if (!existsSync(cfgPath)) throw new ModelFormatError(`${dir}: adapter_config.json not found`);
  if (!existsSync(stPath)) throw new ModelFormatError(`${dir}: adapter_model.safetensors not found`);
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    throw new ModelFormatError(`${cfgPath}: not valid JSON (${(e as Error).message})`);
  }
  return loraFromPeft(cfg, new Uint8Array(readFileSync(stPath)), model, dir);
}
