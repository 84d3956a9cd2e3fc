// The largest inputs the host's synchronous services and operations take from a function. A
// service runs on the runner's event loop and cannot be interrupted once called, so its input
// bounds its time and memory (security review: one `new URLSearchParams('a=b&'.repeat(5e6))` held
// the host's loop 9 s). The guest refuses an oversized input before copying it out of the
// isolate; the host (bridge.ts) checks again. Numbers only: this file runs INSIDE the isolate too.
// Times are the worst input at the bound on the 2-core machine this was measured on (Node 20).

// Servers refuse far shorter request lines (Node's and nginx's defaults are 16 KB and 8 KB;
// Salesforce's REST API 16,384 chars), and Chromium draws its line at 2 MiB. 256 Ki leaves room for
// small data: URLs, and parses in ~25 ms even when every character must be percent-encoded.
export const MAX_URL_CHARS = 256 * 1024;

// A query string, or a form body (application/x-www-form-urlencoded). Serializing 256 Ki
// characters that all need escaping takes ~80 ms (Node's encoder is plain JavaScript); bigger
// uploads go as JSON or a string the function builds.
export const MAX_QUERY_CHARS = 256 * 1024;

// Parsing costs ~1 µs a pair whatever their length: the finding's 5,000,000 pairs took seconds.
// A URL holds a few hundred; 10,000 covers any form and parses in ~7 ms.
export const MAX_QUERY_PAIRS = 10_000;

// TextEncoder, TextDecoder, btoa and atob input, in characters (or bytes for decode). A function
// may read a whole 10 MiB response (runner/operations.ts, MAX_FUNCTION_RESPONSE_BYTES) and
// decode, re-encode or base64 it: 10 MiB is 13.4 Mi characters of base64. Worst case at the
// bound: ~300 ms (UTF-8 encoding of 16 Mi non-ASCII characters).
export const MAX_CODEC_INPUT = 16 * 1024 * 1024;

// WHATWG Encoding's longest label is 19 characters; leading and trailing whitespace is allowed.
export const MAX_ENCODING_LABEL_CHARS = 64;

// The JSON of one operation's arguments (nango.proxy's config and JSON body, a batchSave
// batch, metadata, a checkpoint): a JSON body as large as the largest response a function may
// read (10 MiB), or 10,000 records (MAX_RECORDS_PER_CALL) of ~1.6 KB each. The host parses it in
// ~100 ms.
export const MAX_CALL_JSON_CHARS = 16 * 1024 * 1024;

// A binary request body (nango.post({data: Uint8Array})): a 10 MiB file and then some. Copied as
// one block, so its cost is a memcpy.
export const MAX_CALL_BODY_BYTES = 16 * 1024 * 1024;

// The run's log keeps lines of 8 KB (runner/context.ts): a longer message or metadata would be
// cut there, so it is cut before it crosses.
export const MAX_LOG_MESSAGE_CHARS = 32 * 1024;
export const MAX_LOG_META_CHARS = 8 * 1024;

// crypto.createHash/createHmac input: hashed on the host in one call at digest(), so the bound is
// the codec bound (a whole 10 MiB response, decoded or re-encoded, signed: ~40 ms of SHA-256).
export const MAX_HASH_INPUT_BYTES = MAX_CODEC_INPUT;

// An HMAC key is a shared secret of a few dozen bytes; 64 KiB covers any PEM-sized secret.
export const MAX_HMAC_KEY_BYTES = 64 * 1024;

// crypto.randomBytes: 1 MiB is far above any nonce or id and costs ~1 ms to fill.
export const MAX_RANDOM_BYTES_TOTAL = 1024 * 1024;

// A key for crypto.createSign/createVerify/sign/verify (PEM or DER), a signature, a pbkdf2 password
// or salt: an RSA-8192 private key in PEM is ~6.4 KB; 64 KiB covers any key with room to spare.
export const MAX_CRYPTO_KEY_BYTES = 64 * 1024;

// pbkdf2Sync: OWASP asks 600,000 iterations of PBKDF2-SHA256 (2023); 1,000,000 SHA-512 blocks
// take ~430 ms on the host (crypto-services.ts bounds iterations × output blocks by this too).
export const MAX_PBKDF2_ITERATIONS = 1_000_000;
export const MAX_DERIVED_KEY_BYTES = 1024;

// createCipheriv's iv: 12 bytes for GCM by convention, 16 for CBC and CTR; GCM takes longer ones.
export const MAX_CIPHER_IV_BYTES = 256;
