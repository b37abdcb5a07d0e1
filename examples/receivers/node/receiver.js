#!/usr/bin/env node
// A minimal receiver for simhook webhooks: Node.js, no dependencies.
//
// Run:  SIMHOOK_SECRET=... node receiver.js [PORT]   (PORT also from $PORT, default 8080)
//
// Every request is checked twice: the legacy RaspiSMS field webhook_signature
// (HMAC-SHA256 of webhook_random_id) and the Standard Webhooks header
// webhook-signature (HMAC-SHA256 over id.timestamp.raw-body, 5 minutes of
// clock tolerance). A webhook-id handled before is acknowledged with 200 but
// not handled again. An id counts as handled only once handleEvent has
// resolved: a retry that arrives while the first attempt is still being
// handled gets 503 with Retry-After (the first attempt may yet fail), and when
// handleEvent throws or rejects, the id is released and the answer is 500, so
// the gateway's next retry is handled. One line per request goes to stdout:
//
//   VERDICT accept <type> <id>
//   VERDICT duplicate <type> <id>
//   VERDICT busy <type> <id>
//   VERDICT error <type> <id>
//   VERDICT reject <reason> <id or ->
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');

const SECRET = process.env.SIMHOOK_SECRET || '';
const TOLERANCE_SECONDS = 5 * 60;
const MAX_BODY_BYTES = 1 << 20;
const seenIds = new Set(); // handled; grows forever: use a store with expiry in production
const inFlight = new Set(); // being handled right now

class Rejected extends Error {
  constructor(reason, status = 401) {
    super(reason);
    this.reason = reason;
    this.status = status;
  }
}

function sameText(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

// Standard Webhooks secrets "whsec_<base64>" carry their key base64-encoded.
function standardKey(secret) {
  return secret.startsWith('whsec_')
    ? Buffer.from(secret.slice('whsec_'.length), 'base64')
    : Buffer.from(secret);
}

// Checks the webhook-* headers against the exact bytes sent; returns webhook-id.
function checkStandard(headers, signedBytes) {
  const id = headers['webhook-id'];
  const stamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (!id || !stamp || !signatures) throw new Rejected('no-standard-headers');
  if (!/^\d+$/.test(stamp)) throw new Rejected('malformed', 400);
  if (Math.abs(Date.now() / 1000 - Number(stamp)) > TOLERANCE_SECONDS) throw new Rejected('timestamp');
  const expected = 'v1,' + crypto.createHmac('sha256', standardKey(SECRET))
    .update(`${id}.${stamp}.`).update(signedBytes).digest('base64');
  // During a secret rotation the header holds several space-separated signatures.
  if (!signatures.split(' ').some((s) => sameText(s, expected))) throw new Rejected('standard-signature');
  return id;
}

// Returns the five webhook_* fields, with body decoded to an object.
function readFields(method, contentType, query, raw) {
  let fields;
  try {
    if (method === 'GET' || !contentType.startsWith('application/json')) {
      const text = method === 'GET' ? query : new TextDecoder('utf-8', { fatal: true }).decode(raw);
      fields = Object.fromEntries(new URLSearchParams(text));
      fields.body = JSON.parse(fields.body);
    } else {
      fields = JSON.parse(raw.toString('utf8'));
    }
  } catch {
    throw new Rejected('malformed', 400);
  }
  if (!fields || typeof fields.body !== 'object' || fields.body === null ||
      !fields.webhook_random_id || !fields.webhook_type) {
    throw new Rejected('malformed', 400);
  }
  return fields;
}

function checkLegacy(fields) {
  const expected = crypto.createHmac('sha256', SECRET).update(String(fields.webhook_random_id)).digest('hex');
  if (!sameText(expected, fields.webhook_signature || '')) throw new Rejected('legacy-signature');
}

// Put your own code here: store the SMS, page someone, ... It may be async;
// throwing (or rejecting) answers 500, so that the gateway retries.
async function handleEvent(type, body) {} // eslint-disable-line no-unused-vars

// Returns [status, verdict, headers] for one request.
async function receive(req, raw, onEvent) {
  const q = req.url.indexOf('?');
  const query = q < 0 ? '' : req.url.slice(q + 1); // raw, as sent: no URL re-encoding
  // What was signed: the raw body, or for GET the raw query string.
  const signed = req.method === 'GET' ? Buffer.from(query) : raw;
  const fields = readFields(req.method, req.headers['content-type'] || '', query, raw);
  const id = checkStandard(req.headers, signed);
  checkLegacy(fields);
  if (fields.webhook_random_id !== id) throw new Rejected('id-mismatch', 400);
  const type = fields.webhook_type;
  // A retry overtook the first attempt, which may still fail.
  if (inFlight.has(id)) return [503, `busy ${type}`, { 'Retry-After': '1' }];
  if (seenIds.has(id)) return [200, `duplicate ${type}`];
  inFlight.add(id);
  try {
    await onEvent(type, fields.body);
    seenIds.add(id); // seen only once handled; otherwise the gateway's retry is handled
  } catch (err) {
    console.error(err);
    return [500, `error ${type}`];
  } finally {
    inFlight.delete(id);
  }
  return [200, `accept ${type}`];
}

function answer(req, res, status, verdict, headers = {}) {
  console.log(`VERDICT ${verdict} ${req.headers['webhook-id'] || '-'}`);
  res.writeHead(status, { 'Content-Type': 'text/plain', ...headers }).end(verdict + '\n');
}

function main(onEvent = handleEvent) {
  if (!SECRET) {
    console.error('SIMHOOK_SECRET is not set');
    process.exit(1);
  }
  const port = Number(process.argv[2] || process.env.PORT || 8080);
  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return answer(req, res, 413, 'reject too-large');
      receive(req, Buffer.concat(chunks), onEvent).then(
        ([status, verdict, headers]) => answer(req, res, status, verdict, headers),
        (err) => {
          if (!(err instanceof Rejected)) throw err;
          answer(req, res, err.status, `reject ${err.reason}`);
        });
    });
  });
  server.listen(port, process.env.HOST || '127.0.0.1');
}

if (require.main === module) main();
module.exports = { main };
