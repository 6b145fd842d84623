// Entry point of a training child process: `node --import tsx child.ts <jobDir>`.
// Training runs in its own process so the node's event loop stays free and a crash or kill of
// either side loses at most the steps since the last checkpoint.
import { runTrainingJob } from './train-job.ts';

const jobDir = process.argv[2];
let stopRequested = false;
process.on('message', (message: { type?: string }) => {
  if (message?.type === 'cancel') stopRequested = true;
});
// the parent going away means nobody will read our results: stop at the next step
process.on('disconnect', () => {
  stopRequested = true;
});

const send = (message: unknown) => {
  if (process.connected) process.send?.(message);
};

try {
  const result = await runTrainingJob(jobDir, {
    progress: (progress) => send({ type: 'progress', progress }),
    log: (line) => send({ type: 'log', line }),
    shouldStop: () => stopRequested,
  });
  send(result === 'stopped' ? { type: 'stopped' } : { type: 'done', result });
  process.exitCode = 0;
} catch (error) {
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  process.exitCode = 1;
}
// let IPC flush, then leave
setTimeout(() => process.exit(), 50);
