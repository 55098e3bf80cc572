<?php
// Posts a packet of every server → portal command to a portal, built the way a connector server in the
// current dialect builds them, with PHP's own functions: the empty values stubbed (an empty array
// "#EMPTY_ARRAY#", "", null and false "#EMPTY#"; 0 and "0" kept), DATA = base64_encode(serialize(...)), the
// fields in the server's order, and BX_HASH = md5(md5(the values joined with "|") . md5(licence key)). It
// posts each with PHP's own HTTP stream (file_get_contents) and prints one JSON line per packet:
//   {"name": ..., "command": ..., "line": ..., "status": <HTTP status>, "answer": <the body as received>}
//
// Usage: php packets.php <portal endpoint URL> <licence key> <BX_VERSION> <active line> <line without status>
//        <line to deactivate>

if ($argc !== 7) {
    fwrite(STDERR, "usage: php packets.php URL LICENCE_KEY BX_VERSION ACTIVE_LINE UNKNOWN_LINE DEACTIVATE_LINE\n");
    exit(2);
}
[, $url, $key, $version, $active, $unknown, $deactivate] = $argv;

function stub_current($v) {
    if ($v === []) {
        return '#EMPTY_ARRAY#';
    }
    if (is_array($v)) {
        foreach ($v as $k => $x) {
            $v[$k] = stub_current($x);
        }
        return $v;
    }
    if ($v === '' || $v === null || $v === false) {
        return '#EMPTY#';
    }
    return $v;
}

function packet($command, $connector, $line, $data) {
    global $key, $version;
    $fields = stub_current([
        'BX_COMMAND' => $command,
        'BX_TYPE' => 'CP',
        'LINE' => $line,
        'CONNECTOR' => $connector,
        'BX_VERSION' => $version,
    ]);
    $fields['DATA'] = base64_encode(serialize(stub_current($data)));
    $fields['BX_HASH'] = md5(md5(implode('|', $fields)) . md5($key));
    return $fields;
}

function post($url, $fields) {
    $context = stream_context_create(['http' => [
        'method' => 'POST',
        'header' => "Content-Type: application/x-www-form-urlencoded\r\nUser-Agent: Bitrix Connector Server\r\n",
        'content' => http_build_query($fields),
        'ignore_errors' => true,
        'timeout' => 20,
    ]]);
    $body = @file_get_contents($url, false, $context);
    $status = 0;
    if (isset($http_response_header[0]) && preg_match('#^HTTP/\S+ (\d{3})#', $http_response_header[0], $m)) {
        $status = (int)$m[1];
    }
    return [$status, $body === false ? '' : $body];
}

$connector = 'botframework.webchat';
$chat = 'php-conv-1';
$user = 'php-user-1';
$recipient = ['id' => 'php-bot@abc', 'name' => 'php-bot', 'role' => 'bot'];
$service = 'https://webchat.botframework.com/';

$packets = [
    ['receivingMessage', $active, [
        [ // an empty array in every place one can be
            'user' => ['id' => $user, 'name' => 'Олег Новиков', 'last_name' => '', 'picture' => []],
            'message' => ['id' => 'php-msg-1', 'date' => 1764288000, 'text' => 'Is parcel 0 on its way? :F09F918D:',
                'files' => [], 'attachments' => []],
            'chat' => ['id' => $chat, 'name' => ''],
            'type_message' => 'Message',
            'extra' => [],
            'recipient' => $recipient,
            'service_url' => $service,
        ],
        [ // the server's file-too-large flag and nothing else
            'user' => ['id' => $user],
            'message' => ['id' => 'php-msg-2', 'date' => 1764288060, 'text' => '', 'files' => [], 'failed_big_file' => true],
            'chat' => ['id' => $chat],
            'recipient' => $recipient,
            'service_url' => $service,
        ],
        [ // a location with float coordinates
            'user' => ['id' => $user],
            'message' => ['id' => 'php-msg-3', 'date' => 1764288120, 'text' => 'I am here',
                'attachments' => [['location' => ['title' => 'Palace Square', 'text' => '2 Palace Embankment',
                    'coordinates' => ['latitude' => 59.93863, 'longitude' => 30.31413]]]]],
            'chat' => ['id' => $chat],
            'recipient' => $recipient,
            'service_url' => $service,
        ],
    ]],
    ['receivingMessage', $unknown, [
        ['user' => ['id' => $user], 'message' => ['id' => 'php-msg-4', 'text' => 'to a line never connected'], 'chat' => ['id' => $chat]],
    ]],
    ['receivingStatusDelivery', $active, [
        ['im' => ['chat_id' => 118, 'message_id' => 40211], 'message' => ['id' => ['php-ext-1'], 'date' => 1764288180],
            'chat' => ['id' => $chat]],
    ]],
    ['receivingStatusReading', $active, [
        ['chat' => ['id' => $chat], 'message' => ['id' => 'php-ext-1']],
    ]],
    ['receivingError', $active, [
        ['code' => 'CONNECTOR_NOT_SEND_MESSAGE_CHAT', 'chatId' => 118, 'messageId' => 40212, 'userId' => $user,
            'messageConnector' => 'The messenger refused the message (HTTP 403)', 'params' => ['errorCode' => 'HTTP_403']],
    ]],
    ['receivingStatusBlock', $active, [
        ['chat' => ['id' => $chat], 'user' => ['id' => $user], 'message' => ['type' => 'message_deny']],
    ]],
    ['receivingStatusBlock', $active, [
        ['chat' => ['id' => $chat], 'user' => ['id' => $user], 'message' => ['type' => 'message_allow']],
    ]],
    ['setChatName', $active, ['name' => 'Олег (web chat)', 'chat_id' => $chat, 'user_id' => $user]],
    ['testConnect', $active, []],
    ['deactivateConnector', $deactivate, []],
    ['receivingMessage', $deactivate, [
        ['user' => ['id' => $user], 'message' => ['id' => 'php-msg-5', 'text' => 'after the deactivation'], 'chat' => ['id' => $chat]],
    ]],
];

foreach ($packets as $i => [$command, $line, $data]) {
    $connectorOf = $command === 'deactivateConnector' || $command === 'testConnect' ? 'botframework' : $connector;
    $fields = packet($command, $connectorOf, $line, $data);
    [$status, $answer] = post($url, $fields);
    echo json_encode(['name' => $i . ' ' . $command, 'command' => $command, 'line' => $line, 'data' => $fields['DATA'],
        'status' => $status, 'answer' => $answer], JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), "\n";
}
