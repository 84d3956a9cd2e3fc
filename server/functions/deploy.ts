// Replaces the deployed set of functions: what POST /functions/deploy (`patchbay deploy`) and
// `patchbay start` (bin/deploy-at-start.ts) both do once their bundles are built and checked.
import type { DeployChanges, FunctionFailureInput, FunctionInput, Store } from '../store/index.js';

export interface DeployDeps {
  store: Store;
  /** Tells every process that the deployed set changed. */
  deployed(): void;
}

/**
 * Replaces the deployed set in one transaction (keeping the deployed version of each failure)
 * and announces it.
 */
export async function deployFunctions(deps: DeployDeps, inputs: FunctionInput[], failures: FunctionFailureInput[] = []): Promise<DeployChanges> {
  const changes = await deps.store.transaction((tx) => tx.functions.replaceAll(inputs, failures));
  deps.deployed();
  return changes;
}
