// LiveHall: one hall's live state over /ws, kept in seq order across any disconnect.
// The browser twin of server/client/live.py + state.py: same protocol, same reducer.
//
//   const live = new LiveHall({token, hall, staleAfterMs = 15000, url})
//       url defaults to ws(s)://<this host>/ws.
//   live.start() / live.stop()
//   live.state    the contract's Snapshot with every applied event, or null before the first
//   live.seq, live.epoch
//   live.stale    true while the socket is not open (after the first attempt), or nothing
//                 has arrived for staleAfterMs (the server heartbeats every ≤ 5 s)
//   live.closeCode / live.closeReason   of the last closed socket (4401: token refused, …)
//   live.send(obj) → true if sent, false when not connected
//   counters: applied, duplicates (events at or below seq), resyncs (snapshots asked for),
//             snapshots (taken), reconnects (sockets lost, each followed by a new attempt)
//   events (EventTarget):
//     'change'  detail: state        after a snapshot or an applied event
//     'event'   detail: event frame  after it was applied (dispatched after 'change')
//     'stale'   detail: boolean      when live.stale flips
//     'message' detail: frame        any other frame (print, error, …), and
//                                    {type:'closed', code, reason} when a socket closes
//
// Protocol: on open, send {type:'hello', token, hall} (+ epoch, last_seq once known, so the
// server can replay what was missed). A snapshot replaces the state. An event at or below seq
// is a duplicate (ignored); seq + 1 is applied; a gap, another epoch, or an event that does
// not fit the state sends {type:'resync'} and ignores events until the snapshot arrives. A
// heartbeat ahead of seq gives the events behind it GAP_GRACE_MS to arrive, then resyncs.
// A lost socket reconnects after a delay drawn uniformly from [0, min(30 s, 0.5 s × 2^n)]
// ("full jitter"), n counting failures since the last synced connection.

const BACKOFF_INITIAL_MS = 500;
const BACKOFF_MAX_MS = 30000;
const GAP_GRACE_MS = 1000;
const RESYNC_RETRY_MS = 600; // the server allows two resyncs a second
const WATCH_MS = 500;
const RECENT_CALLS = 10;

const CALL_EVENTS = new Set(['ticket.called', 'ticket.recalled']);
const WINDOW_EVENTS = new Set(['window.paused', 'window.resumed', 'window.opened', 'window.closed']);
// Where a ticket may be before each event (see server/client/state.py).
const FROM = {
  'ticket.issued': [],
  'ticket.called': ['missed', 'waiting'],
  'ticket.recalled': ['window'],
  'ticket.serving': ['window'],
  'ticket.finished': ['window'],
  'ticket.no_show': ['window'],
  'ticket.transferred': ['window'],
  'ticket.requeued': ['missed'],
  'ticket.cancelled': ['waiting'],
  'ticket.expired': ['waiting'],
};
const TO = { called: 'window', serving: 'window', no_show: 'missed', waiting: 'waiting' };

export class StateMismatch extends Error {}

function windowById(s, id) {
  const found = s.windows.find((w) => w.id === id);
  if (!found) throw new StateMismatch(`window ${id} is not in the snapshot`);
  return found;
}

function queueById(s, id) {
  const found = s.queues.find((q) => q.id === id);
  if (!found) throw new StateMismatch(`queue ${id} is not in the snapshot`);
  return found;
}

function knowsNumber(s, number) {
  return s.windows.some((w) => w.ticket && w.ticket.number === number) || s.missed.includes(number);
}

function leave(s, places, number, data) {
  for (const place of places) {
    if (place === 'window') {
      // finish/no-show keep the ticket's window in data; a transfer has already cleared it
      const hint = data.window ?? null;
      const w = s.windows.find(
        (x) => x.ticket && x.ticket.number === number && (hint === null || hint === x.id));
      if (!w) throw new StateMismatch(`${number} is not shown at window ${hint}`);
      w.ticket = null;
      return;
    }
    if (place === 'missed' && s.missed.includes(number)) {
      s.missed.splice(s.missed.indexOf(number), 1);
      return;
    }
    if (place === 'waiting') {
      const q = queueById(s, data.queue);
      if (q.waiting <= 0) throw new StateMismatch(`${number} left queue ${q.id}, which has 0 waiting`);
      q.waiting -= 1;
      return;
    }
  }
  if (places.length) throw new StateMismatch(`${number} is not where ${places.join(' or ')} would put it`);
}

function moveTicket(s, name, data) {
  const number = data.number;
  if (typeof number !== 'string') throw new StateMismatch(`${name} without a number`);
  if (name === 'ticket.issued' && knowsNumber(s, number)) {
    throw new StateMismatch(`issued ${number} is already in the state: a new business day?`);
  }
  leave(s, FROM[name], number, data);
  const to = TO[data.status];
  if (to === 'window') {
    const w = windowById(s, data.window);
    if (w.ticket !== null) throw new StateMismatch(`${number} called to ${w.id}, which shows another ticket`);
    w.ticket = { number, status: data.status, called_at: data.called_at, recalls: data.recalls };
  } else if (to === 'missed') {
    s.missed.push(number);
  } else if (to === 'waiting') {
    queueById(s, data.queue).waiting += 1;
  }
}

/** The snapshot after `event` (a new object; `state` is untouched). Throws StateMismatch. */
export function applyEvent(state, event) {
  const s = structuredClone(state);
  const { name, data } = event;
  if (!data || typeof data !== 'object') throw new StateMismatch(`${name}: no data`);
  if (Object.hasOwn(FROM, name)) {
    moveTicket(s, name, data);
    if (CALL_EVENTS.has(name)) {
      const call = { number: data.number, window: data.window, at: event.at, seq: event.seq };
      s.recent_calls = [call, ...s.recent_calls].slice(0, RECENT_CALLS);
    }
  } else if (WINDOW_EVENTS.has(name)) {
    const w = windowById(s, data.window);
    w.status = data.status;
    w.reason = data.reason ?? null;
    if (name === 'window.closed') w.staff = null; // closing signs the staff member out
  }
  s.seq = event.seq;
  return s;
}

function defaultUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

export class LiveHall extends EventTarget {
  constructor({ token, hall, staleAfterMs = 15000, url = defaultUrl() }) {
    super();
    this._token = token;
    this.hall = hall;
    this.staleAfterMs = staleAfterMs;
    this.url = url;
    this._state = null;
    this._seq = null;
    this._epoch = null;
    this._stale = false;
    this._ws = null;
    this._open = false;
    this._running = false;
    this._attempt = 0;
    this._synced = false; // this connection delivered a snapshot or an event
    this._lastRx = 0;
    this._resyncSince = null;
    this._gapTarget = 0;
    this._gapDeadline = null;
    this._reconnectTimer = null;
    this._watchTimer = null;
    this.closeCode = null;
    this.closeReason = '';
    // counters, for tests and the monitor
    this.applied = 0;
    this.duplicates = 0;
    this.resyncs = 0;
    this.snapshots = 0;
    this.reconnects = 0;
  }

  get state() { return this._state; }
  get seq() { return this._seq; }
  get epoch() { return this._epoch; }
  get stale() { return this._stale; }

  start() {
    if (this._running) return;
    this._running = true;
    this._lastRx = performance.now();
    this._watchTimer = setInterval(() => this._watch(), WATCH_MS);
    this._connect();
  }

  stop() {
    this._running = false;
    clearInterval(this._watchTimer);
    clearTimeout(this._reconnectTimer);
    this._drop(1000, 'stopped');
  }

  send(obj) {
    if (!this._open || !this._ws) return false;
    this._ws.send(JSON.stringify(obj));
    return true;
  }

  // -- connection ------------------------------------------------------------------------

  _connect() {
    this._reconnectTimer = null;
    if (!this._running) return;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (exc) {
      this._onClosed(null, 1006, String(exc));
      return;
    }
    this._ws = ws;
    this._synced = false;
    this._lastRx = performance.now(); // each attempt gets staleAfterMs to open and answer
    ws.onopen = () => {
      this._open = true;
      this._lastRx = performance.now();
      this._resyncSince = null;
      this._gapDeadline = null;
      this._gapTarget = 0;
      const hello = { type: 'hello', token: this._token, hall: this.hall };
      if (this._epoch !== null && this._seq !== null) {
        hello.epoch = this._epoch;
        hello.last_seq = this._seq;
      }
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (msg) => this._onFrame(msg.data);
    ws.onclose = (ev) => this._onClosed(ws, ev.code, ev.reason);
    // onerror is always followed by onclose, which does the work
    ws.onerror = () => {};
  }

  /** Forget the socket now (a dead link may take long to report its close). */
  _drop(code, reason) {
    const ws = this._ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try { ws.close(); } catch { /* already closing */ }
    this._onClosed(ws, code, reason);
  }

  _onClosed(ws, code, reason) {
    if (ws !== null && ws !== this._ws) return;
    if (ws !== null) this.reconnects += 1;
    this._ws = null;
    this._open = false;
    this.closeCode = code;
    this.closeReason = reason || '';
    this._emit('message', { type: 'closed', code, reason: this.closeReason });
    this._setStale(true);
    if (!this._running) return;
    this._attempt = this._synced ? 0 : this._attempt + 1;
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** Math.min(this._attempt, 30));
    this._reconnectTimer = setTimeout(() => this._connect(), Math.random() * cap);
  }

  _watch() {
    if (!this._running) return;
    const now = performance.now();
    if (this._ws && now - this._lastRx > this.staleAfterMs) {
      this._drop(4000, `nothing received for ${this.staleAfterMs} ms`);
      return;
    }
    if (this._ws && this._resyncSince !== null && now - this._resyncSince > this.staleAfterMs) {
      this._drop(4000, 'no snapshot after resync');
      return;
    }
    if (this._gapDeadline !== null && now >= this._gapDeadline) {
      this._gapDeadline = null;
      if (this._seq === null || this._seq < this._gapTarget) this._resync();
    }
  }

  _setStale(value) {
    if (value === this._stale) return;
    this._stale = value;
    this._emit('stale', value);
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // -- frames ----------------------------------------------------------------------------

  _onFrame(raw) {
    this._lastRx = performance.now();
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      return; // the server only sends JSON; a broken frame is not worth a resync
    }
    if (!msg || typeof msg.type !== 'string') return;
    if (msg.type === 'snapshot') this._onSnapshot(msg);
    else if (msg.type === 'event') this._onEvent(msg);
    else if (msg.type === 'heartbeat') this._onHeartbeat(msg);
    else {
      if (msg.type === 'error' && msg.code === 'rate_limited' && this._resyncSince !== null) {
        // our resync came too soon after the last one: ask again shortly
        setTimeout(() => this.send({ type: 'resync' }), RESYNC_RETRY_MS);
      }
      this._emit('message', msg);
    }
    // stale clears only when the link carries frames again, not when the socket opens
    if (this._open) this._setStale(false);
  }

  _onSnapshot(msg) {
    const state = msg.state;
    if (!state || typeof state !== 'object') return;
    state.seq = msg.seq;
    this._state = state;
    this._epoch = msg.epoch;
    this._seq = msg.seq;
    this.snapshots += 1;
    this._synced = true;
    this._resyncSince = null;
    this._gapDeadline = null;
    this._gapTarget = 0; // a heartbeat still ahead of this snapshot will say so again
    this._emit('change', state);
  }

  _onEvent(msg) {
    if (this._resyncSince !== null) return; // the snapshot asked for covers this event
    if (this._state === null || this._seq === null || msg.epoch !== this._epoch) {
      this._resync();
      return;
    }
    if (msg.seq <= this._seq) {
      this.duplicates += 1;
      return;
    }
    if (msg.seq > this._seq + 1) {
      this._resync();
      return;
    }
    try {
      this._state = applyEvent(this._state, msg);
    } catch (exc) {
      if (!(exc instanceof StateMismatch)) throw exc;
      this._resync();
      return;
    }
    this._seq = msg.seq;
    this.applied += 1;
    this._synced = true;
    if (this._gapDeadline !== null && this._seq >= this._gapTarget) this._gapDeadline = null;
    this._emit('change', this._state);
    this._emit('event', msg);
  }

  _onHeartbeat(msg) {
    if (this._state === null || this._resyncSince !== null) return;
    if (msg.epoch !== this._epoch) {
      this._resync();
    } else if (this._seq !== null && msg.seq > this._seq) {
      // the events up to msg.seq may still be in flight behind this heartbeat
      this._gapTarget = Math.max(this._gapTarget, msg.seq);
      if (this._gapDeadline === null) this._gapDeadline = performance.now() + GAP_GRACE_MS;
    }
  }

  _resync() {
    if (this._resyncSince !== null || !this._open) return;
    this.resyncs += 1;
    this._resyncSince = performance.now();
    this._gapDeadline = null;
    this.send({ type: 'resync' });
  }
}
