package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkParseExample measures loading a typical configuration.
func BenchmarkParseExample(b *testing.B) {
	b.Setenv(CredentialsDirEnv, "")
	path := filepath.Join("testdata", "valid", "example.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseLargeSyntaxError measures reporting a syntax error at the end
// of a large file (100 phones), which searches for the failing line.
func BenchmarkParseLargeSyntaxError(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("phones:\n")
	for i := 1; i <= 100; i++ {
		buf.WriteString("  - id: " + strconv.Itoa(i) + "\n    port: /dev/ttyUSB" + strconv.Itoa(i) + "\n    init: [ATZ, ATE0]\n")
	}
	buf.WriteString("  - id: 101\n   port: /dev/bad\n")
	data := buf.Bytes()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, ""); err == nil {
			b.Fatal("no error")
		}
	}
}
