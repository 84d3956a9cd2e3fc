// Hash routing: `#/logs?state=failed` is a page and its search, so every view has a URL to share
// and bookmark, and the server serves one HTML page (GET /) whatever the view.
import { useEffect, useState } from 'preact/hooks';

export function parseHash(hash = location.hash) {
  const text = hash.replace(/^#/, '') || '/overview';
  const at = text.indexOf('?');
  const path = at === -1 ? text : text.slice(0, at);
  const params = Object.fromEntries(new URLSearchParams(at === -1 ? '' : text.slice(at + 1)));
  return { segments: path.split('/').filter(Boolean).map(decodeURIComponent), params };
}

export function hrefOf(segments, params = {}) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const query = search.toString();
  return `#/${segments.map(encodeURIComponent).join('/')}${query === '' ? '' : `?${query}`}`;
}

export function navigate(segments, params, { replace = false } = {}) {
  const href = hrefOf(segments, params);
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  dispatchEvent(new HashChangeEvent('hashchange'));
}

export function useRoute() {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const update = () => setRoute(parseHash());
    addEventListener('hashchange', update);
    addEventListener('popstate', update);
    return () => {
      removeEventListener('hashchange', update);
      removeEventListener('popstate', update);
    };
  }, []);
  return route;
}
