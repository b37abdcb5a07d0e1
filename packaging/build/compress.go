package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
)

// gzipBytes compresses data like `gzip -9n`: best compression, and no file
// name or time stamp in the header, so the output depends on data alone.
func gzipBytes(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	// A zero Header leaves name, comment and mtime empty.
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), nil
}
