// The type checker's process (runner/typecheck-process.ts starts it): the TypeScript compiler and
// the syntax trees it parses live in this process's heap, not in the server's.
import type { CheckRequest, CheckReply } from './typecheck-process.js';
import { loadTypeScript, typecheckFunctions } from './typecheck.js';

const send = process.send?.bind(process);
if (send === undefined) throw new Error('typecheck-child runs as a child process with a message channel');

process.on('message', (request: CheckRequest) => {
  typecheckFunctions(request.sources, request.functionsDir, request.locations, request.buildInfoFile).then(
    (result) => send({ id: request.id, result } satisfies CheckReply),
    (error: unknown) => send({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies CheckReply),
  );
});
// The server went away (or stopped the checker): nothing is left to answer.
process.on('disconnect', () => process.exit(0));
// Started only when a check is coming (or about to: prepareTypecheckProcess): the compiler loads
// meanwhile the server gets the check ready, with its code cache when the process was given one.
void loadTypeScript(process.argv[2] === undefined || process.argv[2] === '' ? undefined : process.argv[2]);
