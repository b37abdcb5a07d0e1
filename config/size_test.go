package config

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		text string // String(); "" when in is refused
	}{
		{"1MiB", 1 << 20, "1MiB"},
		{"512KiB", 512 << 10, "512KiB"},
		{"1 MiB", 1 << 20, "1MiB"},
		{"1GiB", 1 << 30, "1GiB"},
		{"4096", 4096, "4KiB"},
		{"1500", 1500, "1500B"},
		{"1500B", 1500, "1500B"},
		{"0", 0, "0B"},
		{"1MB", 0, ""},
		{"1mib", 0, ""},
		{"-1", 0, ""},
		{"2GiB", 0, ""},
		{"1.5MiB", 0, ""},
		{"MiB", 0, ""},
	}
	for _, tt := range tests {
		var s Size
		err := yaml.Unmarshal([]byte(tt.in), &s)
		if tt.text == "" {
			if err == nil {
				t.Errorf("%q: accepted as %d", tt.in, s)
			}
			continue
		}
		if err != nil || s != tt.want || s.String() != tt.text {
			t.Errorf("%q: %d (%s), %v; want %d (%s)", tt.in, s, s, err, tt.want, tt.text)
			continue
		}
		out, err := yaml.Marshal(s)
		var back Size
		if err != nil || yaml.Unmarshal(out, &back) != nil || back != s {
			t.Errorf("%q: marshalled as %q, read back as %d (%v)", tt.in, out, back, err)
		}
	}
}
