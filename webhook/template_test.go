package webhook

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"
)

// TestTemplateOutputIsCapped: templates that would render tens of
// megabytes stop at the endpoint's cap with an error naming the endpoint,
// and rendering stops as the cap is passed instead of finishing first.
func TestTemplateOutputIsCapped(t *testing.T) {
	m := sampleMessage(t)
	tests := []struct{ name, tmpl string }{
		{"range over an int", `{{range 10000000}}0123456789{{end}}`},
		{"nested ranges over the body's length", `{{range len .BodyJSON}}{{range len $.BodyJSON}}{{range 10}}{{$.BodyJSON}}{{end}}{{end}}{{end}}`},
		{"a large printf per step", `{{range 10000}}{{printf "%010000d" 0}}{{end}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := NewEncoder(Endpoint{Name: "chat", URL: "https://chat.example.com/hooks/x", Format: "template",
				Template: tt.tmpl, Secrets: []string{testSecret}})
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			req, err := enc.NewRequest(context.Background(), m, time.Unix(1763805600, 0))
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("rendered a %d-byte body without error", req.ContentLength)
			}
			if !errors.Is(err, ErrBodyTooLarge) {
				t.Errorf("error %v does not wrap ErrBodyTooLarge", err)
			}
			if msg := err.Error(); !strings.Contains(msg, `endpoint "chat"`) || !strings.Contains(msg, "max_body") {
				t.Errorf("error %q does not name the endpoint and the max_body cap", msg)
			}
			// The cap is 1 MiB: a renderer that stops there allocates a few
			// MiB at most; one that renders everything first (about 100 MB
			// here), far more.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
				t.Errorf("rendering allocated %d MiB: it went on past the cap", alloc>>20)
			}
		})
	}
}

// TestTemplateMaxBody: a body of exactly MaxBody bytes goes out; one byte
// more is refused.
func TestTemplateMaxBody(t *testing.T) {
	m := sampleMessage(t)
	const tmpl = `{{range 10}}0123456789{{end}}` // 100 bytes
	tests := []struct {
		max  int
		fits bool
	}{
		{100, true},
		{99, false},
		{1, false},
		{0, true}, // the default, 1 MiB
	}
	for _, tt := range tests {
		enc, err := NewEncoder(Endpoint{Name: "chat", URL: "https://chat.example.com/hooks/x", Format: "template",
			Template: tmpl, MaxBody: tt.max, Secrets: []string{testSecret}})
		if err != nil {
			t.Fatal(err)
		}
		req, err := enc.NewRequest(context.Background(), m, time.Unix(1763805600, 0))
		if tt.fits {
			if err != nil {
				t.Errorf("max_body %d: %v", tt.max, err)
				continue
			}
			if body, _ := io.ReadAll(req.Body); len(body) != 100 {
				t.Errorf("max_body %d: a %d-byte body", tt.max, len(body))
			}
		} else if !errors.Is(err, ErrBodyTooLarge) {
			t.Errorf("max_body %d: %v, want ErrBodyTooLarge", tt.max, err)
		}
	}
}

// fuzzTemplates are templates whose output grows with the event (ranges
// over its length, nested) or is large at once; FuzzTemplate renders them
// for arbitrary texts and caps.
var fuzzTemplates = []string{
	`{"text":{{json .Body.text}}}`,
	`{"text":"SMS from {{jsonEscape .Body.origin}}: {{jsonEscape .Body.text}}"}`,
	`{{range len .Body.text}}{{$.Body.text}}{{end}}`,
	`{{range len .Body.text}}{{range len $.Body.text}}{{json $.Body.text}}{{end}}{{end}}`,
	`{{range len .BodyJSON}}{{range len $.BodyJSON}}{{range len $.BodyJSON}}x{{end}}{{end}}{{end}}`,
	`{{range 100000}}{{printf "%01000d" (len $.Body.text)}}{{end}}`,
	`{{define "t"}}{{.}}{{.}}{{end}}{{range 1000}}{{template "t" $.BodyJSON}}{{end}}`,
}

// FuzzTemplate renders templates with arbitrary event texts and caps (seed
// corpus in testdata/fuzz/FuzzTemplate), and parses an arbitrary template
// source. Rendering must never panic and never return more than the cap: a
// body that does not fit is an error wrapping ErrBodyTooLarge. A source that
// parses and can neither loop nor recurse is rendered too.
func FuzzTemplate(f *testing.F) {
	for i, tmpl := range fuzzTemplates {
		f.Add(uint8(i), "Hé \"you\" & 20€ 🚲\nbye", uint16(100), tmpl)
	}
	f.Add(uint8(0), "", uint16(0), `{{.Body.text | printf "%q"}}`)
	f.Add(uint8(3), strings.Repeat("x", 300), uint16(4096), `{{json .}}`)
	f.Add(uint8(4), "\x00\xff", uint16(1), `{{jsonEscape .Custom.k}}{{.Endpoint}}`)
	f.Fuzz(func(t *testing.T, pick uint8, text string, max uint16, src string) {
		if !utf8.ValidString(text) || len(text) > 4096 {
			return
		}
		m := sampleMessage(t)
		body, err := templateJSON(map[string]any{"id": 7, "text": text, "origin": text})
		if err != nil {
			return
		}
		m.Body = []byte(body)
		limit := int(max) + 1
		render := func(tmpl string) {
			tp, err := ParseTemplate("fuzz", tmpl)
			if err != nil {
				return
			}
			out, err := renderTemplate(tp, "fuzz", []field{{"k", text}}, m, limit)
			if err == nil && len(out) > limit {
				t.Fatalf("%q rendered %d bytes, over the %d-byte cap", tmpl, len(out), limit)
			}
			if err != nil && out != nil {
				t.Fatalf("%q: output along with error %v", tmpl, err)
			}
		}
		render(fuzzTemplates[int(pick)%len(fuzzTemplates)])
		if tp, err := ParseTemplate("fuzz", src); err == nil && loopFree(tp) {
			render(src)
		}
	})
}

// loopFree reports whether no template of t's set has a range or calls a
// template: its execution is then bounded by its size.
func loopFree(t *template.Template) bool {
	for _, tt := range t.Templates() {
		if tt.Tree == nil || !nodeLoopFree(tt.Tree.Root) {
			return false
		}
	}
	return true
}

func nodeLoopFree(n parse.Node) bool {
	switch x := n.(type) {
	case nil:
		return true
	case *parse.RangeNode, *parse.TemplateNode:
		return false
	case *parse.ListNode:
		if x == nil {
			return true
		}
		for _, c := range x.Nodes {
			if !nodeLoopFree(c) {
				return false
			}
		}
	case *parse.IfNode:
		return nodeLoopFree(x.List) && nodeLoopFree(x.ElseList)
	case *parse.WithNode:
		return nodeLoopFree(x.List) && nodeLoopFree(x.ElseList)
	}
	return true
}
