package store

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOnlyTheOwnersImportBbolt keeps the file's layout in two places: the
// outbox (events, and the group commit) and this package (the agent's
// state). Any other Go file of the module that imports bbolt fails.
func TestOnlyTheOwnersImportBbolt(t *testing.T) {
	owners := map[string]bool{"outbox": true, "store": true}
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "testdata" || (strings.HasPrefix(name, ".") && name != "..") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p != "go.etcd.io/bbolt" {
				continue
			}
			rel, _ := filepath.Rel("..", path)
			if top := strings.Split(filepath.ToSlash(rel), "/")[0]; !owners[top] {
				t.Errorf("%s imports bbolt; the state belongs to package store (or outbox for events)", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d Go files found from the module root", checked)
	}
}
