// Patchbay Connect UI: an end user picks an integration and connects their account with a
// Connect session token. Framed by @nangohq/frontend's openConnectUI (the token arrives in the
// parent's `session_token` message) or opened from a connect_link (`?session_token=`).
// Plain browser JS, no build step. The token stays in memory: never in storage, never logged.

// @nangohq/frontend's popup size, so an OAuth consent screen looks the same from either.
const POPUP_WIDTH = 500;
const POPUP_HEIGHT = 600;
// How often a closed popup is noticed (as @nangohq/frontend polls).
const POPUP_POLL_MS = 500;
// The callback page closes itself once the server has sent the result: the socket's message may
// land just after the window is gone, so a closed popup is a cancel only after this long.
const CLOSED_POPUP_GRACE_MS = 1500;
// Auth modes connected in a popup (Patchbay's /oauth/connect), and those with a credentials form.
const POPUP_MODES = new Set(['OAUTH1', 'OAUTH2', 'APP', 'CUSTOM', 'MCP_OAUTH2']);
const FORM_PATHS = { API_KEY: 'api-key', BASIC: 'basic' };
// What a credentials form asks for when the integration does not describe its fields.
const DEFAULT_CREDENTIALS = {
  API_KEY: { apiKey: { title: 'API key', secret: true } },
  BASIC: { username: { title: 'Username', secret: false }, password: { title: 'Password', secret: true } },
};

const query = new URLSearchParams(location.search);
const framed = window.parent !== window;
const viewEl = document.getElementById('view');
const backButton = document.getElementById('back');
const closeButton = document.getElementById('close');

const state = {
  token: null,
  // Bumped for every token: answers to an older token's requests are dropped.
  generation: 0,
  session: null,
  integrations: [],
  // The OAuth popup in progress: { popup, socket, timer, closedAt, settled }.
  flow: null,
  finished: false,
};

const apiUrl = parseApiUrl(query.get('apiURL'));

setup();

function setup() {
  if (framed) document.documentElement.classList.add('framed');
  const theme = query.get('theme');
  // The app's choice, else the system's: one set of dark colours in the CSS serves both.
  document.documentElement.dataset.theme =
    theme === 'light' || theme === 'dark' ? theme : window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';

  closeButton.addEventListener('click', requestClose);
  backButton.addEventListener('click', () => {
    cancelFlow();
    renderList();
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') requestClose();
  });
  window.addEventListener('message', (event) => {
    // Only the page that framed us hands out the token. Its origin is the customer's and unknown
    // here; the token it sends is its own capability, so the source check is the one that matters.
    if (!framed || event.source !== window.parent) return;
    const data = event.data;
    if (data && data.type === 'session_token' && typeof data.sessionToken === 'string' && data.sessionToken !== '') start(data.sessionToken);
  });

  const linkToken = query.get('session_token');
  if (linkToken) {
    // Out of the address bar and history: the URL is the one place the token could be seen.
    const clean = new URL(location.href);
    clean.searchParams.delete('session_token');
    history.replaceState(null, '', clean.pathname + clean.search + clean.hash);
  }

  if (apiUrl === null) {
    fail('invalid_host_url', `The apiURL parameter must be this server's address (${location.origin}).`);
  } else if (linkToken) {
    start(linkToken);
  } else if (!framed) {
    fail('missing_connect_session_token', 'This page needs a Connect session token. Open it from your app, or from a connect link.');
  }
  // Both ends of @nangohq/frontend's handshake: `ready` asks the parent for the token.
  if (framed) emit({ type: 'ready' });
}

/** The API's base URL: this origin (the CSP allows no other), optionally with a path prefix. */
function parseApiUrl(value) {
  if (!value) return location.origin;
  let url;
  try {
    url = new URL(value, location.href);
  } catch {
    return null;
  }
  if (url.origin !== location.origin) return null;
  return (url.origin + url.pathname).replace(/\/+$/, '');
}

function emit(event) {
  // targetOrigin '*' as Nango's Connect UI does: the parent's origin is not known here, and no
  // event carries a secret (connection ids only).
  if (framed) window.parent.postMessage(event, '*');
}

async function start(token) {
  if (token === state.token) return;
  cancelFlow();
  state.token = token;
  state.finished = false;
  const generation = ++state.generation;
  renderLoading('Loading…');

  const [session, integrations] = await Promise.all([call('GET', '/connect/session'), call('GET', '/connect/integrations')]);
  if (generation !== state.generation) return;
  const failed = !session.ok ? session : !integrations.ok ? integrations : null;
  if (failed) {
    fail(failed.error.code, failed.error.message);
    return;
  }
  const data = session.data && session.data.data;
  const list = integrations.data && integrations.data.data;
  if (!data || !Array.isArray(list)) {
    fail('unknown_error', 'The server answered in an unexpected shape.');
    return;
  }
  state.session = data;
  const allowed = Array.isArray(data.allowed_integrations) && data.allowed_integrations.length > 0 ? new Set(data.allowed_integrations) : null;
  state.integrations = list.filter((integration) => integration && typeof integration.unique_key === 'string' && (allowed === null || allowed.has(integration.unique_key)));
  renderList();
}

/** One API call; never throws. Errors come back as {code, message} from Patchbay's error shape. */
async function call(method, path, { body, search = '', bearer = true } = {}) {
  const headers = { accept: 'application/json' };
  if (bearer) headers.authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(apiUrl + path + search, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    });
  } catch {
    return { ok: false, status: 0, error: { code: 'network_error', message: 'The server could not be reached. Check your connection and try again.' } };
  }
  let json = null;
  try {
    json = await response.json();
  } catch {
    json = null;
  }
  if (response.ok) return { ok: true, status: response.status, data: json };
  const error = json && typeof json.error === 'object' && json.error !== null ? json.error : {};
  return {
    ok: false,
    status: response.status,
    error: {
      code: typeof error.code === 'string' ? error.code : 'unknown_error',
      message: typeof error.message === 'string' ? error.message : `The server answered with status ${response.status}.`,
    },
  };
}

function isSessionError(code) {
  return code === 'invalid_connect_session_token' || code === 'expired_connect_session_token';
}

// ---------------------------------------------------------------- flows

function fieldsOf(integration) {
  const defaults = configDefaultsOf(integration);
  const fields = [];
  const popup = POPUP_MODES.has(integration.auth_mode);
  const credentials = popup ? {} : integration.credentials && Object.keys(integration.credentials).length > 0 ? integration.credentials : DEFAULT_CREDENTIALS[integration.auth_mode] || {};
  for (const [key, spec] of Object.entries(credentials)) {
    fields.push({ kind: 'credentials', key, spec: spec || {}, secret: Boolean(spec && spec.secret), optional: false });
  }
  for (const [key, spec] of Object.entries(integration.connection_config || {})) {
    // A value the app set in integrations_config_defaults is sent, not asked for.
    if (key in defaults) continue;
    fields.push({ kind: 'params', key, spec: spec || {}, secret: Boolean(spec && spec.secret), optional: Boolean(spec && spec.optional) });
  }
  return fields;
}

function configDefaultsOf(integration) {
  const all = state.session && state.session.integrations_config_defaults;
  const config = all && all[integration.unique_key] && all[integration.unique_key].connection_config;
  const defaults = {};
  for (const [key, value] of Object.entries(config || {})) {
    if (typeof value === 'string' && value !== '') defaults[key] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') defaults[key] = String(value);
  }
  return defaults;
}

function isSupported(integration) {
  return POPUP_MODES.has(integration.auth_mode) || integration.auth_mode in FORM_PATHS;
}

/** `connect_session_token=…&params[key]=value…`, bracket keys literal as @nangohq/frontend writes them. */
function authQuery(params, extra = {}) {
  const parts = [`connect_session_token=${encodeURIComponent(state.token)}`];
  for (const [key, value] of Object.entries(extra)) parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  for (const [key, value] of Object.entries(params)) parts.push(`params[${encodeURIComponent(key)}]=${encodeURIComponent(value)}`);
  return `?${parts.join('&')}`;
}

function chooseIntegration(integration) {
  // An OAuth integration with nothing to fill in starts at once: the popup must open inside this
  // click, or popup blockers stop it.
  renderIntegration(integration);
  if (POPUP_MODES.has(integration.auth_mode) && fieldsOf(integration).length === 0) startOAuth(integration, configDefaultsOf(integration));
}

function startOAuth(integration, params) {
  cancelFlow();
  // Synchronously inside the click or submit, as @nangohq/frontend does: an empty window first,
  // its address set once the server has acknowledged the socket.
  const popup = window.open('', '_blank', popupFeatures());
  if (!popup) {
    renderIntegration(integration, { error: 'Your browser blocked the pop-up. Allow pop-ups for this page and try again.' });
    return;
  }
  let socket;
  try {
    socket = new WebSocket(new URL('/', apiUrl + '/').href.replace(/^http/, 'ws'));
  } catch {
    popup.close();
    renderIntegration(integration, { error: 'The server could not be reached. Try again.' });
    return;
  }
  const flow = { popup, socket, timer: null, closedAt: null, settled: false };
  state.flow = flow;
  renderWaiting(integration);

  const settle = (after) => {
    if (flow.settled) return;
    endFlow(flow);
    after();
  };
  socket.addEventListener('message', (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (!message || typeof message !== 'object') return;
    if (message.message_type === 'connection_ack' && typeof message.ws_client_id === 'string') {
      if (!popup.closed) popup.location.href = `${apiUrl}/oauth/connect/${encodeURIComponent(integration.unique_key)}${authQuery(params, { ws_client_id: message.ws_client_id })}`;
    } else if (message.message_type === 'success') {
      settle(() =>
        connected(integration, {
          providerConfigKey: String(message.provider_config_key || integration.unique_key),
          connectionId: String(message.connection_id || ''),
          isPending: message.is_pending === true,
        }),
      );
    } else if (message.message_type === 'error') {
      const reason = typeof message.error_desc === 'string' && message.error_desc !== '' ? message.error_desc : String(message.error_type || 'unknown error');
      settle(() => renderIntegration(integration, { error: `The connection failed: ${reason}` }));
    }
  });
  socket.addEventListener('close', () => settle(() => renderIntegration(integration, { error: 'The connection to the server was lost before the account was connected. Try again.' })));
  flow.timer = setInterval(() => {
    if (!popup.closed) return;
    flow.closedAt = flow.closedAt || Date.now();
    if (Date.now() - flow.closedAt >= CLOSED_POPUP_GRACE_MS) {
      settle(() => renderIntegration(integration, { error: 'The pop-up was closed before the account was connected. Try again.' }));
    }
  }, POPUP_POLL_MS);
}

function endFlow(flow) {
  flow.settled = true;
  clearInterval(flow.timer);
  try {
    flow.socket.close();
  } catch {
    // already closed
  }
  // A moment later, as @nangohq/frontend does, so the callback page can finish first.
  setTimeout(() => {
    if (!flow.popup.closed) flow.popup.close();
  }, 500);
  if (state.flow === flow) state.flow = null;
}

function cancelFlow() {
  const flow = state.flow;
  if (!flow) return;
  flow.settled = true;
  clearInterval(flow.timer);
  try {
    flow.socket.close();
  } catch {
    // already closed
  }
  if (!flow.popup.closed) flow.popup.close();
  state.flow = null;
}

function popupFeatures() {
  const width = Math.min(POPUP_WIDTH, screen.width);
  const height = Math.min(POPUP_HEIGHT, screen.height);
  const left = Math.max(0, screen.width / 2 - POPUP_WIDTH / 2);
  const top = Math.max(0, screen.height / 2 - POPUP_HEIGHT / 2);
  return `width=${width},height=${height},left=${left},top=${top},scrollbars=yes,resizable=yes,status=no,toolbar=no,location=no,menubar=no`;
}

async function submitCredentials(integration, values, form) {
  const generation = state.generation;
  const submit = form.querySelector('button[type="submit"]');
  submit.disabled = true;
  submit.textContent = 'Connecting…';
  form.setAttribute('aria-busy', 'true');
  const result = await call('POST', `/api-auth/${FORM_PATHS[integration.auth_mode]}/${encodeURIComponent(integration.unique_key)}`, {
    body: values.credentials,
    search: authQuery({ ...configDefaultsOf(integration), ...values.params }),
    bearer: false,
  });
  if (generation !== state.generation) return;
  if (result.ok && result.data && typeof result.data.connectionId === 'string') {
    connected(integration, { providerConfigKey: String(result.data.providerConfigKey || integration.unique_key), connectionId: result.data.connectionId, isPending: false });
    return;
  }
  if (!result.ok && isSessionError(result.error.code)) {
    fail(result.error.code, result.error.message);
    return;
  }
  const message = result.ok
    ? 'The server answered in an unexpected shape.'
    : result.error.code === 'connection_test_failed'
      ? `${integration.display_name || integration.unique_key} did not accept these credentials. Check them and try again.`
      : result.error.message;
  renderIntegration(integration, { error: message, values });
}

function connected(integration, result) {
  state.finished = true;
  const payload = { providerConfigKey: result.providerConfigKey, connectionId: result.connectionId };
  if (result.isPending) payload.isPending = true;
  emit({ type: 'connect', payload });
  renderSuccess(integration);
}

function requestClose() {
  cancelFlow();
  if (framed) emit({ type: 'close' });
  else renderDone();
}

function fail(errorType, errorMessage) {
  cancelFlow();
  emit({ type: 'error', payload: { errorType, errorMessage } });
  const titles = {
    expired_connect_session_token: 'This link has expired',
    invalid_connect_session_token: 'This link is not valid',
  };
  const advice = isSessionError(errorType) ? 'Go back to the app and start again.' : null;
  renderOutcome({ ok: false, title: titles[errorType] || 'Something went wrong', message: errorMessage, advice, action: 'Close', onAction: requestClose });
  backButton.hidden = true;
}

// ---------------------------------------------------------------- views

function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'text') element.textContent = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

function icon(pathData, className) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', className);
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', pathData);
  svg.append(path);
  return svg;
}

function avatar(integration, large) {
  const name = integration.display_name || integration.unique_key;
  let hash = 0;
  for (const char of integration.unique_key) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return h('span', { class: `avatar avatar-${hash % 6}${large ? ' large' : ''}`, 'aria-hidden': 'true', text: name.trim().charAt(0) || '?' });
}

function show(nodes, focus) {
  viewEl.replaceChildren(...nodes);
  // Keyboard and screen-reader users land on the new view, not on a removed button.
  const target = focus || viewEl.querySelector('h1');
  if (target) {
    if (target.tagName === 'H1') target.setAttribute('tabindex', '-1');
    target.focus({ preventScroll: true });
  }
}

function renderLoading(text) {
  backButton.hidden = true;
  viewEl.replaceChildren(
    h('h1', { id: 'title', class: 'visually-hidden', text: 'Connect an account' }),
    h('div', { class: 'status', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', { text })),
  );
}

function renderList() {
  backButton.hidden = true;
  const reconnecting = Boolean(state.session && state.session.isReconnecting);
  const title = reconnecting ? 'Reconnect your account' : 'Connect an account';
  const items = state.integrations.map((integration) =>
    h(
      'li',
      {},
      h(
        'button',
        { type: 'button', class: 'integration', onclick: () => chooseIntegration(integration) },
        avatar(integration, false),
        h('span', { class: 'name', text: integration.display_name || integration.unique_key }),
        icon('M9 5l7 7-7 7', 'chevron'),
      ),
    ),
  );
  show([
    h('h1', { id: 'title', text: title }),
    h('p', { class: 'lead', text: items.length > 0 ? 'Choose the service to connect.' : '' }),
    items.length > 0 ? h('ul', { class: 'integrations', 'aria-labelledby': 'title' }, items) : h('p', { class: 'empty', text: 'No integrations are available for this session.' }),
  ]);
}

function renderIntegration(integration, { error = null, values = null } = {}) {
  backButton.hidden = state.integrations.length < 2;
  const name = integration.display_name || integration.unique_key;
  const heading = [avatar(integration, true), h('h1', { id: 'title', text: `Connect ${name}` })];

  if (!isSupported(integration)) {
    show([...heading, h('p', { class: 'lead', text: `${name} cannot be connected from this page.` })]);
    return;
  }

  const fields = fieldsOf(integration);
  const popup = POPUP_MODES.has(integration.auth_mode);
  const alert = error ? h('p', { class: 'alert', role: 'alert', text: error }) : null;
  const inputs = fields.map((field, index) => fieldRow(field, index, values));
  const form = h(
    'form',
    { novalidate: true, 'aria-labelledby': 'title' },
    alert,
    inputs.map((row) => row.element),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', text: popup ? `Continue to ${name}` : 'Connect' })),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const collected = collect(inputs);
    if (collected === null) return;
    // No await before startOAuth: the popup opens inside this submit event.
    if (popup) startOAuth(integration, { ...configDefaultsOf(integration), ...collected.params });
    else void submitCredentials(integration, collected, form);
  });

  const lead = popup
    ? fields.length > 0
      ? `Fill in these details, then sign in to ${name} in the pop-up window.`
      : `Sign in to ${name} in a pop-up window to connect your account.`
    : `Enter your ${name} credentials to connect your account.`;
  const firstInput = inputs.length > 0 ? inputs[0].input : null;
  show([...heading, h('p', { class: 'lead', text: lead }), form], error ? null : firstInput);
}

function fieldRow(field, index, values) {
  const id = `field-${index}`;
  const spec = field.spec;
  const title = typeof spec.title === 'string' && spec.title !== '' ? spec.title : field.key;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const hint = typeof spec.description === 'string' && spec.description !== '' ? h('p', { class: 'hint', id: hintId, text: spec.description }) : null;
  // Typed values survive a failed attempt, except secrets.
  const previous = values && values[field.kind] && !field.secret ? values[field.kind][field.key] : undefined;
  const input = h('input', {
    id,
    name: `${field.kind}.${field.key}`,
    type: field.secret ? 'password' : 'text',
    required: !field.optional,
    autocomplete: 'off',
    autocapitalize: 'off',
    spellcheck: 'false',
    placeholder: typeof spec.example === 'string' ? spec.example : undefined,
    'aria-describedby': hint ? hintId : undefined,
  });
  if (typeof previous === 'string') input.value = previous;
  const errorText = h('p', { class: 'field-error', id: errorId, hidden: true });
  const label = h('label', { for: id }, title, field.optional ? h('span', { class: 'optional', text: ' (optional)' }) : null);
  return { field, input, errorText, title, element: h('div', { class: 'field' }, label, hint, input, errorText) };
}

/** The form's values, or null after marking what is missing or malformed. */
function collect(rows) {
  const values = { credentials: {}, params: {} };
  let firstBad = null;
  for (const row of rows) {
    const { field, input, errorText, title } = row;
    const value = field.secret ? input.value : input.value.trim();
    let problem = null;
    if (value === '' && !field.optional) problem = `${title} is required.`;
    else if (value !== '' && typeof field.spec.pattern === 'string' && !matches(field.spec.pattern, value)) problem = `${title} is not in the expected format.`;
    errorText.textContent = problem || '';
    errorText.hidden = problem === null;
    if (problem) {
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', [input.getAttribute('aria-describedby'), errorText.id].filter(Boolean).join(' '));
      firstBad = firstBad || input;
    } else {
      input.removeAttribute('aria-invalid');
      const described = (input.getAttribute('aria-describedby') || '').split(' ').filter((item) => item && item !== errorText.id);
      if (described.length > 0) input.setAttribute('aria-describedby', described.join(' '));
      else input.removeAttribute('aria-describedby');
    }
    if (value !== '') values[field.kind][field.key] = value;
  }
  if (firstBad) {
    firstBad.focus();
    return null;
  }
  return values;
}

/** A provider's pattern that does not compile checks nothing: the server validates again. */
function matches(pattern, value) {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return true;
  }
}

function renderWaiting(integration) {
  backButton.hidden = true;
  const name = integration.display_name || integration.unique_key;
  const cancel = h('button', {
    type: 'button',
    class: 'secondary',
    text: 'Cancel',
    onclick: () => {
      cancelFlow();
      renderIntegration(integration);
    },
  });
  show(
    [
      avatar(integration, true),
      h('h1', { id: 'title', text: `Connect ${name}` }),
      h('div', { class: 'status', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', { text: `Waiting for you to finish in the ${name} pop-up window…` })),
      h('div', { class: 'actions' }, cancel),
    ],
    cancel,
  );
}

function renderSuccess(integration) {
  const name = integration.display_name || integration.unique_key;
  renderOutcome({ ok: true, title: 'Connected', message: `Your ${name} account is connected.`, action: 'Finish', onAction: requestClose });
  backButton.hidden = true;
}

function renderDone() {
  backButton.hidden = true;
  closeButton.hidden = true;
  show([h('div', { class: 'outcome' }, h('h1', { id: 'title', text: state.finished ? 'All done' : 'Closed' }), h('p', { class: 'lead', text: 'You can close this tab.' }))]);
}

function renderOutcome({ ok, title, message, advice = null, action, onAction }) {
  const button = h('button', { type: 'button', class: 'primary', text: action, onclick: onAction });
  show(
    [
      h(
        'div',
        { class: 'outcome' },
        ok ? icon('M20 6L9 17l-5-5', 'mark ok') : icon('M12 8v5M12 16.5v.01M10.3 3.9L1.8 18a2 2 0 001.7 3h17a2 2 0 001.7-3L13.7 3.9a2 2 0 00-3.4 0z', 'mark bad'),
        h('h1', { id: 'title', text: title }),
        h('p', { class: 'lead', role: ok ? null : 'alert', text: message }),
        advice ? h('p', { class: 'hint', text: advice }) : null,
      ),
      h('div', { class: 'actions' }, button),
    ],
    button,
  );
}
