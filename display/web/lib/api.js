// hallq HTTP API client for the browser pages (contract v1, prefix /api/v1).
//
//   newKey() → string
//       A fresh Idempotency-Key (32 hex digits). Create ONE per user action and pass the same
//       key to every retry of that action: the server then answers a repeated press instead of
//       repeating it. Uses crypto.getRandomValues, which (unlike randomUUID) also works on the
//       plain-http origins of a hall network.
//
//   class ApiError extends Error
//       status  HTTP status (0 when the server could not be reached)
//       code    the server's error code ("window_busy", "not_found", …; "network" when offline)
//       message the server's Chinese message, ready to show to hall users
//       details the server's details object ({} when none)
//       messageEn the English message for logs (may be empty)
//
//   api(method, path, {token, body, key, retries = 2, timeoutMs = 10000}) → parsed JSON (or null)
//       path is relative to /api/v1 ("/halls/jinjiang"). token → Authorization: Bearer.
//       body is sent as JSON. Mutating methods (anything but GET/HEAD) send Idempotency-Key: key
//       (a fresh key is made when none is given, and reused across this call's retries).
//       Retries only network errors (including the timeout) and 503, at most `retries` times,
//       waiting Retry-After seconds when the server says so (capped at 10 s) or 0.5 s, 1 s, …
//       Throws ApiError for every non-2xx answer and for a network failure after the retries.

const PREFIX = '/api/v1';
const MAX_RETRY_WAIT_MS = 10000;

export function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class ApiError extends Error {
  constructor(status, code, message, details = {}, messageEn = '') {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.messageEn = messageEn;
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function retryWait(response, attempt) {
  const header = response && response.headers.get('Retry-After');
  const seconds = header === null || header === undefined ? NaN : Number(header);
  const ms = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 500 * 2 ** attempt;
  return Math.min(ms, MAX_RETRY_WAIT_MS);
}

async function errorFrom(response) {
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    // not JSON (a proxy's error page): fall through to the generic message
  }
  const err = payload && payload.error;
  if (err && typeof err.message === 'string') {
    return new ApiError(response.status, err.code || 'error', err.message, err.details || {},
      err.message_en || '');
  }
  return new ApiError(response.status, 'http_error',
    `服务器返回错误（${response.status}），请稍后重试或联系管理员。`, {},
    `HTTP ${response.status} without a hallq error body`);
}

export async function api(method, path, { token, body, key, retries = 2, timeoutMs = 10000 } = {}) {
  const verb = method.toUpperCase();
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (verb !== 'GET' && verb !== 'HEAD') headers['Idempotency-Key'] = key || newKey();
  const init = { method: verb, headers, cache: 'no-store' };
  if (body !== undefined) init.body = JSON.stringify(body);

  for (let attempt = 0; ; attempt += 1) {
    let response = null;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      response = await fetch(PREFIX + path, { ...init, signal: abort.signal });
    } catch (exc) {
      if (attempt >= retries) {
        throw new ApiError(0, 'network', '无法连接服务器，请检查网络后重试。', {},
          String(exc && exc.message ? exc.message : exc));
      }
    } finally {
      clearTimeout(timer);
    }
    if (response !== null) {
      if (response.ok) {
        if (response.status === 204) return null;
        const text = await response.text();
        return text ? JSON.parse(text) : null;
      }
      if (response.status !== 503 || attempt >= retries) throw await errorFrom(response);
    }
    await sleep(retryWait(response, attempt));
  }
}
