<?php
// A minimal receiver for simhook webhooks: plain PHP 8, no extensions.
//
// Run:  SIMHOOK_SECRET=... php -S 127.0.0.1:8080 index.php
//
// Every request is checked twice: the legacy RaspiSMS field webhook_signature
// (HMAC-SHA256 of webhook_random_id) and the Standard Webhooks header
// webhook-signature (HMAC-SHA256 over id.timestamp.raw-body, 5 minutes of
// clock tolerance). A webhook-id handled before is acknowledged with 200 but
// not handled again; as PHP keeps nothing between requests, each id has a
// marker file in $SIMHOOK_SEEN_DIR (default: <tmp>/simhook-seen), locked while
// the event is handled and written once it was. An id counts as handled only
// then: a retry that arrives while the first attempt is still being handled
// gets 503 with Retry-After (the first attempt may yet fail), and when
// handle_event throws, the id is released and the answer is 500, so the
// gateway's next retry is handled. One line per request goes to the server's
// stdout:
//
//   VERDICT accept <type> <id>
//   VERDICT duplicate <type> <id>
//   VERDICT busy <type> <id>
//   VERDICT error <type> <id>
//   VERDICT reject <reason> <id or ->
declare(strict_types=1);

const TOLERANCE_SECONDS = 300;

final class Rejected extends Exception
{
    public function __construct(public readonly string $reason, public readonly int $status = 401)
    {
        parent::__construct($reason);
    }
}

// Standard Webhooks secrets "whsec_<base64>" carry their key base64-encoded.
function standard_key(string $secret): string
{
    if (!str_starts_with($secret, 'whsec_')) {
        return $secret;
    }
    $key = base64_decode(substr($secret, strlen('whsec_')), true);
    if ($key === false) {
        throw new RuntimeException('SIMHOOK_SECRET: whsec_ secret is not valid base64');
    }
    return $key;
}

// Checks the webhook-* headers against the exact bytes sent; returns webhook-id.
function check_standard(string $secret, string $signedBytes): string
{
    $id = $_SERVER['HTTP_WEBHOOK_ID'] ?? '';
    $stamp = $_SERVER['HTTP_WEBHOOK_TIMESTAMP'] ?? '';
    $signatures = $_SERVER['HTTP_WEBHOOK_SIGNATURE'] ?? '';
    if ($id === '' || $stamp === '' || $signatures === '') {
        throw new Rejected('no-standard-headers');
    }
    if (!ctype_digit($stamp)) {
        throw new Rejected('malformed', 400);
    }
    if (abs(time() - (int) $stamp) > TOLERANCE_SECONDS) {
        throw new Rejected('timestamp');
    }
    $expected = 'v1,' . base64_encode(hash_hmac('sha256', "$id.$stamp.$signedBytes", standard_key($secret), true));
    // During a secret rotation the header holds several space-separated signatures.
    foreach (explode(' ', $signatures) as $signature) {
        if (hash_equals($expected, $signature)) {
            return $id;
        }
    }
    throw new Rejected('standard-signature');
}

// Returns the five webhook_* fields, with body decoded to an array.
function read_fields(string $method, string $contentType, string $query, string $raw): array
{
    try {
        if ($method === 'GET' || !str_starts_with($contentType, 'application/json')) {
            parse_str($method === 'GET' ? $query : $raw, $fields);
            $fields['body'] = json_decode((string) ($fields['body'] ?? ''), true, 64, JSON_THROW_ON_ERROR);
        } else {
            $fields = json_decode($raw, true, 64, JSON_THROW_ON_ERROR);
        }
    } catch (JsonException) {
        throw new Rejected('malformed', 400);
    }
    if (!is_array($fields) || !is_array($fields['body'] ?? null)
        || !is_string($fields['webhook_random_id'] ?? null) || !is_string($fields['webhook_type'] ?? null)) {
        throw new Rejected('malformed', 400);
    }
    return $fields;
}

function check_legacy(string $secret, array $fields): void
{
    $expected = hash_hmac('sha256', $fields['webhook_random_id'], $secret);
    if (!hash_equals($expected, (string) ($fields['webhook_signature'] ?? ''))) {
        throw new Rejected('legacy-signature');
    }
}

// Claims the id for this request: returns its marker file, open and locked,
// or 'busy' while another request holds the lock (it is handling the id), or
// 'duplicate' when the marker says the id was handled. flock's lock goes away
// with the process that holds it, so a crash leaves no stale claim.
function claim(string $id): mixed
{
    $dir = getenv('SIMHOOK_SEEN_DIR') ?: sys_get_temp_dir() . '/simhook-seen';
    if (!is_dir($dir)) {
        @mkdir($dir, 0700, true);
    }
    $marker = fopen($dir . '/' . hash('sha256', $id), 'c+');
    if ($marker === false) {
        throw new RuntimeException("cannot open the marker file in $dir");
    }
    if (!flock($marker, LOCK_EX | LOCK_NB)) {
        fclose($marker);
        return 'busy';
    }
    if (fstat($marker)['size'] > 0) {
        fclose($marker); // also unlocks
        return 'duplicate';
    }
    return $marker;
}

// Ends a claim: a handled id is written into its marker; otherwise the
// marker stays empty, so the gateway's retry is handled.
function release($marker, bool $handled): void
{
    if ($handled) {
        fwrite($marker, "handled\n");
        fflush($marker);
    }
    fclose($marker); // also unlocks
}

// Put your own code here: store the SMS, page someone, ... (The tests define
// their own handle_event before including this file.)
if (!function_exists('handle_event')) {
    function handle_event(string $type, array $body): void
    {
    }
}

function answer(int $status, string $verdict, string $id, array $headers = []): void
{
    file_put_contents('php://stdout', "VERDICT $verdict $id\n");
    http_response_code($status);
    header('Content-Type: text/plain');
    foreach ($headers as $header) {
        header($header);
    }
    echo "$verdict\n";
}

$secret = (string) getenv('SIMHOOK_SECRET');
$method = $_SERVER['REQUEST_METHOD'];
$headerId = $_SERVER['HTTP_WEBHOOK_ID'] ?? '-';
try {
    if ($secret === '') {
        throw new RuntimeException('SIMHOOK_SECRET is not set');
    }
    $raw = (string) file_get_contents('php://input');
    $query = $_SERVER['QUERY_STRING'] ?? '';
    // What was signed: the raw body, or for GET the raw query string.
    $fields = read_fields($method, $_SERVER['CONTENT_TYPE'] ?? '', $query, $raw);
    $id = check_standard($secret, $method === 'GET' ? $query : $raw);
    check_legacy($secret, $fields);
    if ($fields['webhook_random_id'] !== $id) {
        throw new Rejected('id-mismatch', 400);
    }
    $type = $fields['webhook_type'];
    $marker = claim($id);
    if ($marker === 'busy') {
        // A retry overtook the first attempt, which may still fail.
        answer(503, "busy $type", $id, ['Retry-After: 1']);
        return;
    }
    if ($marker === 'duplicate') {
        answer(200, "duplicate $type", $id);
        return;
    }
    try {
        handle_event($type, $fields['body']);
    } catch (Throwable $e) {
        release($marker, false);
        error_log((string) $e);
        answer(500, "error $type", $id);
        return;
    }
    release($marker, true);
    answer(200, "accept $type", $id);
} catch (Rejected $r) {
    answer($r->status, "reject {$r->reason}", $headerId);
}
