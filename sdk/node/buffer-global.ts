// What runner/bundle.ts injects for a free `Buffer` in a function: the bundled Buffer shim. Kept
// apart from it so that a function that never names Buffer carries none of it.
export { Buffer } from 'buffer';
