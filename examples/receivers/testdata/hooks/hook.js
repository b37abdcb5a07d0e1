// Runs the example Node.js receiver with a test event handler.
//
// Usage: SIMHOOK_TEST_CONTROL=DIR node hook.js RECEIVER.js PORT
//
// The handler is steered by files in DIR: while "block" exists it creates
// "entered" and waits; then, while "fail" exists, it throws.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');

const control = process.env.SIMHOOK_TEST_CONTROL;

async function testHandleEvent() {
  const block = path.join(control, 'block');
  if (fs.existsSync(block)) {
    fs.writeFileSync(path.join(control, 'entered'), '');
    const giveUp = Date.now() + 120000; // never hang a test run for good
    while (fs.existsSync(block) && Date.now() < giveUp) await sleep(10);
  }
  if (fs.existsSync(path.join(control, 'fail'))) throw new Error('test handler: told to fail');
}

const receiver = require(path.resolve(process.argv[2]));
process.argv.splice(2, 1); // the receiver reads its port from argv[2]
receiver.main(testHandleEvent);
