package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Size is a number of bytes, written in YAML as an integer (bytes) or with
// a binary unit: 512KiB, 1MiB, 2GiB (B for bytes).
type Size int64

// sizeUnits are the units a Size may be written with, largest first.
var sizeUnits = []struct {
	suffix string
	bytes  int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// String formats the size with the largest unit that divides it exactly.
func (s Size) String() string {
	for _, u := range sizeUnits {
		if s != 0 && int64(s)%u.bytes == 0 {
			return strconv.FormatInt(int64(s)/u.bytes, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// MarshalYAML writes the size with its unit.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML reads a size. Load does not use it (it decodes the node tree
// itself); it lets other code decode a Size directly.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseSize(n)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// parseSize reads a size from a scalar node.
func parseSize(n *yaml.Node) (Size, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("want a size like 1MiB, got a %s", kindName(n))
	}
	text := strings.TrimSpace(n.Value)
	mult := int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(text, u.suffix); ok {
			text, mult = strings.TrimSpace(rest), u.bytes
			break
		}
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil || v < 0 || v > math.MaxInt32/mult {
		return 0, fmt.Errorf("want a size like 1MiB, 512KiB or a number of bytes, got %q", n.Value)
	}
	return Size(v * mult), nil
}
