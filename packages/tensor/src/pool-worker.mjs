// Worker entry of createKernelPool. Node 20 does not carry tsx's loader hooks into worker threads, so
// register them here before importing the TypeScript worker body.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./pool-worker.ts', import.meta.url).href);
