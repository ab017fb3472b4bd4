// wirebench browser client: the wire protocol of docs/protocol.md spoken with the browser's own
// APIs (WebSocket, EventSource + fetch POST, fetch long-poll and poll, RTCPeerConnection data
// channels, WebTransport streams and datagrams).
//
// Like the Rust agent it is one client library (every transport behind one connection
// interface: send(frame), onFrame(handler), close(), setup timing) and one workload runner
// (echo, push, download, upload, connect, relay, collab, idle, flap) that never branches on the
// transport (relay over WebRTC connects to the peer page instead of the server, the one
// difference; flap asks the connection whether it can resume, not which transport it is).
// `wirebench run --client browser` loads this page from the server under test and calls
// `window.wirebench.run(job)` over the DevTools protocol; what it returns becomes a result cell beside the Rust client's.
//
// Time is the page's `performance.now()` (ms, 5 µs resolution: the page is served with
// COOP/COEP, so it is cross-origin isolated). Open-loop schedules stamp each frame with its
// *intended* send time, as the Rust client does (coordinated omission corrected).

export const HEADER_LEN = 24;
export const KIND = { ECHO_REQUEST: 1, ECHO_REPLY: 2, BROADCAST_REQUEST: 3, BROADCAST: 4, PUSH: 5, DATA: 6 };
const MAX_FRAME = 16 * 1024 * 1024;
const UP_MAX_BATCH = 1 << 20;
const DRAIN_MS = 3000;
const CONNECT_TIMEOUT_MS = 15000;

/** The page's clock, ms. */
const now = () => performance.now();

// ---- frames -------------------------------------------------------------------------------

/** A frame of `size` bytes (at least the header): seq, sent_ns (ns), sender, kind; the filler
 *  is zeros, or with `pattern` a function of seq and offset (so a reply can be checked). */
export function encodeFrame(seq, sentNs, sender, kind, size, pattern = false) {
  const buf = new Uint8Array(Math.max(size, HEADER_LEN));
  if (pattern) for (let i = HEADER_LEN; i < buf.length; i++) buf[i] = (i * 31 + seq) & 255;
  const v = new DataView(buf.buffer);
  v.setBigUint64(0, BigInt(seq), true);
  v.setBigUint64(8, BigInt(Math.max(0, Math.round(sentNs))), true);
  v.setUint32(16, sender, true);
  v.setUint32(20, kind, true);
  return buf;
}

/** The header of a frame, or `{error}` with the counter key the Rust side uses. */
export function parseHeader(buf) {
  if (buf.byteLength < HEADER_LEN) return { error: 'frame_short' };
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const kind = v.getUint32(20, true);
  if (kind < 1 || kind > 6) return { error: 'frame_unknown_kind' };
  return {
    seq: Number(v.getBigUint64(0, true)),
    sentNs: Number(v.getBigUint64(8, true)),
    sender: v.getUint32(16, true),
    kind,
  };
}

/** Frames concatenated, each after its u32-LE length. */
export function prefixed(frames) {
  let n = 0;
  for (const f of frames) n += 4 + f.byteLength;
  const out = new Uint8Array(n);
  const v = new DataView(out.buffer);
  let o = 0;
  for (const f of frames) {
    v.setUint32(o, f.byteLength, true);
    out.set(f, o + 4);
    o += 4 + f.byteLength;
  }
  return out;
}

/** Incremental decoder of length-prefixed frames (WebTransport streams, /poll bodies). */
export class Prefixed {
  constructor() { this.buf = new Uint8Array(0); }
  push(chunk) {
    if (this.buf.byteLength === 0) { this.buf = chunk; return; }
    const b = new Uint8Array(this.buf.byteLength + chunk.byteLength);
    b.set(this.buf);
    b.set(chunk, this.buf.byteLength);
    this.buf = b;
  }
  /** Whole frames buffered so far; throws on a length prefix over 16 MiB. */
  take() {
    const out = [];
    while (this.buf.byteLength >= 4) {
      const v = new DataView(this.buf.buffer, this.buf.byteOffset, 4);
      const len = v.getUint32(0, true);
      if (len > MAX_FRAME) throw new Error(`length prefix ${len} over 16 MiB`);
      if (this.buf.byteLength < 4 + len) break;
      out.push(this.buf.slice(4, 4 + len));
      this.buf = this.buf.subarray(4 + len);
    }
    return out;
  }
}

function splitPrefixed(body) {
  const d = new Prefixed();
  d.push(body);
  const frames = d.take();
  if (d.buf.byteLength !== 0) throw new Error(`${d.buf.byteLength} trailing bytes after the frames`);
  return frames;
}

function hexBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

function base64Bytes(s) {
  // The native decoder where the browser has it (Chromium 140+): a bulk SSE download is not
  // limited by a JavaScript loop.
  if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(s);
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// ---- timers -------------------------------------------------------------------------------

// A task yield without setTimeout's clamping: a MessageChannel round trip.
const yieldQueue = [];
const yieldChannel = new MessageChannel();
yieldChannel.port1.onmessage = () => { const r = yieldQueue.shift(); if (r) r(); };
const yieldTask = () => new Promise((r) => { yieldQueue.push(r); yieldChannel.port2.postMessage(0); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until `t` (ms, page clock): setTimeout for the bulk, then task yields for the last
 *  3 ms (incoming messages are still handled between yields). */
export async function sleepUntil(t) {
  for (;;) {
    const d = t - now();
    if (d <= 0) return;
    if (d > 3) await sleep(d - 2);
    else await yieldTask();
  }
}

async function waitUntil(cond) {
  while (!cond()) await sleep(1);
}

function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${what} (after ${ms} ms)`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

// ---- connections --------------------------------------------------------------------------

/** One client connection, whatever the transport: frames out with `send` (a promise that
 *  waits while the transport pushes back), frames in through `onFrame(handler(frame, t))`
 *  with their arrival time, `close()`, and counters of what was dropped. */
class Conn {
  constructor() {
    this.handler = null;
    this.early = [];
    this.errors = {};
    this.failure = null;
    this.failWaiters = [];
    this.closing = false;
    this.diag = null;
    // SSE, long-poll and poll resume their downstream in place (`resume()`, flap).
    this.resume = null;
    // Gives up what is being opened, a connection or a resumed downstream (set as soon as
    // there is something to close, back to a no-op once it is open): a handshake that
    // completes after its attempt timed out would otherwise become the client's newest
    // downstream at the server, then close.
    this.abort = () => {};
    this.send = async () => { throw new Error('not connected'); };
    this.close = async () => {};
  }
  deliver(frame, t) {
    if (this.handler) this.handler(frame, t);
    else this.early.push([frame, t]);
  }
  onFrame(h) {
    this.handler = h;
    for (const [f, t] of this.early.splice(0)) h(f, t);
  }
  count(key, n = 1) { this.errors[key] = (this.errors[key] || 0) + n; }
  /** The transport broke (ignored once the workload closes it). */
  fail(why) {
    if (this.closing || this.failure) return;
    this.failure = why;
    for (const w of this.failWaiters.splice(0)) w(new Error(why));
  }
  /** A resume worked: the transport counts as whole again. */
  recovered() { this.failure = null; }
  /** A promise that rejects when the transport breaks. */
  broken() {
    return new Promise((_, rej) => {
      if (this.failure) rej(new Error(this.failure));
      else this.failWaiters.push(rej);
    });
  }
}

/** POST /up with batching: frames queued while a POST is in flight go in the next body. */
function attachUpSink(t, c) {
  const queue = [];
  let queued = 0;
  let flushing = false;
  const flush = async () => {
    while (queue.length) {
      const batch = [];
      let n = 0;
      while (queue.length && (batch.length === 0 || n + 4 + queue[0].byteLength <= UP_MAX_BATCH)) {
        const f = queue.shift();
        n += 4 + f.byteLength;
        queued -= f.byteLength;
        batch.push(f);
      }
      const body = prefixed(batch);
      for (;;) {
        const r = await fetch(`/up?client=${t.client}`, {
          method: 'POST', body, headers: { 'Content-Type': 'application/octet-stream' },
        });
        if (r.status === 204) break;
        if (r.status === 503) { c.count('http_503_backpressure'); await sleep(1); continue; }
        throw new Error(`POST /up answered ${r.status}: ${await r.text()}`);
      }
    }
  };
  c.send = async (f) => {
    queue.push(f);
    queued += f.byteLength;
    if (!flushing) {
      flushing = true;
      flush().catch((e) => c.fail(`POST /up: ${e.message}`)).finally(() => { flushing = false; });
    }
    if (queued > 8 << 20) await waitUntil(() => queued < 1 << 20 || c.failure);
  };
}

async function openWebSocket(t, c) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}/ws?client=${t.client}`);
  c.abort = () => ws.close();
  ws.binaryType = 'arraybuffer';
  await new Promise((res, rej) => {
    ws.onopen = res;
    ws.onerror = () => rej(new Error('WebSocket failed to open'));
  });
  ws.onmessage = (e) => {
    const at = now();
    if (typeof e.data === 'string') { c.count('frame_text'); return; }
    c.deliver(new Uint8Array(e.data), at);
  };
  ws.onclose = (e) => c.fail(`WebSocket closed (code ${e.code})`);
  c.send = async (f) => {
    if (ws.readyState !== WebSocket.OPEN) throw new Error('WebSocket is not open');
    ws.send(f);
    if (ws.bufferedAmount > 4 << 20) await waitUntil(() => ws.bufferedAmount < 1 << 20);
  };
  c.close = async () => { c.closing = true; ws.close(); };
  return {};
}

/** Opens an EventSource at `url` (rejects if it fails to open). */
function openEventSource(url) {
  const es = new EventSource(url);
  return new Promise((res, rej) => {
    es.onopen = () => res(es);
    es.onerror = () => { es.close(); rej(new Error('EventSource failed to open')); };
  });
}

async function openSse(t, c) {
  let lastId = '';
  const wire = (es) => {
    es.onmessage = (e) => {
      const at = now();
      if (e.lastEventId) lastId = e.lastEventId;
      let f;
      try { f = base64Bytes(e.data); } catch { c.count('sse_bad_base64'); return; }
      c.deliver(f, at);
    };
    es.addEventListener('gap', (e) => c.count('gap', Number(e.data) || 1));
    // EventSource reconnects by itself with Last-Event-ID (the server resumes after it).
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) c.fail('EventSource closed');
      else c.count('sse_reconnect');
    };
  };
  let es = await openEventSource(`/sse?client=${t.client}`);
  wire(es);
  attachUpSink(t, c);
  c.close = async () => { c.closing = true; es.close(); };
  // A new stream from the last event received: the page cannot set Last-Event-ID on a new
  // EventSource, so it asks with `after` (the same cursor, docs/protocol.md).
  c.resume = async () => {
    es.close();
    const next = openEventSource(`/sse?client=${t.client}${lastId ? `&after=${lastId}` : ''}`);
    c.abort = () => next.then((s) => s.close(), () => {});
    es = await next;
    c.abort = () => {};
    wire(es);
  };
  return {};
}

async function openPoll(t, c, long) {
  let cursor = 0;
  let abort = new AbortController();
  const once = async (wait, signal) => {
    const url = `/poll?client=${t.client}&after=${cursor}${wait ? '' : '&wait=0'}`;
    const r = await fetch(url, { cache: 'no-store', signal });
    const gap = r.headers.get('Wirebench-Gap');
    if (gap) c.count('gap', Number(gap) || 1);
    const cur = r.headers.get('Wirebench-Cursor');
    if (r.status === 200) {
      const body = new Uint8Array(await r.arrayBuffer());
      const at = now();
      for (const f of splitPrefixed(body)) c.deliver(f, at);
    } else if (r.status !== 204) {
      throw new Error(`GET /poll answered ${r.status}: ${await r.text()}`);
    }
    if (cur !== null) cursor = Number(cur);
  };
  // The polling loop; a resume aborts it (and its request) and starts another.
  const loop = (signal) => (async () => {
    let next = now();
    while (!signal.aborted) {
      if (!long) {
        next = Math.max(next + t.pollIntervalMs, now() - t.pollIntervalMs);
        await sleepUntil(next);
        if (signal.aborted) return;
      }
      try { await once(long, signal); } catch (e) {
        if (!signal.aborted) c.fail(`poll: ${e.message}`);
        return;
      }
    }
  })();
  // A first, immediate poll opens the client's HTTP downstream on the server (as the Rust
  // client does; it is part of setup).
  await once(false, abort.signal);
  attachUpSink(t, c);
  loop(abort.signal);
  c.close = async () => { c.closing = true; abort.abort(); };
  // Polls again from the cursor at once (the old request, possibly on a dead connection, is
  // aborted); resolves when that poll has been answered.
  c.resume = async () => {
    abort.abort();
    abort = new AbortController();
    const { signal } = abort;
    c.abort = () => abort.abort();
    await once(false, signal);
    c.abort = () => {};
    loop(signal);
  };
  return {};
}

async function readLoop(reader, c, onChunk) {
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) { c.fail('stream ended'); return; }
      onChunk(value, now());
    }
  } catch (e) {
    c.fail(`read: ${e.message}`);
  }
}

async function openWebTransport(t, c, datagram) {
  const t0 = now();
  const wt = new WebTransport(`https://${location.host}/wt?client=${t.client}`, {
    serverCertificateHashes: [{ algorithm: 'sha-256', value: t.certHash }],
  });
  c.abort = () => wt.close();
  await wt.ready;
  const session = now() - t0;
  wt.closed.then(() => c.fail('WebTransport session closed'), (e) => c.fail(`WebTransport session: ${e.message}`));
  if (datagram) {
    const w = wt.datagrams.writable.getWriter();
    c.send = async (f) => {
      const max = wt.datagrams.maxDatagramSize;
      if (f.byteLength > max) throw new Error(`frame of ${f.byteLength} bytes exceeds this transport's maximum of ${max} bytes`);
      await w.ready;
      w.write(f).catch(() => {});
    };
    readLoop(wt.datagrams.readable.getReader(), c, (d, at) => c.deliver(d, at));
    c.close = async () => { c.closing = true; wt.close(); };
    return { session };
  }
  const s = await wt.createBidirectionalStream();
  const stream = now() - t0 - session;
  const w = s.writable.getWriter();
  c.send = async (f) => {
    await w.ready;
    w.write(prefixed([f])).catch((e) => c.fail(`stream write: ${e.message}`));
  };
  const dec = new Prefixed();
  readLoop(s.readable.getReader(), c, (chunk, at) => {
    dec.push(chunk);
    let frames;
    try { frames = dec.take(); } catch (e) { c.fail(e.message); return; }
    for (const f of frames) c.deliver(f, at);
  });
  c.close = async () => {
    c.closing = true;
    try { await w.close(); } catch { /* already closed */ }
    wt.close();
  };
  return { session, stream };
}

/** Gathers every ICE candidate of `pc`'s local description (no trickle: a description carries
 *  them all). */
async function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return;
  await withTimeout(new Promise((res) => {
    pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') res(); });
  }), 10000, 'ICE gathering did not complete');
}

/** A data channel's open promise. */
function channelOpen(dc) {
  dc.binaryType = 'arraybuffer';
  return new Promise((res, rej) => {
    dc.onopen = res;
    dc.onerror = (e) => rej(new Error(`data channel: ${e.error ? e.error.message : 'error'}`));
  });
}

/** Wires an open data channel into `c`; closing also withdraws `session` when given. */
function attachChannel(c, pc, dc, session) {
  dc.bufferedAmountLowThreshold = 256 << 10;
  let lowWaiter = null;
  const wake = () => { const w = lowWaiter; lowWaiter = null; if (w) w(); };
  dc.onbufferedamountlow = wake;
  dc.onmessage = (e) => {
    const at = now();
    if (typeof e.data === 'string') { c.count('frame_text'); return; }
    c.deliver(new Uint8Array(e.data), at);
  };
  dc.onclose = () => { wake(); c.fail('data channel closed'); };
  c.send = async (f) => {
    if (dc.readyState !== 'open') throw new Error('data channel is not open');
    dc.send(f);
    if (dc.bufferedAmount > 1 << 20) {
      // Backpressure: wait for the channel's own "buffer low" event (polling with timers would
      // be clamped to 4 ms and starve a fast channel).
      await new Promise((res) => { lowWaiter = res; });
    }
  };
  c.close = async () => {
    c.closing = true;
    dc.close();
    pc.close();
    if (session) await fetch(session, { method: 'DELETE' }).catch(() => {});
  };
}

/** The `RTCConfiguration` of `t`: the cell's STUN/TURN servers and transport policy when it
 *  has a TURN server (`t.ice`, as the runner sends it), else none. */
function rtcConfig(t) {
  return t.ice || { iceServers: [] };
}

/** The path of `pc`'s selected candidate pair, from `getStats()`, as the Rust clients name it
 *  (`transport/rtc/ice.rs`, `pair_path`): the less direct of its two candidates' types (relay,
 *  srflx, prflx, host); a relayed local candidate names its TURN transport (`relay/udp`), a
 *  relayed remote one is `relay`. The pair is the transport's `selectedCandidatePairId`, else
 *  the nominated succeeded pair. null when the stats name none. */
async function selectedPath(pc) {
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId) || pair;
  });
  if (!pair) {
    stats.forEach((s) => {
      if (!pair && s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
    });
  }
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  if (!local || !remote) return null;
  const rank = { relay: 3, srflx: 2, prflx: 1, host: 0 };
  if (local.candidateType === 'relay') {
    return local.relayProtocol ? `relay/${local.relayProtocol}` : 'relay';
  }
  return (rank[remote.candidateType] || 0) > (rank[local.candidateType] || 0)
    ? remote.candidateType : local.candidateType;
}

function channelOptions(reliable) {
  return reliable ? { ordered: true } : { ordered: false, maxRetransmits: 0 };
}

async function openWebRtc(t, c, reliable) {
  const t0 = now();
  const pc = new RTCPeerConnection(rtcConfig(t));
  c.abort = () => pc.close();
  const dc = pc.createDataChannel('wirebench', channelOptions(reliable));
  const opened = channelOpen(dc);
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const gather = now() - t0;
  const r = await fetch(`/rtc/offer?client=${t.client}`, {
    method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp,
  });
  if (r.status !== 201) throw new Error(`POST /rtc/offer answered ${r.status}: ${await r.text()}`);
  const session = r.headers.get('Location');
  await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() });
  const signal = now() - t0 - gather;
  await withTimeout(opened, CONNECT_TIMEOUT_MS, 'data channel did not open');
  const channel = now() - t0 - gather - signal;
  attachChannel(c, pc, dc, session);
  c.pathOf = () => selectedPath(pc);
  return { gather, signal, channel };
}

/** Relay peer to peer (docs/protocol.md, "Peer to peer (relay)"): the sender offers one channel
 *  to `peer` through `POST /rtc/relay/offer` and gets its answer; the receiver long-polls
 *  `GET /rtc/relay/offer` for the offer, answers it with `POST /rtc/relay/session/<sid>` and
 *  takes the channel. From then on the two pages talk directly; the server sees no data. */
async function openWebRtcRelay(t, c, reliable, peer, sender) {
  const pc = new RTCPeerConnection(rtcConfig(t));
  c.abort = () => pc.close();
  // Where it got stuck, for the failure reason.
  let step = sender ? 'offering' : 'waiting for the offer';
  const cands = (d) => (d ? d.sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:'))
    .map((l) => l.split(' ').slice(4, 6).join(':')).join(' ') : 'none');
  c.diag = () => `${step}; ICE ${pc.iceConnectionState}, local candidates ${cands(pc.localDescription)}, remote ${cands(pc.remoteDescription)}`;
  if (sender) {
    const t0 = now();
    const dc = pc.createDataChannel('wirebench', channelOptions(reliable));
    const opened = channelOpen(dc);
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const gather = now() - t0;
    step = 'waiting for the answer';
    const r = await fetch(`/rtc/relay/offer?client=${t.client}&peer=${peer}`, {
      method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp,
    });
    if (r.status !== 201) throw new Error(`POST /rtc/relay/offer answered ${r.status}: ${await r.text()}`);
    await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() });
    const signal = now() - t0 - gather;
    step = 'opening the channel';
    await withTimeout(opened, CONNECT_TIMEOUT_MS, 'data channel did not open');
    const channel = now() - t0 - gather - signal;
    attachChannel(c, pc, dc, null);
    c.pathOf = () => selectedPath(pc);
    return { gather, signal, channel };
  }
  // Receiver: wait for the offer addressed to this client (the setup clock starts once it is
  // here, as the Rust receiver's does).
  let r;
  for (;;) {
    r = await fetch(`/rtc/relay/offer?client=${t.client}`, { cache: 'no-store' });
    if (r.status === 200) break;
    if (r.status !== 204) throw new Error(`GET /rtc/relay/offer answered ${r.status}: ${await r.text()}`);
  }
  const from = Number(r.headers.get('Wirebench-Peer'));
  if (from !== peer) throw new Error(`relay offer from client ${from}, expected client ${peer}`);
  const session = r.headers.get('Location');
  const offer = await r.text();
  step = 'answering';
  const t0 = now();
  const channelIn = new Promise((res) => { pc.ondatachannel = (e) => res(e.channel); });
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered(pc);
  const gather = now() - t0;
  const a = await fetch(`${session}?client=${t.client}`, {
    method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp,
  });
  if (a.status !== 204) throw new Error(`POST ${session} answered ${a.status}: ${await a.text()}`);
  const signal = now() - t0 - gather;
  step = 'waiting for the channel';
  const dc = await withTimeout(channelIn, CONNECT_TIMEOUT_MS, 'no data channel from the peer');
  if (dc.readyState !== 'open') await withTimeout(channelOpen(dc), CONNECT_TIMEOUT_MS, 'data channel did not open');
  dc.binaryType = 'arraybuffer';
  const channel = now() - t0 - gather - signal;
  attachChannel(c, pc, dc, null);
  c.pathOf = () => selectedPath(pc);
  return { gather, signal, channel };
}

const OPENERS = {
  websocket: (t, c) => openWebSocket(t, c),
  sse: (t, c) => openSse(t, c),
  'long-poll': (t, c) => openPoll(t, c, true),
  poll: (t, c) => openPoll(t, c, false),
  webtransport: (t, c) => openWebTransport(t, c, false),
  'webtransport-datagram': (t, c) => openWebTransport(t, c, true),
  webrtc: (t, c) => openWebRtc(t, c, true),
  'webrtc-unreliable': (t, c) => openWebRtc(t, c, false),
};

/** Transport ids this client speaks. */
export const TRANSPORTS = Object.keys(OPENERS);

/** Opens a connection: `{conn, setupMs, phasesMs}`. With `relay = {peer, sender}` (the relay
 *  workload), WebRTC connects peer to peer with client `peer` instead of to the server; every
 *  other transport connects to the server, which forwards the data frames. `conn` may be
 *  passed in, so the caller can `abort()` the attempt. */
export async function connect(transport, target, relay = null, conn = new Conn()) {
  let open = OPENERS[transport];
  if (!open) throw new Error(`transport ${JSON.stringify(transport)} has no browser API here`);
  if (relay && (transport === 'webrtc' || transport === 'webrtc-unreliable')) {
    open = (t, c) => openWebRtcRelay(t, c, transport === 'webrtc', relay.peer, relay.sender);
  }
  const t0 = now();
  const phasesMs = await withTimeout(open(target, conn), CONNECT_TIMEOUT_MS, `${transport}: connect timed out`)
    .catch((e) => {
      conn.abort();
      throw conn.diag ? new Error(`${e.message}; ${conn.diag()}`) : e;
    });
  const setupMs = now() - t0;
  conn.abort = () => {};
  // Read after the clock stops: getStats() is no part of the setup.
  if (conn.pathOf) conn.icePath = await conn.pathOf().catch(() => null);
  return { conn, setupMs, phasesMs };
}

// ---- workloads ----------------------------------------------------------------------------

/** Sequence accounting, as the Rust client's SeqTracker. */
class SeqTracker {
  constructor() { this.seen = new Set(); this.max = -1; this.distinct = 0; this.duplicated = 0; this.reordered = 0; }
  record(seq) {
    if (this.seen.has(seq)) { this.duplicated++; return false; }
    this.seen.add(seq);
    this.distinct++;
    if (seq < this.max) this.reordered++;
    else this.max = seq;
    return true;
  }
}

function newReport() {
  return {
    latency_us: [], warmup_samples: 0, setup_us: [], setup_phases_us: {}, sent: 0, received: 0,
    duplicated: 0, reordered: 0, bytes_received: 0, frames_received: 0, recv_span_ns: 0,
    bytes_sent: 0, bytes_received_total: 0, errors: {}, send_lateness_us: null, clock: null,
    late: 0, arrivals: null, resumes: 0, reconnects: 0, failed_attempts: 0, gap_start_ns: null,
    gap_end_ns: null, ice_paths: {},
  };
}

/** Records one setup: its time, phases, and (WebRTC) the path its candidate pair took. */
function addSetup(rep, setupMs, phasesMs, conn) {
  rep.setup_us.push(Math.round(setupMs * 1000));
  if (conn && conn.icePath) rep.ice_paths[conn.icePath] = (rep.ice_paths[conn.icePath] || 0) + 1;
  for (const [k, v] of Object.entries(phasesMs)) {
    rep.setup_phases_us[k] = (rep.setup_phases_us[k] || 0) + Math.round(v * 1000);
  }
}

function mergeErrors(rep, errors) {
  for (const [k, v] of Object.entries(errors)) rep.errors[k] = (rep.errors[k] || 0) + v;
}

function count(rep, key) { rep.errors[key] = (rep.errors[key] || 0) + 1; }

/** Hands `conn`'s frames of `kind` (from `sender`, when given: an id, or a predicate on the
 *  id) to `handle(h, frame, at, done)`; counts the rest by why they were dropped. Returns the
 *  promise `done()` resolves ("all in"). */
function receive(conn, rep, kind, sender, handle) {
  let done;
  const allIn = new Promise((r) => { done = r; });
  const from = sender === null ? () => true : typeof sender === 'function' ? sender : (id) => id === sender;
  conn.onFrame((f, at) => {
    rep.bytes_received_total += f.byteLength;
    const h = parseHeader(f);
    if (h.error) { count(rep, h.error); return; }
    if (h.kind !== kind || !from(h.sender)) { count(rep, 'frame_unexpected'); return; }
    handle(h, f, at, done);
  });
  return allIn;
}

/** Echo: open-loop requests at `rate`, RTT from each frame's intended send time. */
async function echo(p, id, conn, startMs, rep) {
  const periodMs = 1000 / Math.max(p.rate, 0.001);
  const [warmN, totalN] = scheduleCounts(p);
  const seqs = new SeqTracker();
  let warm = 0;
  let got = 0;
  const allIn = receive(conn, rep, KIND.ECHO_REPLY, id, (h, f, at, done) => {
    if (h.seq >= totalN) { count(rep, 'frame_unexpected'); return; }
    // Frames intact: the reply is the request with only the kind changed.
    if (f.byteLength !== p.size || h.sentNs !== Math.round((startMs + h.seq * periodMs) * 1e6)
        || !f.every((b, i) => i < HEADER_LEN || b === ((i * 31 + h.seq) & 255))) {
      count(rep, 'frame_corrupted');
      return;
    }
    if (!seqs.record(h.seq)) return;
    got++;
    const us = Math.max(1, (at * 1e6 - h.sentNs) / 1000);
    if (h.seq < warmN) warm++;
    else rep.latency_us.push(us);
    if (got >= totalN) done();
  });
  const late = [];
  let sent = 0;
  const sender = (async () => {
    for (let seq = 0; seq < totalN; seq++) {
      const t = startMs + seq * periodMs;
      await sleepUntil(t);
      late.push(Math.max(1, (now() - t) * 1000));
      await conn.send(encodeFrame(seq, t * 1e6, id, KIND.ECHO_REQUEST, p.size, true));
      sent = seq + 1;
    }
  })();
  const endMs = startMs + totalN * periodMs + DRAIN_MS;
  await Promise.race([Promise.all([sender, allIn]), conn.broken(), sleepUntil(endMs).then(() => sender)]);
  late.sort((a, b) => a - b);
  rep.send_lateness_us = late;
  rep.warmup_samples = warm;
  rep.received = rep.latency_us.length;
  rep.duplicated = seqs.duplicated;
  rep.reordered = seqs.reordered;
  rep.sent = Math.max(0, sent - warmN);
  rep.frames_received = rep.latency_us.length;
  rep.bytes_received = rep.latency_us.length * p.size;
  rep.recv_span_ns = Math.round((totalN - warmN) * periodMs * 1e6);
  rep.bytes_sent = sent * p.size;
}

/** Push: server-originated frames at `rate`; one-way latency on the server's clock through the
 *  estimated offset (`clock`). */
async function push(p, conn, clock, rep) {
  const [warmN, expectN] = scheduleCounts(p);
  const seqs = new SeqTracker();
  let warm = 0;
  let first = null;
  const allIn = receive(conn, rep, KIND.PUSH, null, (h, f, at, done) => {
    if (first === null) first = at;
    if (!seqs.record(h.seq)) return;
    if (h.seq < warmN) { warm++; } else {
      const us = (at * 1e6 + clock.offset_ns - h.sentNs) / 1000;
      if (us < 0) count(rep, 'clock_negative_one_way');
      rep.latency_us.push(Math.max(1, us));
      rep.bytes_received += f.byteLength;
      rep.frames_received++;
    }
    if (seqs.distinct >= expectN) done();
  });
  const t0 = now();
  await Promise.race([
    allIn,
    conn.broken(),
    (async () => {
      while (first === null && now() - t0 < 30000) await sleep(20);
      if (first === null) throw new Error('no push frame arrived within 30 s');
      // A poll client fetches the last frames at its next poll.
      await sleepUntil(first + p.duration_ms + p.warmup_ms + DRAIN_MS + p.poll_interval_ms);
    })(),
  ]);
  rep.warmup_samples = warm;
  rep.received = rep.latency_us.length;
  rep.duplicated = seqs.duplicated;
  rep.reordered = seqs.reordered;
  rep.sent = expectN - warmN;
}

/** Idle: the connection stays quiet (only the transports' keep-alives cross the link) while
 *  the orchestrator holds the warm-up and the quiet window, then the server pushes
 *  `f.notifications` notifications; each arrival's one-way latency goes into the report. As
 *  the Rust client, the page waits for them at most `f.wait_ms` (the whole schedule plus slack
 *  for fan-out to many clients and a poll interval). */
async function idle(p, f, conn, clock, rep) {
  const n = f.notifications;
  const seqs = new SeqTracker();
  const allIn = receive(conn, rep, KIND.PUSH, null, (h, fr, at, done) => {
    if (h.seq >= n) { count(rep, 'frame_unexpected'); return; }
    if (!seqs.record(h.seq)) return;
    const us = (at * 1e6 + clock.offset_ns - h.sentNs) / 1000;
    if (us < 0) count(rep, 'clock_negative_one_way');
    rep.latency_us.push(Math.max(1, us));
    rep.frames_received++;
    rep.bytes_received += fr.byteLength;
    if (seqs.distinct >= n) done();
  });
  await Promise.race([allIn, conn.broken(), sleep(f.wait_ms)]);
  rep.received = rep.latency_us.length;
  rep.duplicated = seqs.duplicated;
  rep.reordered = seqs.reordered;
  rep.sent = n;
}

/** `connect()` bounded by `ms`: an attempt that runs out of time is aborted, so it cannot
 *  complete later (the browser keeps a handshake going after its promise is dropped) and take
 *  the client's downstream at the server from the connection in use; one that opens all the
 *  same is closed, not leaked. */
async function connectWithin(transport, target, ms) {
  let late = false;
  const conn = new Conn();
  const opening = connect(transport, target, null, conn);
  opening.then((c) => { if (late) c.conn.close(); }, () => {});
  try {
    return await withTimeout(opening, ms, `${transport}: reconnect`);
  } catch (e) {
    late = true;
    conn.abort();
    throw e;
  }
}

/** Flap: a push stream of `f.frames` frames (the first `f.warmup_frames` are warm-up) whose
 *  link the orchestrator cuts and restores. As the Rust client (harness/src/workload/flap.rs):
 *  a connection silent for `f.stall_ms` (0: never), or one that breaks, is given up; SSE,
 *  long-poll and poll resume in place from their cursor, the others open a new connection with
 *  the same client id; each attempt is bounded by max(stall, 1 s) and retried until one works.
 *  After the stream's final frame, silence is its end (500 ms for stragglers), not a stall.
 *  Reports resumes, reconnects, failed attempts and the longest silence between two frames
 *  (`gap_start_ns`, `gap_end_ns` on the server's clock). `live.conn` is the connection in use
 *  (the caller closes the last one). */
async function flap(p, f, transport, target, live, clock, rep) {
  const n = f.frames;
  const warmN = f.warmup_frames;
  const stall = f.stall_ms;
  const attemptMs = Math.max(stall, 1000);
  const serverNs = (t) => Math.round(t * 1e6 + clock.offset_ns);
  const seqs = new SeqTracker();
  let warm = 0;
  let lastRx = null;
  let quietSince = now();
  let gap = null;
  let endMs = now() + 30000;
  // The stream's final frame arrived: silence from then on is its end, not a stall (frames lost
  // in a dead connection never come, so the distinct count alone would never say so).
  let ended = false;
  const listen = (c) => receive(c, rep, KIND.PUSH, null, (h, fr, at) => {
    if (c !== live.conn) return; // a connection already given up
    if (h.seq >= n) { count(rep, 'frame_unexpected'); return; }
    if (lastRx === null) endMs = at + p.warmup_ms + p.duration_ms + DRAIN_MS;
    else if (gap === null || at - lastRx > gap[1] - gap[0]) gap = [lastRx, at];
    lastRx = at;
    quietSince = at;
    if (h.seq + 1 === n) { ended = true; endMs = Math.min(endMs, at + 500); }
    if (!seqs.record(h.seq)) return;
    if (h.seq < warmN) { warm++; return; }
    const us = (at * 1e6 + clock.offset_ns - h.sentNs) / 1000;
    if (us < 0) count(rep, 'clock_negative_one_way');
    rep.latency_us.push(Math.max(1, us));
    rep.frames_received++;
    rep.bytes_received += fr.byteLength;
  });
  listen(live.conn);
  while (seqs.distinct < n && now() < endMs) {
    await sleep(10);
    let why = null;
    if (live.conn.failure) why = /closed|ended/.test(live.conn.failure) ? 'closed' : 'error';
    else if (stall > 0 && lastRx !== null && !ended && now() - quietSince >= stall) why = 'stalled';
    if (why === null) continue;
    if (lastRx === null) throw new Error(`the stream ended before its first frame (${live.conn.failure || why})`);
    count(rep, `flap_${why}`);
    // Recover: resume in place where the transport can, else a new connection.
    if (!live.conn.resume) {
      live.conn.close();
      mergeErrors(rep, live.conn.errors);
      live.conn.errors = {};
    }
    while (now() < endMs) {
      try {
        if (live.conn.resume) {
          await withTimeout(live.conn.resume(), attemptMs, 'resume').catch((e) => {
            live.conn.abort();
            throw e;
          });
          live.conn.recovered();
          rep.resumes++;
        } else {
          const c = await connectWithin(transport, target, attemptMs);
          live.conn = c.conn;
          listen(live.conn);
          rep.reconnects++;
        }
        break;
      } catch {
        rep.failed_attempts++;
        // Refused at once (e.g. no route yet): don't spin.
        await sleep(20);
      }
    }
    quietSince = now();
  }
  if (lastRx === null) throw new Error('no push frame arrived within 30 s');
  mergeErrors(rep, live.conn.errors);
  live.conn.errors = {};
  rep.warmup_samples = warm;
  rep.received = rep.latency_us.length;
  rep.duplicated = seqs.duplicated;
  rep.reordered = seqs.reordered;
  rep.sent = n - warmN;
  rep.recv_span_ns = Math.round(p.duration_ms * 1e6);
  if (gap !== null) { rep.gap_start_ns = serverNs(gap[0]); rep.gap_end_ns = serverNs(gap[1]); }
}

/** Download: server-originated data frames, as fast as the downstream takes them (the server
 *  paces HTTP downstreams by what the client has acknowledged). As the Rust client: the
 *  warm-up is the first `warmup_ms` after the first frame; the receive ends 1.5 s after the
 *  last frame (longer than SCTP's 1 s minimum RTO: a retransmission stall counts against the
 *  goodput, it does not end the download) or half a second after the server's sending time
 *  (warm-up + duration
 *  from the first frame), whichever comes first; goodput is over the span between the first
 *  and the last frame counted. One-way latency through the estimated offset (`clock`).
 *  A frame whose length is not the workload's size counts as `frame_corrupted`; sequence
 *  numbers missing below the highest seen as `frame_missing`. */
async function download(p, conn, clock, rep) {
  const IDLE_MS = 500;
  const STALL_MS = 1500; // BULK_STALL of harness/src/workload/mod.rs
  const seqs = new SeqTracker();
  let warm = 0;
  let first = null;
  let countedFirst = null;
  let last = 0;
  let deadline = now() + 30000;
  receive(conn, rep, KIND.DATA, null, (h, f, at) => {
    if (f.byteLength !== p.size) { count(rep, 'frame_corrupted'); return; }
    if (first === null) first = at;
    deadline = Math.min(at + STALL_MS, first + p.duration_ms + p.warmup_ms + IDLE_MS);
    if (!seqs.record(h.seq)) return;
    if (at < first + p.warmup_ms) { warm++; return; }
    const us = (at * 1e6 + clock.offset_ns - h.sentNs) / 1000;
    if (us < 0) count(rep, 'clock_negative_one_way');
    rep.latency_us.push(Math.max(1, us));
    if (countedFirst === null) countedFirst = at;
    last = at;
    rep.bytes_received += f.byteLength;
    rep.frames_received++;
  });
  await Promise.race([
    conn.broken(),
    (async () => {
      while (now() < deadline) await sleep(Math.min(50, Math.max(1, deadline - now())));
    })(),
  ]);
  if (first === null) throw new Error('no data frame arrived within 30 s');
  const missing = seqs.max + 1 - seqs.distinct;
  if (missing > 0) rep.errors.frame_missing = (rep.errors.frame_missing || 0) + missing;
  rep.warmup_samples = warm;
  rep.received = rep.latency_us.length;
  rep.duplicated = seqs.duplicated;
  rep.reordered = seqs.reordered;
  rep.sent = rep.latency_us.length;
  rep.recv_span_ns = countedFirst === null ? 0 : Math.round((last - countedFirst) * 1e6);
}

/** Upload: data frames as fast as the transport takes them (its send waits while the
 *  transport pushes back) for warm-up + duration; the server counts what arrives (it measures
 *  the goodput, after its own warm-up). Then one echo request: on a reliable ordered transport
 *  its reply proves the server has taken every data frame before it. */
async function upload(p, id, conn, startMs, rep) {
  const end = startMs + p.warmup_ms + p.duration_ms;
  let marker = null;
  let confirm;
  const confirmed = new Promise((r) => { confirm = r; });
  conn.onFrame((f) => {
    rep.bytes_received_total += f.byteLength;
    const h = parseHeader(f);
    if (!h.error && h.kind === KIND.ECHO_REPLY && h.seq === marker) confirm();
  });
  await sleepUntil(startMs);
  let seq = 0;
  const sending = (async () => {
    while (now() < end) {
      await conn.send(encodeFrame(seq, now() * 1e6, id, KIND.DATA, p.size));
      seq++;
      rep.bytes_sent += p.size;
    }
  })();
  await Promise.race([sending, conn.broken()]);
  rep.sent = seq;
  marker = seq;
  await conn.send(encodeFrame(seq, now() * 1e6, id, KIND.ECHO_REQUEST, HEADER_LEN));
  await withTimeout(Promise.race([confirmed, conn.broken()]), 30000,
    'server did not confirm the end of the upload');
}

/** Relates the page's clock to the server's CLOCK_MONOTONIC. NTP-style estimate: `GET /clock`
 *  probes, the one with the shortest round trip wins; its half round trip bounds the error.
 *  With `epochMs`, the page's clock is the machine's wall clock from that epoch
 *  (`performance.timeOrigin + performance.now() - epochMs`, see `sharedClock`).
 *  When the server runs on the same machine (`sameMachine`, the runner's cells) and sends the
 *  exact CLOCK_MONOTONIC − CLOCK_REALTIME offset (`x-wirebench-mono-minus-realtime-ns`), the page
 *  converts its wall clock with it (`method: 'exact'`, bounded by the server's reading and the
 *  page timer's 5 µs); the estimate is kept beside it (`estimate_offset_ns`,
 *  `estimate_uncertainty_us`), so its real error is on record. A remote server gets the estimate. */
export async function syncClock(probes = 16, epochMs = null, sameMachine = true) {
  const base = epochMs === null ? 0 : performance.timeOrigin - epochMs;
  let best = null;
  let exact = null;
  for (let i = 0; i < probes; i++) {
    const t0 = base + now();
    const r = await fetch('/clock', { cache: 'no-store' });
    const server = Number(await r.text());
    const t1 = base + now();
    if (!r.ok || !Number.isFinite(server)) throw new Error(`GET /clock answered ${r.status}`);
    const rtt = t1 - t0;
    if (best === null || rtt < best.rtt) best = { rtt, offset: server - (t0 + t1) / 2 * 1e6 };
    const d = r.headers.get('x-wirebench-mono-minus-realtime-ns');
    const b = Number(r.headers.get('x-wirebench-mono-minus-realtime-bound-ns'));
    if (d !== null && /^-?[0-9]+$/.test(d) && Number.isFinite(b) && (exact === null || b < exact.bound)) {
      exact = { d, bound: b };
    }
  }
  const estimate = { offset_ns: best.offset, uncertainty_us: best.rtt / 2 * 1000 };
  let clock = { ...estimate, probes, method: 'estimated' };
  if (sameMachine && exact !== null) {
    // Server ns = wall-clock ns + d, wall clock = timeOrigin + now() = page clock + (timeOrigin
    // - base): offset = (timeOrigin - base) ms + d, summed in BigInt (both ~1.7e18 ns).
    const wallMs = performance.timeOrigin - base;
    const whole = Math.floor(wallMs);
    const offset = Number(BigInt(whole) * 1000000n + BigInt(exact.d)) + (wallMs - whole) * 1e6;
    clock = {
      offset_ns: offset, uncertainty_us: exact.bound / 1000 + 5, probes, method: 'exact',
      estimate_offset_ns: estimate.offset_ns, estimate_uncertainty_us: estimate.uncertainty_us,
    };
  }
  if (epochMs !== null) clock.epoch_ms = epochMs;
  return clock;
}

/** The clock every page of a relay or collab cell stamps and reads frames with. Sender and
 *  receiver are different pages (and, on a topology, different browsers), whose
 *  `performance.now()` origins differ; what they share is the machine's wall clock,
 *  `performance.timeOrigin + performance.now()` (CLOCK_REALTIME, the same in every page and
 *  browser process of one machine). One page estimates, through `/clock`, the offset from that
 *  wall clock to the server's CLOCK_MONOTONIC, and every page uses that one offset: frames then
 *  carry `sent_ns` on the server's clock (within `uncertainty_us`), and since sender and
 *  receiver apply the same offset it cancels out of their one-way latency. */
export async function sharedClock() {
  return syncClock(16, Math.floor(performance.timeOrigin + now()));
}

/** Page time `t` (ms) on the shared clock (ns). */
const toShared = (clock, t) => (performance.timeOrigin - clock.epoch_ms + t) * 1e6 + clock.offset_ns;
/** Shared-clock `ns` as page time (ms). */
const fromShared = (clock, ns) => (ns - clock.offset_ns) / 1e6 - (performance.timeOrigin - clock.epoch_ms);

/** Connect: repeated cold setups, each proven by one echo round trip. */
async function connectWorkload(transport, target, p, rep) {
  for (let i = 0; i < Math.max(1, p.connects); i++) {
    const { conn, setupMs, phasesMs } = await connect(transport, target).catch((e) => {
      throw new Error(`connect #${i + 1}: ${e.message}`);
    });
    let ok;
    const replied = new Promise((r) => { ok = r; });
    conn.onFrame((f) => { const h = parseHeader(f); if (!h.error && h.kind === KIND.ECHO_REPLY) ok(); });
    await conn.send(encodeFrame(i, now() * 1e6, target.client, KIND.ECHO_REQUEST, Math.max(p.size, HEADER_LEN)));
    await withTimeout(Promise.race([replied, conn.broken()]), 10000, `connect #${i + 1}: first echo timed out`);
    mergeErrors(rep, conn.errors);
    await conn.close();
    if (i === 0 && p.warmup_ms > 0) rep.warmup_samples++;
    else {
      addSetup(rep, setupMs, phasesMs, conn);
      rep.latency_us.push(Math.max(1, setupMs * 1000));
    }
  }
  rep.sent = rep.latency_us.length;
  rep.received = rep.latency_us.length;
}

/** Frames of the warm-up and in all at `p.rate`: the count the Rust agents and the server use
 *  (`Schedule::counts`), so every side expects the frames the sender sends. */
function scheduleCounts(p) {
  const warmN = Math.ceil(p.rate * p.warmup_ms / 1000);
  return [warmN, warmN + Math.ceil(p.rate * p.duration_ms / 1000)];
}

/** An open-loop schedule from `startMs` (page clock): `{periodMs, warmN, totalN, endMs}`. */
function schedule(p, startMs) {
  const periodMs = 1000 / Math.max(p.rate, 0.001);
  const [warmN, totalN] = scheduleCounts(p);
  return { startMs, periodMs, warmN, totalN, endMs: startMs + totalN * periodMs };
}

/** Sends the schedule's frames of `kind`, each stamped with its intended send time on the
 *  shared clock; fills sent (after warm-up), bytes_sent and send_lateness_us. */
async function sendSchedule(s, p, id, kind, conn, clock, rep) {
  const late = [];
  let sent = 0;
  try {
    for (let seq = 0; seq < s.totalN; seq++) {
      const t = s.startMs + seq * s.periodMs;
      await sleepUntil(t);
      late.push(Math.max(1, (now() - t) * 1000));
      await conn.send(encodeFrame(seq, toShared(clock, t), id, kind, p.size));
      sent = seq + 1;
    }
  } finally {
    late.sort((a, b) => a - b);
    rep.send_lateness_us = late;
    rep.sent = Math.max(0, sent - s.warmN);
    rep.bytes_sent = sent * p.size;
  }
}

/** Relay, A's side: the schedule of data frames to the peer (routed by the server's pairing,
 *  or the peer connection), then a linger of DRAIN_MS so frames in flight arrive before the
 *  connection closes. */
async function relaySend(p, id, conn, clock, startMs, rep) {
  const s = schedule(p, startMs);
  await Promise.race([sendSchedule(s, p, id, KIND.DATA, conn, clock, rep), conn.broken()]);
  // Everything is sent: from now on the receiver may close (peer to peer, once it has every
  // frame); what did not arrive is the receiver's to count.
  conn.closing = true;
  await sleepUntil(s.endMs + DRAIN_MS);
}

/** Relay, B's side: the peer's data frames until all are in or the schedule plus DRAIN_MS is
 *  over; one-way latency on the shared clock. With `deadline_ms`, later frames count as late
 *  (their latency recorded, not received). */
async function relayReceive(p, peer, conn, clock, startMs, rep) {
  const s = schedule(p, startMs);
  const deadlineNs = p.deadline_ms === undefined || p.deadline_ms === null ? null : p.deadline_ms * 1e6;
  const seqs = new SeqTracker();
  let warm = 0;
  const allIn = receive(conn, rep, KIND.DATA, peer, (h, f, at, done) => {
    if (h.seq >= s.totalN || !seqs.record(h.seq)) return;
    if (h.seq < s.warmN) { warm++; } else {
      const ns = toShared(clock, at) - h.sentNs;
      if (ns < 0) count(rep, 'clock_negative_one_way');
      rep.latency_us.push(Math.max(1, ns / 1000));
      if (deadlineNs !== null && ns > deadlineNs) rep.late++;
      else { rep.frames_received++; rep.bytes_received += f.byteLength; }
    }
    if (seqs.distinct >= s.totalN) done();
  });
  await Promise.race([allIn, conn.broken(), sleepUntil(s.endMs + DRAIN_MS)]);
  if (seqs.distinct === 0) throw new Error(`no frame from client ${peer} arrived by the end of the schedule`);
  rep.warmup_samples = warm;
  rep.received = rep.latency_us.length - rep.late;
  rep.duplicated = seqs.duplicated;
  rep.reordered = seqs.reordered;
  rep.recv_span_ns = Math.round((s.totalN - s.warmN) * s.periodMs * 1e6);
}

/** Collab, one client: sends its ops (broadcast requests) on the schedule and receives
 *  everyone's broadcasts until it has all of them or the schedule plus DRAIN_MS is over. Each
 *  arrival after warm-up is returned (`arrivals`: op id = sender * 2^32 + seq, intended send
 *  time and arrival on the shared clock, ns) for the orchestrator, which takes each op's last
 *  arrival over all clients (delivered-to-all latency) and checks each client's order against
 *  the server's. */
async function collab(p, id, peers, conn, clock, startMs, rep) {
  const s = schedule(p, startMs);
  const ids = new Set(peers);
  const expect = s.totalN * ids.size;
  const seqs = new Map();
  let warm = 0;
  let got = 0;
  const arrivals = { op: [], sent_ns: [], recv_ns: [] };
  const allIn = receive(conn, rep, KIND.BROADCAST, (from) => ids.has(from), (h, f, at, done) => {
    if (h.seq >= s.totalN) return;
    if (!seqs.has(h.sender)) seqs.set(h.sender, new SeqTracker());
    if (!seqs.get(h.sender).record(h.seq)) return;
    got++;
    if (h.seq < s.warmN) { warm++; } else {
      arrivals.op.push(h.sender * 2 ** 32 + h.seq);
      arrivals.sent_ns.push(h.sentNs);
      arrivals.recv_ns.push(Math.round(toShared(clock, at)));
    }
    if (got >= expect) done();
  });
  await Promise.race([
    Promise.all([
      sendSchedule(s, p, id, KIND.BROADCAST_REQUEST, conn, clock, rep),
      Promise.race([allIn, sleepUntil(s.endMs + DRAIN_MS)]),
    ]),
    conn.broken(),
  ]);
  rep.warmup_samples = warm;
  for (const t of seqs.values()) { rep.duplicated += t.duplicated; rep.reordered += t.reordered; }
  rep.arrivals = arrivals;
}

// relay and collab run in two steps, so the orchestrator can hold every schedule until all
// clients are connected and the server is ready (relay pairs made, collab order recording):
// `prepare(job)` connects and returns; `go(startNs)` runs the schedule from `startNs` on the
// shared clock and returns the report. Between them the connection waits in `session`.
let session = null;

/** Step 1 of a relay or collab client: `{transport, client, workload, clock}` plus, for relay,
 *  `peer` and `sender`, for collab, `peers` (every client's id). Connects (relay over WebRTC:
 *  to the peer, directly) and keeps the connection for `go`. */
export async function prepare(job) {
  if (!crossOriginIsolated) throw new Error('the page is not cross-origin isolated (COOP/COEP missing): performance.now() would be coarse');
  const p = job.workload;
  if (p.kind !== 'relay' && p.kind !== 'collab') throw new Error(`prepare() is for relay and collab, not ${p.kind}`);
  if (p.size < HEADER_LEN) throw new Error(`message size ${p.size} is below the ${HEADER_LEN}-byte frame header`);
  if (!job.clock || job.clock.epoch_ms === undefined) throw new Error('prepare() needs the shared clock (sharedClock())');
  const rep = newReport();
  const certHash = hexBytes((await (await fetch('/cert-hash')).text()).trim());
  const target = { client: job.client, certHash, pollIntervalMs: Math.max(1, p.poll_interval_ms), ice: job.ice };
  const relay = p.kind === 'relay' ? { peer: job.peer, sender: job.sender } : null;
  const { conn, setupMs, phasesMs } = await connect(job.transport, target, relay);
  addSetup(rep, setupMs, phasesMs, conn);
  session = { job, conn, rep };
  return true;
}

/** The shared clock now, ns (after `prepare`). */
export function sharedNow() {
  if (!session) throw new Error('sharedNow() before prepare()');
  return toShared(session.job.clock, now());
}

/** Step 2: runs the prepared client's schedule from `startNs` (shared clock) and returns its
 *  report. */
export async function go(startNs) {
  const s = session;
  if (!s) throw new Error('go() before prepare()');
  session = null;
  const { job, conn, rep } = s;
  const p = job.workload;
  const startMs = fromShared(job.clock, startNs);
  try {
    if (p.kind === 'collab') await collab(p, job.client, job.peers, conn, job.clock, startMs, rep);
    else if (job.sender) await relaySend(p, job.client, conn, job.clock, startMs, rep);
    else await relayReceive(p, job.peer, conn, job.clock, startMs, rep);
  } finally {
    mergeErrors(rep, conn.errors);
    await conn.close();
  }
  if (conn.failure) rep.error = `client ${job.client}: ${conn.failure}`;
  return rep;
}

/** Closes a prepared connection that will not run (another client failed to connect). */
export async function abort() {
  const s = session;
  session = null;
  if (s) await s.conn.close();
  return true;
}

/** Runs one client of a job: `{transport, client, workload: {kind, rate, size, ...}}`.
 *  Calls `window.wbConnected(client)` (a DevTools binding) once connected, so the orchestrator
 *  can start server-driven workloads. Returns the client's report (raw samples in µs). */
export async function run(job) {
  if (!crossOriginIsolated) throw new Error('the page is not cross-origin isolated (COOP/COEP missing): performance.now() would be coarse');
  const p = job.workload;
  const rep = newReport();
  if (p.size < HEADER_LEN) throw new Error(`message size ${p.size} is below the ${HEADER_LEN}-byte frame header`);
  const certHash = hexBytes((await (await fetch('/cert-hash')).text()).trim());
  const target = { client: job.client, certHash, pollIntervalMs: Math.max(1, p.poll_interval_ms), ice: job.ice };
  const announce = () => { if (typeof window.wbConnected === 'function') window.wbConnected(String(job.client)); };
  if (p.kind === 'connect') {
    announce();
    await connectWorkload(job.transport, target, p, rep);
    return rep;
  }
  if (!['echo', 'push', 'download', 'upload', 'idle', 'flap'].includes(p.kind)) throw new Error(`workload ${p.kind} has no browser runner`);
  // One-way figures need the server's clock.
  if (!['echo', 'upload'].includes(p.kind)) rep.clock = await syncClock();
  const { conn, setupMs, phasesMs } = await connect(job.transport, target);
  addSetup(rep, setupMs, phasesMs, conn);
  announce();
  const live = { conn };
  try {
    if (p.kind === 'echo') await echo(p, job.client, conn, now() + 5, rep);
    else if (p.kind === 'push') await push(p, conn, rep.clock, rep);
    else if (p.kind === 'download') await download(p, conn, rep.clock, rep);
    else if (p.kind === 'idle') await idle(p, job.idle, conn, rep.clock, rep);
    else if (p.kind === 'flap') await flap(p, job.flap, job.transport, target, live, rep.clock, rep);
    else await upload(p, job.client, conn, now() + 5, rep);
  } finally {
    mergeErrors(rep, live.conn.errors);
    await live.conn.close();
  }
  if (live.conn.failure) rep.error = `client ${job.client}: ${live.conn.failure}`;
  return rep;
}

// ---- browser-only: the per-origin connection limit ----------------------------------------

/** Opens `streams` EventSources (`sse`) or long-polls (`long-poll`) to this one origin at
 *  once and records, per stream, when its request went out / its response began and when its
 *  first event (or response) arrived, ms from the start.
 *
 *  sse: each client first has one frame queued (an echo reply, by a POST /up done before the
 *  start), and each stream asks for it with `after=0`, so a stream's first event arrives as
 *  soon as its request reaches the server. Streams stay open; every `holdMs` the
 *  lowest-numbered stream that has had its first event is closed, freeing one connection.
 *  long-poll: each poll waits at the server for `holdMs` (`wait=<ms>`) and answers 204; a poll
 *  the browser holds back is sent only when an earlier one has answered.
 *
 *  `concurrent` = streams served before the first one was released: the browser's limit
 *  (HTTP/1.1: six connections per origin; HTTP/2: the server's SETTINGS_MAX_CONCURRENT_STREAMS
 *  on one connection). */
export async function originLimit({ transport, streams, holdMs, firstClient }) {
  if (!crossOriginIsolated) throw new Error('the page is not cross-origin isolated');
  const ids = Array.from({ length: streams }, (_, k) => firstClient + k);
  const res = ids.map((id, k) => ({ stream: k + 1, client: id, opened_ms: null, first_ms: null }));
  const deadline = (streams + 2) * holdMs + 10000;
  let t0;
  if (transport === 'sse') {
    for (const id of ids) {
      const body = prefixed([encodeFrame(0, now() * 1e6, id, KIND.ECHO_REQUEST, HEADER_LEN)]);
      const r = await fetch(`/up?client=${id}`, { method: 'POST', body });
      if (r.status !== 204) throw new Error(`POST /up answered ${r.status}`);
    }
    t0 = now();
    const sources = ids.map((id, k) => {
      const es = new EventSource(`/sse?client=${id}&after=0`);
      es.onopen = () => { if (res[k].opened_ms === null) res[k].opened_ms = now() - t0; };
      es.onmessage = () => { if (res[k].first_ms === null) res[k].first_ms = now() - t0; };
      return es;
    });
    const released = new Set();
    let releases = 0;
    try {
      while (res.some((r) => r.first_ms === null) && now() - t0 < deadline) {
        await sleepUntil(t0 + (releases + 1) * holdMs);
        const k = res.findIndex((r, i) => r.first_ms !== null && !released.has(i));
        if (k >= 0) { sources[k].close(); released.add(k); releases++; res[k].released_ms = now() - t0; }
        else if (res.every((r) => r.first_ms === null)) break;
      }
    } finally {
      for (const es of sources) es.close();
    }
  } else if (transport === 'long-poll') {
    t0 = now();
    const urls = ids.map((id) => new URL(`/poll?client=${id}&after=0&wait=${Math.round(holdMs)}`, location.href).href);
    await Promise.all(urls.map(async (u, k) => {
      const r = await withTimeout(fetch(u, { cache: 'no-store' }), deadline, `long-poll ${k + 1}`);
      res[k].first_ms = now() - t0;
      await r.arrayBuffer();
      if (r.status !== 204 && r.status !== 200) throw new Error(`GET /poll answered ${r.status}`);
    }));
    for (const [k, u] of urls.entries()) {
      const e = performance.getEntriesByName(u)[0];
      if (e && e.requestStart > 0) res[k].opened_ms = e.requestStart - t0;
    }
  } else {
    throw new Error(`origin-limit runs over sse or long-poll, not ${transport}`);
  }
  const firstRelease = transport === 'sse' ? holdMs : holdMs * 1.5;
  const concurrent = res.filter((r) => r.first_ms !== null && r.first_ms < firstRelease).length;
  // The protocol the browser negotiated with this origin (ALPN id: "http/1.1", "h2"), from the
  // page's own navigation: the streams share its connection pool.
  const nav = performance.getEntriesByType('navigation')[0];
  const protocol = nav && nav.nextHopProtocol ? nav.nextHopProtocol : null;
  return { transport, streams, hold_ms: holdMs, concurrent, protocol, per_stream: res };
}

window.wirebench = {
  run, prepare, go, abort, sharedNow, sharedClock, originLimit, syncClock, connect, TRANSPORTS, encodeFrame, parseHeader,
};
document.getElementById('status').textContent = 'ready';
