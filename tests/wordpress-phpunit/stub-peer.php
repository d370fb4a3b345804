<?php
// A peer's inbox for the outbox tests, under `php -S` (run.sh): POST /<peer>/?rest_route=… keeps
// the body in <peer>.received (one JSON line per request) and answers what <peer>.answer says
// (`{"status": 503, "body": {...}}`, written by the test), by default 200 {"result":"applied"}.
declare(strict_types=1);

$dir = (string) getenv('USERSYNC_STUB_DIR');
$peer = preg_replace('/[^a-z-]/', '', (string) parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH));
if ('' === $peer) {
    echo 'usersync test stub';
    return;
}
$request = ['body' => file_get_contents('php://input'), 'query' => $_SERVER['QUERY_STRING'] ?? '',
    'type' => $_SERVER['CONTENT_TYPE'] ?? '', 'method' => $_SERVER['REQUEST_METHOD']];
file_put_contents("$dir/$peer.received", json_encode($request, JSON_UNESCAPED_SLASHES) . "\n", FILE_APPEND | LOCK_EX);
$answer = is_file("$dir/$peer.answer") ? json_decode((string) file_get_contents("$dir/$peer.answer"), true)
    : ['status' => 200, 'body' => ['result' => 'applied']];
http_response_code($answer['status']);
header('Content-Type: application/json');
echo is_string($answer['body']) ? $answer['body'] : json_encode($answer['body']);
