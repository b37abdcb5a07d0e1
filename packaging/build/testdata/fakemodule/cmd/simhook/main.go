// Command simhook stands in for the real binary in the build tests.
package main

import (
	"fmt"
	"runtime"

	"github.com/simhook/simhook"
)

func main() { fmt.Println("simhook", simhook.Version, runtime.GOARCH) }
