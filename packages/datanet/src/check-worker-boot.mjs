// Worker entry of the datanet check pool. Node 20 does not carry tsx's loader hooks into worker
// threads, so they are registered here before the TypeScript worker body is imported.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./check-worker.ts', import.meta.url).href);
