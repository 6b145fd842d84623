// IEEE binary16 conversion lives in the model package (Node 20 has no Float16Array); the gradient
// store reads and writes its f16 payload with the same rounding as the model's F16 weights.
export { f16BitsToF32 as fromHalf, f32ToF16Bits as toHalf } from '@openledger/model';
