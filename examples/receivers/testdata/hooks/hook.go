// This file is added to the example Go receiver's package by the tests (go
// build -overlay): it swaps in a test event handler steered by files in
// $SIMHOOK_TEST_CONTROL. While "block" exists it creates "entered" and
// waits; then, while "fail" exists, it fails, and while "panic" exists it
// panics (net/http recovers it and drops the connection).

package main

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/simhook/simhook/webhook"
)

func init() { handleEvent = testHandleEvent }

func testHandleEvent(*webhook.Event) error {
	control := os.Getenv("SIMHOOK_TEST_CONTROL")
	exists := func(name string) bool { _, err := os.Stat(filepath.Join(control, name)); return err == nil }
	if exists("block") {
		if err := os.WriteFile(filepath.Join(control, "entered"), nil, 0o600); err != nil {
			return err
		}
		giveUp := time.Now().Add(2 * time.Minute) // never hang a test run for good
		for exists("block") && time.Now().Before(giveUp) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if exists("panic") {
		panic("test handler: told to panic")
	}
	if exists("fail") {
		return errors.New("test handler: told to fail")
	}
	return nil
}
