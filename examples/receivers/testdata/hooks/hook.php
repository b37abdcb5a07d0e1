<?php
// Router for php -S: the example PHP receiver (index.php in the working
// directory) with a test event handler, steered by files in
// $SIMHOOK_TEST_CONTROL: while "block" exists it creates "entered" and
// waits; then, while "fail" exists, it throws.
declare(strict_types=1);

function handle_event(string $type, array $body): void
{
    $control = (string) getenv('SIMHOOK_TEST_CONTROL');
    if (file_exists("$control/block")) {
        touch("$control/entered");
        $giveUp = microtime(true) + 120; // never hang a test run for good
        while (file_exists("$control/block") && microtime(true) < $giveUp) {
            usleep(10000);
            clearstatcache();
        }
    }
    clearstatcache();
    if (file_exists("$control/fail")) {
        throw new RuntimeException('test handler: told to fail');
    }
}

require getcwd() . '/index.php';
