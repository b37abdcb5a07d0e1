// Package simhook stands in for the real root package in the build tests:
// it has the variable the linker sets.
package simhook

// Version is set by the linker.
var Version = "unset"
