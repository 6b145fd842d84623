// @openledger/factory — ModelFactory: no-code LoRA fine-tuning jobs from datanet versions.
export {
  BaseModelCatalog,
  type BaseModelInfo,
  SHIPPED_BASE_MODEL_ID,
  shippedBaseModelDir,
} from './base-models.ts';
export { type Checkpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
export { FactoryError } from './errors.ts';
export { classify, type Evaluation, heldOutLoss } from './evaluate.ts';
export {
  buildExamples,
  classificationPrompt,
  END_OF_TEXT,
  instructionPrompt,
  splitValidation,
  type TrainingExample,
  type TrainingRow,
} from './examples.ts';
export { Factory, type FactoryEvent, type FactoryOptions } from './factory.ts';
export {
  type AttributionIndexer,
  canonicalJson,
  type ExportFormat,
  exportAdapter,
  type Hash,
  type ModelLineage,
  type ModelRegistrar,
  type PublishedModel,
  publishJob,
  sha256Hash,
  trainingConfigHash,
} from './publish.ts';
export { type Job, JobRepository, type JobStatus } from './repository.ts';
export { learningRateAt } from './schedule.ts';
export {
  type DatanetVersionRef,
  DEFAULT_HYPERPARAMETERS,
  type Hyperparameters,
  type JobSpec,
  type JobSpecInput,
  type Template,
  validateJobSpec,
} from './spec.ts';
export {
  epochOrder,
  JOB_FILES,
  readJobRows,
  readJobSpec,
  runTrainingJob,
  type TrainProgress,
  type TrainResult,
} from './train-job.ts';
