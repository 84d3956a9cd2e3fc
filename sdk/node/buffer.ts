// `Buffer` inside functions: the `buffer` package (Node's Buffer API in plain JavaScript), bundled
// only into functions that use it (runner/bundle.ts injects it for a free `Buffer` and resolves
// `buffer`/`node:buffer` here). Adds the `base64url` encoding Node has and the package lacks.
// Runs INSIDE the sandbox; imports nothing of the platform.
import { Buffer } from 'buffer/index.js';

type Encoding = string | undefined;

const isBase64Url = (encoding: unknown): boolean => typeof encoding === 'string' && encoding.toLowerCase() === 'base64url';
const toBase64Url = (base64: string): string => base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

// Patched once per bundle evaluation; the package's own base64 decoder already reads `-` and `_`.
const patched = Buffer as unknown as { __patchbayBase64Url?: boolean };
if (patched.__patchbayBase64Url !== true) {
  Object.defineProperty(Buffer, '__patchbayBase64Url', { value: true });
  const from = Buffer.from;
  const byteLength = Buffer.byteLength;
  const isEncoding = Buffer.isEncoding;
  const toString = Buffer.prototype.toString;
  const write = Buffer.prototype.write;
  Buffer.from = function (this: unknown, value: unknown, encodingOrOffset?: unknown, length?: unknown) {
    if (typeof value === 'string' && isBase64Url(encodingOrOffset)) return from.call(Buffer, value, 'base64');
    return (from as (...args: unknown[]) => Buffer).call(Buffer, value, encodingOrOffset, length);
  } as typeof Buffer.from;
  Buffer.byteLength = function (value: unknown, encoding?: Encoding) {
    return (byteLength as (...args: unknown[]) => number).call(Buffer, value, isBase64Url(encoding) ? 'base64' : encoding);
  } as typeof Buffer.byteLength;
  Buffer.isEncoding = (encoding: string) => isBase64Url(encoding) || isEncoding(encoding);
  Buffer.prototype.toString = function (this: Buffer, encoding?: Encoding, start?: number, end?: number) {
    if (isBase64Url(encoding)) return toBase64Url(toString.call(this, 'base64', start, end));
    return toString.call(this, encoding, start, end);
  };
  Buffer.prototype.write = function (this: Buffer, text: string, ...rest: unknown[]) {
    const args = rest.map((item) => (isBase64Url(item) ? 'base64' : item));
    return (write as (...args: unknown[]) => number).call(this, text, ...args);
  } as typeof Buffer.prototype.write;
}

export { Buffer };
export default { Buffer };
