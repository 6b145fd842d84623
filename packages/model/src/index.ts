// @openledger/model: tokenizer, Llama-architecture forward/backward, LoRA, generation, GGUF /
// safetensors / PEFT I/O, and the shipped base model.
export { BASE_MODEL_DIR, loadBaseModel } from './base.ts';
export { headDim, type LlamaConfig, paramCount, validateConfig } from './config.ts';
export { invalid, ModelError, ModelFormatError } from './errors.ts';
export {
  type CachedForwardOptions,
  forwardCached,
  forwardMixed,
  forwardRagged,
  type GenerateOptions,
  generate,
  generateBatch,
  generateText,
  generateTokens,
  KVCache,
  type SamplingOptions,
  sampleToken,
} from './generate.ts';
export {
  GgmlType,
  type GgufFile,
  type GgufTensorInfo,
  type GgufTensorOut,
  GgufType,
  type GgufValue,
  gguf,
  ggufTensor,
  quantizeQ8_0,
  readGguf,
  writeGguf,
} from './io/gguf.ts';
export {
  type GgufWeightType,
  loraFromGguf,
  loraToGguf,
  modelFromGguf,
  modelToGguf,
  permuteRope,
  tokenizerFromGguf,
} from './io/gguf-model.ts';
export { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from './io/half.ts';
export {
  configFromHf,
  configToHf,
  loadHfModel,
  modelFromSafetensors,
  modelFromTensors,
  modelToSafetensors,
  saveHfModel,
} from './io/hf.ts';
export {
  loadPeftAdapter,
  loraFromPeft,
  loraToPeftSafetensors,
  PEFT_MODULES,
  peftConfig,
  savePeftAdapter,
} from './io/peft.ts';
export {
  readSafetensors,
  type SafeTensor,
  type SafetensorsDtype,
  type SafetensorsFile,
  writeSafetensors,
} from './io/safetensors.ts';
export {
  type AnyLoraAdapter,
  cloneLora,
  createLora,
  flattenLoraLayer,
  LORA_TARGETS,
  type LoraAdapter,
  type LoraConfig,
  type LoraLayer,
  type LoraPair,
  type LoraTarget,
  loraLayerLayout,
  loraParamCount,
  loraScale,
  targetShape,
  validateLoraConfig,
  zerosLike,
} from './lora.ts';
export { floatLora, halfLora } from './lora-half.ts';
export {
  type Activations,
  type BackwardOptions,
  type Batch,
  backward,
  cloneModel,
  createModel,
  crossEntropyLoss,
  evalLoss,
  type ForwardOptions,
  forEachParam,
  forward,
  HF_LAYER_NAMES,
  type LayerWeights,
  type LlamaModel,
  type LlamaWeights,
  lossAndGrads,
  mergeLora,
  type NamedParam,
  namedParams,
  Workspace,
  zeroWeights,
} from './model.ts';
export { writeModelCard } from './model-card.ts';
export { AdamW, type AdamWOptions, type AdamWState, clipGradNorm, cosineLr } from './optim.ts';
export {
  BASE_CONFIG,
  CORPUS_PACKAGE,
  corpusDir,
  loadCorpus,
  type PretrainMetrics,
  type PretrainOptions,
  type PretrainResult,
  pretrain,
} from './pretrain.ts';
export { Rng } from './rng.ts';
export {
  type AddedToken,
  BpeTokenizer,
  BYTE_TO_UNICODE,
  GPT2_PATTERN,
  type TrainBpeOptions,
  toByteLevel,
  trainBpe,
} from './tokenizer.ts';
export {
  type Example,
  LoraTrainer,
  type LoraTrainOptions,
  loraArrays,
  makeBatch,
  type PerExampleOptions,
  perExampleLoraGrads,
} from './train.ts';
