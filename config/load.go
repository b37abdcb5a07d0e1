package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the configuration file at path, decodes it strictly, fills in
// the defaults, reads the secret files and validates the result. Any problem
// makes it return an *Errors listing all of them (or an error wrapping the
// read failure) and no configuration.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse is Load on data already read; path names the file in errors and
// anchors relative secret files (it may be "", meaning the current directory).
func Parse(data []byte, path string) (*Config, error) {
	errs := &errList{}
	c := Default()
	c.Path = path
	lines := decodeInto(data, c, errs)
	if len(errs.list) > 0 && errs.list[0].Key == "" && len(lines) == 0 {
		return nil, errs.err(path) // not YAML at all: nothing to validate
	}
	decodeErrs := len(errs.list)
	checkExclusive(c, lines, errs)
	resolveSecrets(c, lines, errs)
	later := &errList{}
	validate(c, lines, later)
	errs.list = append(errs.list, unrelated(later.list, errs.list[:decodeErrs])...)
	if err := errs.err(path); err != nil {
		return nil, err
	}
	return c, nil
}

// yamlLine finds the line number in a YAML syntax error message.
var yamlLine = regexp.MustCompile(`line (\d+): `)

// decodeInto parses data as one YAML document and decodes it into c,
// returning the line of every key path seen.
func decodeInto(data []byte, c *Config, errs *errList) map[string]int {
	lines := map[string]int{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return lines // an empty file: every default
		}
		syntaxError(data, err, errs)
		return lines
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		errs.add("", extra.Line, "a second YAML document (---): the file must hold exactly one")
		return lines
	} else if !errors.Is(err, io.EOF) {
		syntaxError(data, err, errs)
		return lines
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return lines
	}
	d := &decoder{errs: errs, lines: lines}
	d.decode(doc.Content[0], reflect.ValueOf(c).Elem(), "")
	return lines
}

// syntaxError records a YAML parse error. The YAML library names the line
// where the enclosing block starts, which can be far above the mistake, so
// the line reported is the first one at which the file stops parsing.
func syntaxError(data []byte, err error, errs *errList) {
	line := 0
	msg := err.Error()
	if m := yamlLine.FindStringSubmatchIndex(msg); m != nil {
		line, _ = strconv.Atoi(msg[m[2]:m[3]])
		msg = msg[m[1]:]
	}
	if l := firstBadLine(data); l > line {
		line = l
	}
	errs.add("", line, "YAML syntax error: %s", trimYAMLPrefix(msg))
}

// firstBadLine returns the smallest n such that the first n lines of data do
// not parse, by binary search (0 if not found).
func firstBadLine(data []byte) int {
	var ends []int // ends[i] is the offset just after line i+1
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	fails := func(n int) bool {
		dec := yaml.NewDecoder(bytes.NewReader(data[:ends[n-1]]))
		for {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				return false
			}
			if err != nil {
				return true
			}
		}
	}
	if !fails(len(ends)) {
		return 0
	}
	lo, hi := 1, len(ends) // fails(hi) holds
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// trimYAMLPrefix removes the "yaml: " prefix of the YAML library's errors.
func trimYAMLPrefix(s string) string {
	if len(s) > 6 && s[:6] == "yaml: " {
		return s[6:]
	}
	return s
}

// unrelated drops the validation problems about keys that already failed to
// decode (or whose parent or child did): their values are defaults standing
// in for what the file said, and reporting them would only confuse.
func unrelated(problems, decodeErrs []*FieldError) []*FieldError {
	if len(decodeErrs) == 0 {
		return problems
	}
	var out []*FieldError
	for _, p := range problems {
		related := false
		for _, d := range decodeErrs {
			if d.Key == "" || within(p.Key, d.Key) || within(d.Key, p.Key) {
				related = true
				break
			}
			// A broken phones list makes every phone reference look wrong.
			if brokenPhoneID(d.Key) && strings.HasPrefix(p.Key, "webhooks[") && strings.Contains(p.Key, ".phones[") {
				related = true
				break
			}
		}
		if !related {
			out = append(out, p)
		}
	}
	return out
}

// within reports whether key is path or below it.
func within(key, path string) bool {
	if !strings.HasPrefix(key, path) {
		return false
	}
	rest := key[len(path):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}

// phoneIDKey matches the keys whose decode failure hides a phone's id.
var phoneIDKey = regexp.MustCompile(`^phones(\[\d+\](\.id)?)?$`)

// brokenPhoneID reports whether a decode error at key leaves a phone id unknown.
func brokenPhoneID(key string) bool { return phoneIDKey.MatchString(key) }
