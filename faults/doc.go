// Package faults holds simhook's fault suite: scenarios that break what an
// operator fears breaking (a SIGKILL mid-burst, a receiver down for an hour,
// a modem pulled out twenty times, a hung or babbling modem, a broken
// configuration file) and count every event in and every webhook out.
//
// The tests carry the build tag "faults" because they take minutes:
//
//	go test -tags faults -race -timeout 20m ./faults/
//
// Each scenario asserts that nothing was lost and that no duplicate reached
// the receiver beyond those its webhook_random_id de-duplication absorbs,
// and logs how many it absorbed.
package faults
