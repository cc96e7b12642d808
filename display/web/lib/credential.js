// The device credential a paired browser keeps (localStorage key "hallq.credential").
//
//   loadCredential() → {token, hall, …} or null   (null when missing or unreadable; hall may
//                                                 be null for an admin's staff token)
//   saveCredential(c)                             c needs at least {token, hall}; other fields
//                                                 (role, window, zone, page) are kept as given
//   clearCredential()
//   whoAmI(token) → GET /api/v1/auth/me: {kind, id, role, hall, window, zone, name};
//                   throws ApiError (401 when the token is unknown, expired or revoked)
//
// /pair/{code} stores the credential; every page reads it. The token never appears in a URL.

import { api } from './api.js';

const KEY = 'hallq.credential';

export function loadCredential() {
  let value = null;
  try {
    value = JSON.parse(localStorage.getItem(KEY) || 'null');
  } catch {
    return null; // a corrupted entry is the same as none: the device must be paired again
  }
  if (value && typeof value.token === 'string' && value.token) {
    return value;
  }
  return null;
}

export function saveCredential(c) {
  if (!c || typeof c.token !== 'string' || !c.token) {
    throw new TypeError('saveCredential needs {token, hall}');
  }
  localStorage.setItem(KEY, JSON.stringify(c));
}

export function clearCredential() {
  localStorage.removeItem(KEY);
}

export function whoAmI(token) {
  return api('GET', '/auth/me', { token });
}
