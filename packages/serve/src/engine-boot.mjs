// Worker entry of the serving engine. Node 20 does not carry tsx's loader hooks into worker
// threads, so they are registered here before the TypeScript worker body is imported.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./engine-worker.ts', import.meta.url).href);
