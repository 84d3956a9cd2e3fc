#!/usr/bin/env -S node --no-node-snapshot
// patchbay start | server | runner | deploy | dryrun — construct, wire, start.
// V8's default young generation (16 MB semi-spaces) is kept: --max-semi-space-size=4 took ~16 MB
// off the idle process but cost /proxy about a third of its throughput at 64 connections
// (bench:proxy, two runs each: 0.57–0.66 of a reply-from forwarder against 0.77–0.95).
import pino from 'pino';
import { ConfigError, loadConfig } from '../server/config.js';
import { CatalogError } from '../server/providers/catalog.js';
import type { Role } from './system.js';
// Each command loads its own modules (`deploy` and `dryrun` esbuild, `start` the system), so that
// a start does not load the bundler and `--help` loads nothing.

const USAGE = `usage: patchbay <command>

  start    HTTP server and runner (on its own thread) in one process (embedded PostgreSQL when DATABASE_URL is unset)
  server   HTTP API only
  runner   function worker only
  deploy   bundle ./functions (PATCHBAY_FUNCTIONS_DIR) and upload it to a running server (PATCHBAY_URL);
           a function that does not build is reported and keeps its deployed version
           --strict: deploy nothing when any function does not build (for CI)
  dryrun   run one local function once on a running server against a real connection, without
           deploying it or storing anything: patchbay dryrun <integration> <function> <connection-id>
           [--input JSON|@file] [--metadata JSON|@file] [--save-responses DIR] [--json] …
           (patchbay dryrun --help for every option; exit code 0 success, 1 failure, 2 usage)
`;

const ROLES: Record<string, Role[]> = { start: ['server', 'runner'], server: ['server'], runner: ['runner'] };
// After a fatal error, how long stopping may take before the process exits anyway: with the
// database gone, a part waiting on it must not hold the exit.
const FATAL_STOP_MS = 10_000;

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  const roles = command === undefined ? undefined : ROLES[command];
  const flags = argv.slice(1);
  if (command === 'dryrun') return dryRun(argv.slice(1));
  const knownFlags = command === 'deploy' ? ['--strict'] : [];
  if ((roles === undefined && command !== 'deploy') || flags.some((flag) => !knownFlags.includes(flag))) {
    const asked = command === undefined || command === 'help' || command === '--help' || command === '-h';
    (asked ? process.stdout : process.stderr).write(USAGE);
    return asked ? 0 : 2;
  }
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`patchbay: invalid configuration: ${error.message}\n`);
      return 1;
    }
    throw error;
  }

  if (roles === undefined) {
    const { deployToServer } = await import('./deploy.js');
    try {
      await deployToServer(config, process.stdout, { strict: flags.includes('--strict') });
      return 0;
    } catch (error) {
      process.stderr.write(`patchbay: deploy failed: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
  }

  // A failure the process cannot carry on after (the embedded PostgreSQL gone for good).
  let onFatal!: (error: Error) => void;
  const fatal = new Promise<Error>((resolve) => (onFatal = resolve));

  // `start` knows whether its functions must be built before it loads the server: when they must,
  // the build (the type check process loading TypeScript) begins while the server's modules load.
  const logger = pino({ level: config.logLevel, base: { app: 'patchbay' } });
  let startDeploy;
  if (command === 'start') {
    const { beginStartDeploy } = await import('./deploy-at-start.js');
    startDeploy = beginStartDeploy(config, logger);
  }
  const { startSystem } = await import('./system.js');
  let system;
  try {
    system = await startSystem(config, { roles, logger, deployFunctions: command === 'start', startDeploy, onFatal });
  } catch (error) {
    // By name: the bundler's module is not loaded to recognise its error.
    if (error instanceof Error && error.name === 'BundleError') {
      process.stderr.write(`patchbay: the functions in ${config.functionsDir} do not build; nothing was deployed:\n${error.message}\n`);
      return 1;
    }
    if (error instanceof ConfigError || error instanceof CatalogError) {
      process.stderr.write(`patchbay: ${error instanceof ConfigError ? 'invalid configuration: ' : ''}${error.message}\n`);
      return 1;
    }
    throw error;
  }

  // Listening before saying we run: a SIGTERM sent as soon as the line below is read must find a
  // handler (without one, Node leaves the signal to its default action and the process dies
  // without stopping PostgreSQL).
  const stopAsked = new Promise<undefined>((resolve) => {
    const shutdown = () => resolve(undefined);
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
    process.once('SIGHUP', shutdown);
  });
  if (system.url !== undefined) {
    const lines = [
      '',
      `  Patchbay is running at ${system.url}`,
      `  Secret key: ${system.secretKey}${system.generatedSecretKey ? ' (generated, kept in the data directory)' : ''}`,
      `  Database:   ${system.embedded ? `embedded PostgreSQL in ${config.dataDir}` : 'DATABASE_URL'}`,
      '',
      `  curl -H 'Authorization: Bearer ${system.secretKey}' ${system.url}/integrations`,
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } else if (system.worker !== undefined) {
    process.stdout.write(`Patchbay runner ${system.worker.id} is running\n`);
  }

  const error = await Promise.race([fatal, stopAsked]);
  if (error === undefined) {
    await system.stop();
    return 0;
  }
  process.stderr.write(`patchbay: ${error.message}\n`);
  await Promise.race([system.stop(), new Promise((resolve) => setTimeout(resolve, FATAL_STOP_MS).unref())]);
  return 1;
}

async function dryRun(argv: string[]): Promise<number> {
  const { DRY_RUN_USAGE, dryRunCommand, EXIT_USAGE, parseDryRunArgs, UsageError } = await import('./dryrun.js');
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(DRY_RUN_USAGE);
    return 0;
  }
  let args;
  try {
    args = parseDryRunArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`patchbay dryrun: ${error.message}\n\n${DRY_RUN_USAGE}`);
    return EXIT_USAGE;
  }
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`patchbay: invalid configuration: ${error.message}\n`);
    return 1;
  }
  try {
    return await dryRunCommand(config, args, process.stdout, process.stderr);
  } catch (error) {
    process.stderr.write(`patchbay dryrun: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`patchbay: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
