package config

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the nodes one file may expand to, so aliases cannot blow a
// small file up into an enormous tree.
const maxNodes = 100000

// decoder walks a YAML node tree into a Go value. It is strict (unknown keys
// and wrong types are errors), collects every problem with its key path and
// line, and records the line of every key path it sees so that validation
// errors can point at lines too.
type decoder struct {
	errs  *errList
	lines map[string]int
	nodes int
}

var (
	durationType = reflect.TypeFor[Duration]()
	listType     = reflect.TypeFor[StringList]()
	sizeType     = reflect.TypeFor[Size]()
)

// defaulter is implemented by the list elements that have defaults of their
// own (a phone, a webhook): each new element starts from them.
type defaulter interface{ setDefaults() }

func (p *Phone) setDefaults()   { *p = DefaultPhone() }
func (w *Webhook) setDefaults() { *w = DefaultWebhook() }

// decode decodes n into v (settable), under the key path path. A null value
// leaves v as it is: an empty key means "the default".
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	d.nodes++
	if d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.errs.add(path, n.Line, "the document is too large (more than %d nodes after expanding aliases)", maxNodes)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.errs.add(path, n.Line, "unresolved alias")
			return
		}
		line := n.Line
		n = n.Alias
		if path != "" {
			d.lines[path] = line
		}
	} else if path != "" {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if v.Type() == durationType {
		dur, err := parseDuration(n)
		if err != nil {
			d.errs.add(path, n.Line, "%v", err)
			return
		}
		v.Set(reflect.ValueOf(Duration{dur}))
		return
	}
	if v.Type() == listType && n.Kind == yaml.ScalarNode {
		if s, ok := d.scalar(n, path, "a string or a list"); ok {
			v.Set(reflect.ValueOf(StringList{s}))
		}
		return
	}
	if v.Type() == sizeType {
		size, err := parseSize(n)
		if err != nil {
			d.errs.add(path, n.Line, "%v", err)
			return
		}
		v.Set(reflect.ValueOf(size))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int:
		if s, ok := d.scalar(n, path, "an integer"); ok {
			i, err := parseInt(n, s)
			if err != nil {
				d.errs.add(path, n.Line, "%v", err)
				return
			}
			v.SetInt(i)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, path, "true or false"); ok {
			if n.Tag != "!!bool" {
				d.errs.add(path, n.Line, "want true or false, got %q", s)
				return
			}
			var b bool
			if err := n.Decode(&b); err != nil {
				d.errs.add(path, n.Line, "want true or false, got %q", s)
				return
			}
			v.SetBool(b)
		}
	case reflect.Float64:
		if s, ok := d.scalar(n, path, "a number"); ok {
			if n.Tag != "!!float" && n.Tag != "!!int" {
				d.errs.add(path, n.Line, "want a number, got %q", s)
				return
			}
			var f float64
			if err := n.Decode(&f); err != nil {
				d.errs.add(path, n.Line, "want a number, got %q", s)
				return
			}
			v.SetFloat(f)
		}
	default:
		// Not reachable with the Config types; a programming error.
		panic(fmt.Sprintf("config: cannot decode into %s", v.Type()))
	}
}

// scalar returns n's value when n is a scalar, else records a type error.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errs.add(path, n.Line, "want %s, got a %s", want, kindName(n))
		return "", false
	}
	return n.Value, true
}

// parseInt reads an integer scalar that fits an int.
func parseInt(n *yaml.Node, s string) (int64, error) {
	if n.Tag != "!!int" {
		return 0, fmt.Errorf("want an integer, got %q", s)
	}
	var i int64
	if err := n.Decode(&i); err != nil {
		return 0, fmt.Errorf("want an integer, got %q (out of range?)", s)
	}
	if i > math.MaxInt32 || i < math.MinInt32 {
		return 0, fmt.Errorf("%s is out of range", s)
	}
	return i, nil
}

// mappingPairs returns a mapping's key/value pairs, recording non-scalar,
// duplicate and merge keys as errors and leaving them out.
func (d *decoder) mappingPairs(n *yaml.Node, path string) [][2]*yaml.Node {
	seen := make(map[string]int, len(n.Content)/2)
	var pairs [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errs.add(path, k.Line, "a key must be a plain value, got a %s", kindName(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.errs.add(join(path, k.Value), k.Line, "merge keys (<<) are not supported")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errs.add(join(path, k.Value), k.Line, "duplicate key (first set on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		pairs = append(pairs, [2]*yaml.Node{k, val})
	}
	return pairs
}

// decodeStruct decodes a mapping into a struct, matching keys to yaml tags.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errs.add(path, n.Line, "want a mapping (key: value lines), got a %s", kindName(n))
		return
	}
	fields := structFields(v.Type())
	for _, kv := range d.mappingPairs(n, path) {
		k, val := kv[0], kv[1]
		idx, ok := fields[k.Value]
		if !ok {
			reason := "unknown key"
			if s := suggest(k.Value, fields); s != "" {
				reason += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errs.add(join(path, k.Value), k.Line, "%s", reason)
			continue
		}
		d.decode(val, v.Field(idx), join(path, k.Value))
	}
}

// decodeSlice decodes a sequence into a slice; an empty one becomes nil.
func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errs.add(path, n.Line, "want a list, got a %s", kindName(n))
		return
	}
	if len(n.Content) == 0 {
		v.SetZero()
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		e := s.Index(i)
		if df, ok := e.Addr().Interface().(defaulter); ok {
			df.setDefaults()
		}
		d.decode(item, e, fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

// decodeMap decodes a mapping into a map[string]string; an empty one becomes nil.
func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errs.add(path, n.Line, "want a mapping (key: value lines), got a %s", kindName(n))
		return
	}
	pairs := d.mappingPairs(n, path)
	if len(pairs) == 0 {
		v.SetZero()
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(pairs))
	for _, kv := range pairs {
		e := reflect.New(v.Type().Elem()).Elem()
		key := join(path, kv[0].Value)
		if kv[1].Kind == yaml.ScalarNode && kv[1].Tag == "!!null" {
			d.lines[key] = kv[1].Line
		} else {
			d.decode(kv[1], e, key)
		}
		m.SetMapIndex(reflect.ValueOf(kv[0].Value), e)
	}
	v.Set(m)
}

// structFields maps a struct's yaml key names to field indexes.
func structFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = i
	}
	return m
}

// join appends a key to a path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// kindName names a node's kind for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	if n.Tag == "!!null" {
		return "null"
	}
	return "value " + strconv.Quote(n.Value)
}

// suggest returns the known key closest to an unknown one, if it is close.
func suggest(key string, fields map[string]int) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	best, bestDist := "", 3
	for _, name := range names {
		if dist := editDistance(key, name); dist < bestDist && dist < len(key) {
			best, bestDist = name, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt32
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
