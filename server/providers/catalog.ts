// The provider catalog: providers.yaml (Nango's field names) merged with the optional
// PATCHBAY_PROVIDERS_FILE, read once at start-up into camelCase `Provider`s (provider.ts).
// Nango's own catalog (@nangohq/providers' providers.yaml) loads as it is: what Patchbay cannot
// use of a catalog that large is skipped with one warning (see THIRD_PARTY_CATALOG_MIN_ENTRIES).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { isPrototypeKey } from '../validate.js';
import { AUTH_MODES, isAuthMode, parseProvider, type Provider } from './provider.js';

export {
  AUTH_MODES,
  SUPPORTED_AUTH_MODES,
  type AuthMode,
  type FieldDefinition,
  type Provider,
  type ProviderRetry,
  type ProviderVerification,
} from './provider.js';

const CATALOG_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'providers.yaml');

/**
 * A providers file with at least this many entries is a catalog someone else maintains (Nango's
 * has about 1,000; an operator's own file has a handful). There, an entry Patchbay cannot use
 * (an auth mode it does not know, such as Nango's MCP_OAUTH2_GENERIC, or a field of a shape it
 * cannot read) is skipped and counted in one warning: start-up must not stop over a provider
 * nobody may use. In a smaller file the same entry is the operator's typo, and start-up stops
 * naming it. A file that is not valid YAML, or not a map, always stops start-up.
 */
const THIRD_PARTY_CATALOG_MIN_ENTRIES = 100;
/** Skipped entries named in the warning; the others are counted. */
const WARNING_EXAMPLES = 8;

export interface SkippedEntry {
  key: string;
  reason: string;
  /** The auth mode Patchbay does not know, when that is why. */
  authMode?: string | undefined;
  /** The entry overrode one of the bundled catalog, whose definition was kept. */
  keptBundled: boolean;
}

export interface CatalogWarning {
  file: string;
  entries: number;
  skipped: number;
  /** Unknown auth modes and how many entries use each. */
  authModes: Record<string, number>;
  examples: { key: string; reason: string }[];
}

export interface CatalogOptions {
  /** Called at most once per load, when entries of a third-party providers file were skipped. */
  onWarning?: (message: string, details: CatalogWarning) => void;
}

export interface Catalog {
  get(key: string): Provider | undefined;
  keys(): string[];
  /** Entries of the providers file left out at start-up, and why. */
  skipped(): readonly SkippedEntry[];
  /** Why `key` is not in the catalog although the providers file defines it. */
  whySkipped(key: string): string | undefined;
}

export class CatalogError extends Error {
  override name = 'CatalogError';
}

type Entries = Record<string, unknown>;
type EntryResult = { ok: true; provider: Provider } | { ok: false; reason: string; authMode?: string };

/** Loads the bundled catalog and, if given, the operator's providers file. Throws CatalogError. */
export function loadCatalog(overrideFile?: string, options: CatalogOptions = {}): Catalog {
  const bundled = readYamlMap(CATALOG_FILE);
  const overrides = overrideFile === undefined ? {} : readYamlMap(overrideFile);
  const lenient = Object.keys(overrides).length >= THIRD_PARTY_CATALOG_MIN_ENTRIES;
  const merged: Entries = { ...bundled };
  for (const [key, override] of Object.entries(overrides)) {
    merged[key] = bundled[key] === undefined || changesAuthMode(bundled[key], override) ? override : deepMerge(bundled[key], override);
  }

  const providers = new Map<string, Provider>();
  const skipped = new Map<string, SkippedEntry>();
  for (const key of Object.keys(merged)) {
    const result = readEntry(merged, key);
    if (result.ok) {
      providers.set(key, result.provider);
      continue;
    }
    if (!lenient || !Object.hasOwn(overrides, key)) {
      const source = overrideFile === undefined ? 'providers.yaml' : Object.hasOwn(overrides, key) ? overrideFile : `providers.yaml or ${overrideFile}`;
      throw new CatalogError(`provider ${key} in ${source} is invalid: ${result.reason}`);
    }
    // A provider that worked before the file was added keeps working.
    const fallback = bundled[key] === undefined ? undefined : readEntry(bundled, key);
    if (fallback?.ok) providers.set(key, fallback.provider);
    skipped.set(key, { key, reason: result.reason, authMode: result.authMode, keptBundled: fallback?.ok === true });
  }

  if (skipped.size > 0 && overrideFile !== undefined) {
    const warning = buildWarning(overrideFile, Object.keys(overrides).length, [...skipped.values()]);
    options.onWarning?.(warning.message, warning.details);
  }
  return {
    get: (key) => providers.get(key),
    keys: () => [...providers.keys()],
    skipped: () => [...skipped.values()],
    whySkipped: (key) => (providers.has(key) ? undefined : skipped.get(key)?.reason),
  };
}

function readEntry(entries: Entries, key: string): EntryResult {
  const resolved = resolveAlias(entries, key, []);
  if (!resolved.ok) return resolved;
  const authMode = (resolved.entry as { auth_mode?: unknown } | null)?.auth_mode;
  if (typeof resolved.entry === 'object' && resolved.entry !== null && !isAuthMode(authMode)) {
    if (authMode === undefined) return { ok: false, reason: 'auth_mode: missing' };
    return {
      ok: false,
      reason: `auth_mode: ${JSON.stringify(authMode)} is not an auth mode Patchbay knows (${AUTH_MODES.join(', ')})`,
      authMode: String(authMode),
    };
  }
  return parseProvider(key, resolved.entry);
}

/** Nango's alias: the target's fields, then the entry's own on top (a shallow merge, as Nango's loader does). */
function resolveAlias(entries: Entries, key: string, seen: string[]): { ok: true; entry: unknown } | { ok: false; reason: string } {
  const entry = entries[key];
  if (typeof entry !== 'object' || entry === null) return { ok: true, entry };
  const alias = (entry as { alias?: unknown }).alias;
  if (alias === undefined) return { ok: true, entry };
  if (typeof alias !== 'string' || seen.includes(alias) || alias === key || !Object.hasOwn(entries, alias)) {
    return { ok: false, reason: `alias: ${JSON.stringify(alias)} is unknown or circular` };
  }
  const target = resolveAlias(entries, alias, [...seen, key]);
  if (!target.ok) return target;
  const { alias: _alias, ...own } = entry as Record<string, unknown>;
  return { ok: true, entry: { ...(target.entry as Record<string, unknown>), ...own } };
}

function buildWarning(file: string, entries: number, skipped: SkippedEntry[]): { message: string; details: CatalogWarning } {
  const authModes: Record<string, number> = {};
  for (const entry of skipped) if (entry.authMode !== undefined) authModes[entry.authMode] = (authModes[entry.authMode] ?? 0) + 1;
  const unknownModes = skipped.filter((entry) => entry.authMode !== undefined).length;
  const invalid = skipped.length - unknownModes;
  const kept = skipped.filter((entry) => entry.keptBundled).length;
  const examples = skipped.slice(0, WARNING_EXAMPLES).map(({ key, reason }) => ({ key, reason }));
  const parts = [
    ...(unknownModes > 0 ? [`${unknownModes} with an auth mode Patchbay does not know (${Object.entries(authModes).map(([mode, count]) => `${mode} ×${count}`).join(', ')})`] : []),
    ...(invalid > 0 ? [`${invalid} with fields Patchbay cannot read`] : []),
  ];
  const named = examples.map((example) => example.key).join(', ');
  const more = skipped.length > examples.length ? ` and ${skipped.length - examples.length} more` : '';
  const keptText = kept > 0 ? `; Patchbay's own definition was kept for ${kept} of them` : '';
  return {
    message: `providers file ${file}: skipped ${skipped.length} of ${entries} entries: ${parts.join(', ')}: ${named}${more}${keptText}`,
    details: { file, entries, skipped: skipped.length, authModes, examples },
  };
}

function readYamlMap(file: string): Entries {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CatalogError(`cannot read providers file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let parsed: unknown;
  try {
    // js-yaml with YAML 1.2's core schema: the same values as the `yaml` package's default,
    // about 8 times faster (Nango's 1 MB catalog: ~150 ms instead of ~1.2 s).
    parsed = yaml.load(text, { schema: yaml.CORE_SCHEMA, filename: file });
  } catch (error) {
    throw new CatalogError(`providers file ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CatalogError(`providers file ${file} must be a map from provider key to definition`);
  }
  return { ...(parsed as Entries) };
}

/**
 * An entry with another auth mode is another provider under the same key (Nango's `stripe` is
 * Stripe Connect over OAuth, the bundled one a secret key): it replaces the bundled entry
 * rather than inheriting headers and a verification written for the other mode.
 */
function changesAuthMode(base: unknown, override: unknown): boolean {
  const mode = (value: unknown) => (isPlainObject(value) ? value.auth_mode : undefined);
  return mode(override) !== undefined && mode(override) !== mode(base);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (!isPrototypeKey(key)) merged[key] = deepMerge(base[key], value);
  }
  return merged;
}
