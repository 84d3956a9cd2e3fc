// Credential values that go out in an HTTP header as they are: an OAuth access token (after
// `Bearer `, or wherever a provider's template puts it) and an API key (in the header a provider's
// template names). A header value holds printable ASCII only; undici refuses anything else
// (UND_ERR_INVALID_ARG), so a stored token with a Unicode ellipsis or a newline answered 502 on
// every proxy call. They are refused where they come in instead: POST /connections, the Connect
// flow's API key, a token endpoint's answer. Basic credentials go out base64-encoded
// (inject-credentials.ts), so any text is fine there; a refresh token goes in a request body.

/** Visible ASCII (0x21-0x7E): RFC 6750's b64token and every real token fit. Empty passes: a minimum length says that. */
export const HEADER_TOKEN_PATTERN = /^[\x21-\x7e]*$/;
/** Printable ASCII (0x20-0x7E) without a space at either end (a header value loses those). Empty passes, as above. */
export const HEADER_KEY_PATTERN = /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/;

export const HEADER_TOKEN_RULE = 'must contain only printable ASCII characters, without spaces (it is sent in an HTTP header)';
export const HEADER_KEY_RULE = 'must contain only printable ASCII characters, and no space at either end (it is sent in an HTTP header)';

export const isHeaderSafeToken = (value: string): boolean => value !== '' && HEADER_TOKEN_PATTERN.test(value);
