// Voice calls on a hall screen: one screen per zone speaks, one announcement at a time.
//
//   const announcer = new Announcer({token, hall, zone});
//   live.addEventListener('event', (e) => announcer.handle(e.detail));   // every applied event
//   announcer.ready → Promise, resolved once it knows whether this screen speaks
//   announcer.speaker → true | false | null (not known yet)
//   dispatches 'play' (detail: the announcement) when one starts and 'skip' when one is too old
//
// The rules it keeps:
// - Only the zone's speaker plays. It asks the server once (GET …/zones/{zone}/announcements
//   names the speaking device) and compares with whoAmI(); every other screen stays silent, so
//   screens in one room never echo each other.
// - Strictly one at a time, in seq order: the chime, the Chinese sentence `repeat` times, then
//   the English one when the hall has English. Each seq is played at most once.
// - The last played seq is kept in localStorage (hallq.voice.<hall>.<zone>, with the epoch), so
//   a reload neither replays nor skips: on start, and whenever events were missed (a seq gap
//   after a reconnect), it reads the zone's announcements after that seq from the server.
// - A call older than two minutes is skipped, not played: announcing a number long after it
//   was called sends people to a window that has moved on, which is worse than silence.
// - Server audio plays through <audio>, bounded by a timeout so a broken file cannot hold the
//   queue; when there is no audio (engine "browser") or it fails, the browser's speechSynthesis
//   reads the text instead.

import { api } from './api.js';
import { whoAmI } from './credential.js';

const CALL_EVENTS = new Set(['ticket.called', 'ticket.recalled']);
const MAX_AGE_MS = 120000; // calls older than this are skipped (see above)
const MAX_PAGES = 20; // bounded catch-up: 20 pages of 200 call events
const LOAD_TIMEOUT_MS = 15000; // an audio file that does not start by then is given up
const END_SLACK_MS = 3000; // after its duration, a playing file is taken as ended
const PAUSE_MS = 300; // between the pieces of one announcement
const RETRY_START_MS = 30000; // a screen that could not ask the server asks again this late
const STORE_PREFIX = 'hallq.voice.';

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function fromEvent(frame, zone) {
  if (!CALL_EVENTS.has(frame.name)) return null;
  const data = frame.data || {};
  const block = data.announce;
  if (data.zone !== zone || !block) return null;
  return {
    seq: frame.seq,
    at: frame.at,
    kind: block.kind || (frame.name === 'ticket.recalled' ? 'recall' : 'call'),
    number: data.number,
    window: data.window_number,
    zh: block.zh,
    en: block.en || null,
    audio: block.audio || null,
    audio_en: block.audio_en || null,
    chime: block.chime || null,
    repeat: block.repeat || 1,
  };
}

export class Announcer extends EventTarget {
  constructor({ token, hall, zone, maxAgeMs = MAX_AGE_MS, storage = window.localStorage }) {
    super();
    this.token = token;
    this.hall = hall;
    this.zone = zone;
    this.maxAgeMs = maxAgeMs;
    this.storage = storage;
    this.speaker = null;
    this._epoch = null;
    this._lastSeen = null; // highest event seq taken in (announcement or not)
    this._lastQueued = -1; // highest announcement seq queued or played
    this._queue = [];
    this._playing = false;
    this._offsetMs = 0; // server clock minus this screen's clock
    this._retryAt = 0;
    this._intake = this._start();
    this.ready = this._intake;
  }

  // Take one event frame (any name; every applied event, so gaps can be seen).
  handle(frame) {
    if (!frame || frame.type !== 'event' || !Number.isInteger(frame.seq)) return;
    this._intake = this._intake
      .then(() => this._take(frame))
      .catch((exc) => console.warn('voice: event', frame.seq, 'not taken:', exc && exc.message));
  }

  get _storeKey() {
    return `${STORE_PREFIX}${this.hall}.${this.zone}`;
  }

  async _start() {
    try {
      const me = await whoAmI(this.token);
      const mark = this._mark();
      const feed = await this._feed(mark ? mark.seq : null);
      this._offsetMs = Date.parse(feed.now) - Date.now();
      this.speaker = me.kind === 'device' && feed.speaker === me.id;
      if (!this.speaker) return;
      this._epoch = feed.epoch;
      this._lastSeen = feed.seq;
      if (!mark || mark.epoch !== feed.epoch || mark.seq > feed.seq) {
        this._remember(feed.seq); // a new screen (or a new database) starts from now
        this._lastQueued = feed.seq;
        return;
      }
      this._lastQueued = mark.seq;
      await this._catchUp(feed, feed.seq + 1);
    } catch (exc) {
      // unknown for now: silent, and asked again on a later event
      this.speaker = null;
      this._retryAt = Date.now() + RETRY_START_MS;
      console.warn('voice: cannot tell whether this screen speaks:', exc && exc.message);
    }
  }

  async _take(frame) {
    if (this.speaker === null && Date.now() >= this._retryAt) await this._start();
    if (!this.speaker) return;
    if (frame.epoch !== this._epoch) {
      // the database was replaced: seqs start again, nothing before this event is owed
      this._epoch = frame.epoch;
      this._lastSeen = frame.seq - 1;
      this._lastQueued = frame.seq - 1;
    }
    if (frame.seq <= this._lastSeen) return; // already taken (a replay or a duplicate)
    if (frame.seq > this._lastSeen + 1) {
      // events were missed (a resync after a reconnect): the server's feed has them
      await this._catchUp(await this._feed(this._lastSeen), frame.seq);
    }
    this._lastSeen = frame.seq;
    const item = fromEvent(frame, this.zone);
    if (item) this._enqueue(item);
  }

  // Queue the feed's announcements below seq `upto`, reading further pages while there are.
  async _catchUp(feed, upto) {
    for (let page = 0; page < MAX_PAGES; page += 1) {
      if (feed.epoch !== this._epoch) return;
      for (const item of feed.announcements) {
        if (item.seq < upto) this._enqueue(item);
      }
      if (!feed.more || feed.next_after + 1 >= upto) return;
      feed = await this._feed(feed.next_after);
    }
  }

  _feed(after) {
    const query = new URLSearchParams({ max_age_s: String(Math.ceil(this.maxAgeMs / 1000)) });
    if (after !== null && after !== undefined) query.set('after', String(after));
    const path = `/halls/${encodeURIComponent(this.hall)}/zones/${encodeURIComponent(this.zone)}`;
    return api('GET', `${path}/announcements?${query}`, { token: this.token });
  }

  _enqueue(item) {
    if (item.seq <= this._lastQueued) return;
    this._lastQueued = item.seq;
    this._queue.push(item);
    this._pump();
  }

  async _pump() {
    if (this._playing) return;
    this._playing = true;
    try {
      while (this._queue.length > 0) {
        const item = this._queue.shift();
        this._remember(item.seq); // marked when it starts: a reload never says it twice
        if (Date.now() + this._offsetMs - Date.parse(item.at) > this.maxAgeMs) {
          this.dispatchEvent(new CustomEvent('skip', { detail: item }));
          continue;
        }
        this.dispatchEvent(new CustomEvent('play', { detail: item }));
        await this._play(item);
      }
    } finally {
      this._playing = false;
    }
  }

  async _play(item) {
    if (item.chime) await this._sound(item.chime);
    const times = Math.max(1, Math.min(item.repeat, 5));
    for (let i = 0; i < times; i += 1) {
      if (i > 0) await sleep(PAUSE_MS);
      if (!(item.audio && (await this._sound(item.audio)))) await this._speak(item.zh, 'zh-CN');
    }
    if (item.en) {
      await sleep(PAUSE_MS);
      if (!(item.audio_en && (await this._sound(item.audio_en)))) {
        await this._speak(item.en, 'en-US');
      }
    }
  }

  // Play one file to its end; false when it could not be played (the caller then speaks).
  _sound(url) {
    return new Promise((resolve) => {
      const audio = new Audio(url);
      let timer = null;
      let done = false;
      const finish = (ok) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (!ok) audio.pause();
        resolve(ok);
      };
      timer = setTimeout(() => finish(false), LOAD_TIMEOUT_MS);
      audio.addEventListener('ended', () => finish(true), { once: true });
      audio.addEventListener('error', () => finish(false), { once: true });
      audio.addEventListener('loadedmetadata', () => {
        if (!Number.isFinite(audio.duration)) return;
        clearTimeout(timer); // it plays: wait for its length, plus some slack, at most
        timer = setTimeout(() => finish(true), audio.duration * 1000 + END_SLACK_MS);
      }, { once: true });
      const started = audio.play();
      if (started && typeof started.catch === 'function') started.catch(() => finish(false));
    });
  }

  // The browser's own voice, bounded in time (some browsers never fire 'end' without voices).
  _speak(text, lang) {
    const synth = window.speechSynthesis;
    if (!text || !synth || typeof SpeechSynthesisUtterance !== 'function') {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const utterance = new SpeechSynthesisUtterance(text);
      utterance.lang = lang;
      utterance.rate = 0.9;
      const timer = setTimeout(() => {
        synth.cancel();
        resolve();
      }, 2000 + text.length * 400);
      utterance.onend = utterance.onerror = () => {
        clearTimeout(timer);
        resolve();
      };
      synth.speak(utterance);
    });
  }

  _mark() {
    try {
      const mark = JSON.parse(this.storage.getItem(this._storeKey) || 'null');
      return mark && typeof mark.epoch === 'string' && Number.isInteger(mark.seq) ? mark : null;
    } catch {
      return null; // unreadable: start from now
    }
  }

  _remember(seq) {
    try {
      this.storage.setItem(this._storeKey, JSON.stringify({ epoch: this._epoch, seq }));
    } catch {
      // storage full or blocked: this screen may repeat a call after a reload, nothing worse
    }
  }
}
