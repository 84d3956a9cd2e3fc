// The type checker's thread (runner/typecheck-thread.ts starts it): the TypeScript compiler and
// the syntax trees it parses live in this thread's heap, not in the server's.
import { parentPort } from 'node:worker_threads';
import type { CheckRequest, CheckReply } from './typecheck-thread.js';
import { typecheckFunctions } from './typecheck.js';

const port = parentPort;
if (port === null) throw new Error('typecheck-worker runs as a worker thread');

port.on('message', (request: CheckRequest) => {
  typecheckFunctions(request.sources, request.functionsDir, request.locations).then(
    (result) => port.postMessage({ id: request.id, result } satisfies CheckReply),
    (error: unknown) => port.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies CheckReply),
  );
});
