<?php
// A stand-in for a current Bitrix portal's /pub/imconnector/ endpoint, run with `php -S 127.0.0.1:PORT
// standin.php` by the connector's interop test. It checks each packet of the connector server with PHP's own
// functions: the md5 signature over the fields in the order received, base64_decode and unserialize of DATA,
// then undoes both stubs. Like a current portal it answers {"OK":true,"DATA":[]} and never calls
// setStatusDelivered. It appends one line per packet and per receivingMessage item to STANDIN_RECORD:
//   packet <command> <connector> <line>
//   item <chat.id> <message.id> <files: array|other>
//   bad <reason>            (and answers OK:false)

function unstub($v) {
    if ($v === '#EMPTY#') {
        return '';
    }
    if ($v === '#EMPTY_ARRAY#') {
        return [];
    }
    if (is_array($v)) {
        foreach ($v as $k => $x) {
            $v[$k] = unstub($x);
        }
    }
    return $v;
}

function record($line) {
    file_put_contents(getenv('STANDIN_RECORD'), $line . "\n", FILE_APPEND | LOCK_EX);
}

function answer($ok, $code = '') {
    header('Content-Type: application/json; charset=utf-8');
    if ($ok) {
        echo json_encode(['OK' => true, 'DATA' => []]);
    } else {
        echo json_encode(['OK' => false, 'DATA' => [], 'ERROR' => [['CODE' => $code]]]);
    }
    exit;
}

if ($_SERVER['REQUEST_METHOD'] !== 'POST' || strpos($_SERVER['REQUEST_URI'], '/pub/imconnector/') !== 0) {
    http_response_code(404);
    exit;
}

// The fields in the order received (PHP's $_POST keeps the order too, but the raw body shows it plainly).
$fields = [];
foreach (explode('&', file_get_contents('php://input')) as $pair) {
    if ($pair === '') {
        continue;
    }
    $kv = explode('=', $pair, 2);
    $fields[] = [urldecode($kv[0]), urldecode(isset($kv[1]) ? $kv[1] : '')];
}
$values = [];
$hash = '';
$get = [];
foreach ($fields as $f) {
    if ($f[0] === 'BX_HASH') {
        $hash = $f[1];
        continue;
    }
    $values[] = $f[1];
    $get[$f[0]] = $f[1];
}
$want = md5(md5(implode('|', $values)) . md5(getenv('STANDIN_KEY')));
if ($hash === '' || !hash_equals($want, $hash)) {
    record('bad signature');
    answer(false, 'LICENCE_ERROR');
}
$raw = base64_decode(isset($get['DATA']) ? $get['DATA'] : '', true);
if ($raw === false) {
    record('bad base64');
    answer(false, 'BAD_PACKET');
}
$data = @unserialize($raw, ['allowed_classes' => false]);
if ($data === false && $raw !== serialize(false)) {
    record('bad serialize');
    answer(false, 'BAD_PACKET');
}
$data = unstub($data);
$command = unstub($get['BX_COMMAND']);
record('packet ' . $command . ' ' . unstub($get['CONNECTOR']) . ' ' . unstub($get['LINE']));
if ($command === 'receivingMessage') {
    if (!is_array($data)) {
        record('bad items');
        answer(false, 'BAD_PACKET');
    }
    foreach ($data as $item) {
        $files = isset($item['message']['files']) && is_array($item['message']['files']) ? 'array' : 'other';
        record('item ' . $item['chat']['id'] . ' ' . $item['message']['id'] . ' ' . $files);
    }
}
answer(true);
