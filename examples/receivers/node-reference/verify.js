// Runs the published `standardwebhooks` npm package, unmodified, over requests
// that simhook signed, so a test can show that an independent Standard
// Webhooks implementation accepts them.
//
// stdin:  a JSON array of cases
//           {"name": str, "secret": str, "raw_key": bool, "headers": {..}, "payload_base64": str}
//         raw_key true means the secret is not whsec_-prefixed: its bytes are the key,
//         which the library calls format "raw". utf8_key true hands the library the
//         secret's UTF-8 bytes (a Uint8Array), as simhook keys; otherwise it gets the
//         string, which format "raw" turns into one byte per character (its char code).
// stdout: a JSON array of results, one per case, in order
//           {"name": str, "outcome": "verified" | "signature_error" | "parse_error" | "error", "message": str,
//            "verified_without_parsing": bool}
//         "parse_error" means verify() threw a SyntaxError, which it can only do after a
//         signature matched; verified_without_parsing repeats the check with jsonParse off.
'use strict';

const { Webhook, WebhookVerificationError } = require('standardwebhooks');

function verifyOnce(hook, payload, headers, options) {
  try {
    hook.verify(payload, headers, options);
    return { outcome: 'verified', message: '' };
  } catch (err) {
    if (err instanceof WebhookVerificationError) return { outcome: 'signature_error', message: err.message };
    if (err instanceof SyntaxError) return { outcome: 'parse_error', message: err.message };
    return { outcome: 'error', message: String(err && err.message) };
  }
}

function run(cases) {
  return cases.map((c) => {
    const key = c.utf8_key ? new TextEncoder().encode(c.secret) : c.secret;
    const hook = c.raw_key ? new Webhook(key, { format: 'raw' }) : new Webhook(key);
    const payload = Buffer.from(c.payload_base64, 'base64').toString('utf8');
    const result = verifyOnce(hook, payload, c.headers);
    const unparsed = verifyOnce(hook, payload, c.headers, { jsonParse: false });
    return { name: c.name, ...result, verified_without_parsing: unparsed.outcome === 'verified' };
  });
}

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  process.stdout.write(JSON.stringify(run(JSON.parse(Buffer.concat(chunks).toString('utf8')))) + '\n');
});
