// Turns untrusted route input into typed values with a zod schema, or a 400 whose errors[]
// names each offending field (contract: `{code, message, path}`).
import type { z } from 'zod';
import { validationError, type ValidationIssue } from './errors.js';

type InputKind = 'invalid_headers' | 'invalid_query_params' | 'invalid_body' | 'invalid_uri_params';

export function parseInput<S extends z.ZodType>(schema: S, value: unknown, kind: InputKind): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors: ValidationIssue[] = result.error.issues.map((issue) => ({
    code: issue.code,
    message: issue.message,
    path: issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part)),
  }));
  throw validationError(kind, errors);
}
