package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse. Parse must never panic; an error
// must be a non-empty *Errors; an accepted configuration must validate and
// survive Marshal and Parse unchanged. Seeds: the corpus in
// testdata/fuzz/FuzzParse plus every test file.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	files = append(files, filepath.Join("..", "packaging", "simhook.yaml"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "")
		if err != nil {
			var errs *Errors
			if !errors.As(err, &errs) || len(errs.List) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty *Errors", err, err)
			}
			for _, fe := range errs.List {
				if fe.Reason == "" {
					t.Fatalf("a problem without a reason: %+v", fe)
				}
			}
			if c != nil {
				t.Fatal("a configuration returned with an error")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate rejects: %v", err)
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, err := Parse(out, "")
		if err != nil {
			t.Fatalf("the marshalled configuration does not load: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip changed the configuration:\n got %+v\nwant %+v\n%s", back, c, out)
		}
		if _, err := c.Redacted().Marshal(); err != nil {
			t.Fatalf("Redacted().Marshal: %v", err)
		}
	})
}
