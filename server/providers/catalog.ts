// The provider catalog: providers.yaml (Nango's field names) merged with the optional
// PATCHBAY_PROVIDERS_FILE, validated once at start-up and mapped to camelCase `Provider`s.
// Unknown fields are tolerated so that entries pasted from Nango's catalog load as they are.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { z } from 'zod';

const CATALOG_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'providers.yaml');

export const AUTH_MODES = [
  'OAUTH2',
  'OAUTH2_CC',
  'API_KEY',
  'BASIC',
  'NONE',
  'OAUTH1',
  'APP',
  'CUSTOM',
  'JWT',
  'TWO_STEP',
  'SIGNATURE',
  'TBA',
  'BILL',
  'AWS_SIGV4',
  'MCP_OAUTH2',
] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** The auth modes Patchbay can import connections for and inject into proxied calls. */
export const SUPPORTED_AUTH_MODES: readonly AuthMode[] = ['OAUTH2', 'OAUTH2_CC', 'API_KEY', 'BASIC', 'NONE'];

const stringList = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));
const stringMap = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

const providerSchema = z.looseObject({
  display_name: z.string().optional(),
  categories: z.array(z.string()).optional(),
  auth_mode: z.enum(AUTH_MODES),
  docs: z.string().optional(),
  authorization_url: z.string().optional(),
  token_url: z.union([z.string(), z.record(z.string(), z.string())]).optional(),
  refresh_url: z.string().optional(),
  authorization_params: stringMap.optional(),
  token_params: stringMap.optional(),
  refresh_params: stringMap.optional(),
  authorization_method: z.enum(['body', 'header']).optional(),
  body_format: z.enum(['form', 'json']).optional(),
  scope_separator: z.string().optional(),
  default_scopes: z.array(z.string()).optional(),
  token_expiration_buffer: z.number().nonnegative().optional(),
  connection_config: z.record(z.string(), z.unknown()).optional(),
  proxy: z
    .looseObject({
      base_url: z.string().optional(),
      headers: stringMap.optional(),
      query: stringMap.optional(),
      decompress: z.boolean().optional(),
      retry: z
        .looseObject({
          at: stringList.optional(),
          after: stringList.optional(),
          remaining: z.string().optional(),
          error_code: z.array(z.union([z.string(), z.number()]).transform(String)).optional(),
        })
        .optional(),
      max_concurrency: z.number().int().positive().optional(),
      paginate: z.record(z.string(), z.unknown()).optional(),
      verification: z
        .looseObject({
          method: z.string().optional(),
          endpoints: z.array(z.string()).min(1),
          base_url_override: z.string().optional(),
          headers: stringMap.optional(),
        })
        .optional(),
    })
    .optional(),
});

type RawProvider = z.infer<typeof providerSchema>;

export interface ProviderRetry {
  /** Headers holding a reset time (epoch s/ms or an HTTP date). */
  at: string[];
  /** Headers holding a number of seconds to wait. */
  after: string[];
  /** Header holding the remaining quota; '0' means exhausted. */
  remaining: string | undefined;
  /** Statuses this provider wants retried ('403', '5xx', '500-502'); undefined: the defaults. */
  errorCodes: string[] | undefined;
}

export interface Provider {
  key: string;
  displayName: string;
  authMode: AuthMode;
  categories: string[];
  docs: string | undefined;
  authorizationUrl: string | undefined;
  tokenUrl: string | undefined;
  refreshUrl: string | undefined;
  tokenParams: Record<string, string>;
  refreshParams: Record<string, string>;
  authorizationMethod: 'body' | 'header';
  bodyFormat: 'form' | 'json';
  tokenExpirationBufferSec: number | undefined;
  proxy: {
    baseUrl: string | undefined;
    headers: Record<string, string>;
    query: Record<string, string>;
    decompress: boolean;
    retry: ProviderRetry;
    maxConcurrency: number | undefined;
    paginate: Record<string, unknown> | undefined;
    verification: { method: string; endpoints: string[]; baseUrlOverride: string | undefined } | undefined;
  };
}

export interface Catalog {
  get(key: string): Provider | undefined;
  keys(): string[];
}

export class CatalogError extends Error {
  override name = 'CatalogError';
}

/** Loads the bundled catalog and, if given, the operator's override file. Throws CatalogError. */
export function loadCatalog(overrideFile?: string): Catalog {
  const entries = readYamlMap(CATALOG_FILE);
  if (overrideFile !== undefined) {
    for (const [key, override] of Object.entries(readYamlMap(overrideFile))) {
      entries[key] = entries[key] === undefined ? override : deepMerge(entries[key], override);
    }
  }
  const providers = new Map<string, Provider>();
  for (const key of Object.keys(entries)) {
    providers.set(key, toProvider(key, resolveAlias(entries, key, []), overrideFile));
  }
  return {
    get: (key) => providers.get(key),
    keys: () => [...providers.keys()],
  };
}

function readYamlMap(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CatalogError(`cannot read providers file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (error) {
    throw new CatalogError(`providers file ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CatalogError(`providers file ${file} must be a map from provider key to definition`);
  }
  return { ...(parsed as Record<string, unknown>) };
}

function resolveAlias(entries: Record<string, unknown>, key: string, seen: string[]): unknown {
  const entry = entries[key];
  if (typeof entry !== 'object' || entry === null) return entry;
  const alias = (entry as { alias?: unknown }).alias;
  if (typeof alias !== 'string') return entry;
  if (seen.includes(alias) || entries[alias] === undefined) {
    throw new CatalogError(`provider ${key}: alias '${alias}' is unknown or circular`);
  }
  const { alias: _ignored, ...own } = entry as Record<string, unknown>;
  return deepMerge(resolveAlias(entries, alias, [...seen, key]), own);
}

function toProvider(key: string, raw: unknown, overrideFile: string | undefined): Provider {
  const parsed = providerSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    const source = overrideFile === undefined ? 'providers.yaml' : `providers.yaml or ${overrideFile}`;
    throw new CatalogError(`provider ${key} in ${source} is invalid: ${where}${issue?.message ?? 'bad definition'}`);
  }
  const p: RawProvider = parsed.data;
  const tokenUrl = typeof p.token_url === 'string' ? p.token_url : (p.token_url?.[p.auth_mode] ?? p.token_url?.OAUTH2);
  return {
    key,
    displayName: p.display_name ?? key,
    authMode: p.auth_mode,
    categories: p.categories ?? [],
    docs: p.docs,
    authorizationUrl: p.authorization_url,
    tokenUrl,
    refreshUrl: p.refresh_url,
    tokenParams: p.token_params ?? {},
    refreshParams: p.refresh_params ?? {},
    authorizationMethod: p.authorization_method ?? 'body',
    bodyFormat: p.body_format ?? 'form',
    tokenExpirationBufferSec: p.token_expiration_buffer,
    proxy: {
      baseUrl: p.proxy?.base_url,
      headers: lowerCaseKeys(p.proxy?.headers ?? {}),
      query: p.proxy?.query ?? {},
      decompress: p.proxy?.decompress ?? false,
      retry: {
        at: (p.proxy?.retry?.at ?? []).map((h) => h.toLowerCase()),
        after: (p.proxy?.retry?.after ?? []).map((h) => h.toLowerCase()),
        remaining: p.proxy?.retry?.remaining?.toLowerCase(),
        errorCodes: p.proxy?.retry?.error_code,
      },
      maxConcurrency: p.proxy?.max_concurrency,
      paginate: p.proxy?.paginate,
      verification: p.proxy?.verification
        ? {
            method: (p.proxy.verification.method ?? 'GET').toUpperCase(),
            endpoints: p.proxy.verification.endpoints,
            baseUrlOverride: p.proxy.verification.base_url_override,
          }
        : undefined,
    },
  };
}

function lowerCaseKeys(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k.toLowerCase(), v]));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = deepMerge(base[key], value);
  return merged;
}
