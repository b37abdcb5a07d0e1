// Package testpar lets a package's TestMain run its parallel tests more at
// a time than GOMAXPROCS: end-to-end tests that mostly wait on
// pseudo-terminals, local HTTP and fsync would otherwise queue behind each
// other's waits on a 2-core machine.
package testpar

import (
	"flag"
	"strconv"
)

// Raise parses the test flags and sets -test.parallel to n unless the
// command line gave it. Call it from TestMain before m.Run.
func Raise(n int) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(max(n, 1)))
	}
}
