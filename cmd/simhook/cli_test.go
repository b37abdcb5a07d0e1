package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeAgent is an HTTP server on a unix socket that records the requests it
// gets and answers each with an empty value of the right shape.
type fakeAgent struct {
	socket string
	mu     sync.Mutex
	got    []string // "METHOD /path?query"
}

func newFakeAgent(t *testing.T) *fakeAgent {
	t.Helper()
	dir, err := os.MkdirTemp("", "simhook-cli") // t.TempDir can exceed a socket path's length
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &fakeAgent{socket: filepath.Join(dir, "api.sock")}
	ln, err := net.Listen("unix", f.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.got = append(f.got, r.Method+" "+r.URL.RequestURI())
		f.mu.Unlock()
		switch p := r.URL.Path; {
		case strings.HasSuffix(p, "/trace"):
		case strings.HasSuffix(p, "/phones"), strings.HasSuffix(p, "/deliveries"), strings.HasSuffix(p, "/malformed"):
			w.Write([]byte("[]"))
		default:
			w.Write([]byte("{}"))
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f
}

// requests returns the requests received so far and forgets them.
func (f *fakeAgent) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	got := f.got
	f.got = nil
	return got
}

// withDefaultSocket points DefaultSocket at a fake agent that no command
// may contact unless told to, and returns it.
func withDefaultSocket(t *testing.T) *fakeAgent {
	t.Helper()
	f := newFakeAgent(t)
	old := DefaultSocket
	DefaultSocket = f.socket
	t.Cleanup(func() { DefaultSocket = old })
	return f
}

// commandWords matches a top-level command (completion's list); a
// documented line starts with one.
var commandWords = strings.Join(commands, "|")

var docLine = regexp.MustCompile(`(?:^|[\s/])simhook ((?:` + commandWords + `)\b.*)`)

// documentedLines returns every simhook command line the README, the other
// Markdown documents and the man page show, as argument lists: alternatives written "a \| b" become one
// line each, optional parts in brackets are included, and placeholders get
// sample values.
func documentedLines(t *testing.T) [][]string {
	t.Helper()
	var texts []string
	for _, name := range []string{"../../README.md", "../../BENCHMARKS.md", "../../docs/RECEIVING.md", "../../docs/man/simhook.1"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".1") {
			texts = append(texts, manLines(string(data))...)
			continue
		}
		// Markdown: the lines of code blocks, and inline code spans.
		md := string(data)
		for _, block := range regexp.MustCompile("(?s)```[a-z]*\n(.*?)```").FindAllStringSubmatch(md, -1) {
			for l := range strings.SplitSeq(block[1], "\n") {
				l, _, _ = strings.Cut(l, "#")
				texts = append(texts, l)
			}
		}
		md = regexp.MustCompile("(?s)```.*?```").ReplaceAllString(md, "")
		for _, span := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(md, -1) {
			texts = append(texts, span[1])
		}
	}

	var lines [][]string
	seen := map[string]bool{}
	for _, text := range texts {
		m := docLine.FindStringSubmatch(strings.Join(strings.Fields(text), " "))
		if m == nil {
			continue
		}
		alts := strings.Split(m[1], `\|`)
		cmd := strings.Fields(alts[0])[0]
		for i, alt := range alts {
			alt = strings.NewReplacer("[", " ", "]", " ").Replace(alt)
			if i > 0 {
				alt = cmd + " " + alt
			}
			args := shellWords(alt)
			if slices.Contains(args, "...") {
				continue // "simhook outbox ..." names a command, not a line
			}
			for j, a := range args {
				if v, ok := placeholders[a]; ok {
					args[j] = v
				}
			}
			if key := strings.Join(args, " "); !seen[key] {
				seen[key] = true
				lines = append(lines, args)
			}
		}
	}
	if len(lines) < 20 {
		t.Fatalf("only %d documented command lines found: %q", len(lines), lines)
	}
	return lines
}

// placeholders are sample values for the documents' value names.
var placeholders = map[string]string{"N": "1", "ID": "1", "S": "5", "D": "1h"}

// manLines renders the man page to text lines, roughly as man would: font
// escapes dropped, macro arguments joined, each .TP tag and each bold span
// naming a command on a line of its own (prefixed with "simhook").
func manLines(src string) []string {
	var out []string
	para := ""
	flush := func() {
		if para != "" {
			out = append(out, para)
			para = ""
		}
	}
	clean := strings.NewReplacer(`\-`, "-", `\fB`, "", `\fR`, "", `\fI`, "", `\fP`, "", `\(em`, "-").Replace
	bold := regexp.MustCompile(`\\fB(.+?)\\f[RP]`)
	section, tag, nofill := "", false, false
	for l := range strings.SplitSeq(src, "\n") {
		for _, b := range bold.FindAllStringSubmatch(l, -1) {
			if regexp.MustCompile(`^(` + commandWords + `)\b`).MatchString(clean(b[1])) {
				out = append(out, "simhook "+clean(b[1]))
			}
		}
		if strings.HasPrefix(l, ".") {
			macro, rest, _ := strings.Cut(l, " ")
			switch macro {
			case ".B", ".I":
				para += " " + strings.Join(shellWords(rest), " ")
			case ".BR", ".RB", ".IR", ".RI", ".BI", ".IB":
				para += " " + strings.Join(shellWords(rest), "")
			default:
				flush()
				switch macro {
				case ".SH":
					section = rest
				case ".nf":
					nofill = true
				case ".fi":
					nofill = false
				}
				tag = macro == ".TP"
				continue
			}
		} else {
			para += " " + l
			if nofill {
				flush()
			}
		}
		if tag && section == "COMMANDS" {
			para = "simhook " + para
			flush()
		}
		tag = false
	}
	flush()
	for i := range out {
		out[i] = clean(out[i])
	}
	return out
}

// shellWords splits s at blanks, honouring double quotes (a troff macro's
// arguments as well as a shell line's).
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	in, has := false, false
	for _, r := range s {
		switch {
		case r == '"':
			in, has = !in, true
		case (r == ' ' || r == '\t') && !in:
			if has {
				words = append(words, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteRune(r)
			has = true
		}
	}
	if has {
		words = append(words, cur.String())
	}
	return words
}

// TestDocumentedLinesParse runs every command line the documents and the
// man page show with --help appended. --help still parses the flags, so
// this checks that every flag of every documented line exists and takes the
// value it is shown with (an unknown flag is a usage error, exit 2); it does
// not check the positional arguments, which --help does not reach. Each line
// must print its command's help to stdout and exit 0, without contacting
// the agent or writing a file. A line with a flag no command has must fail
// the same check.
func TestDocumentedLinesParse(t *testing.T) {
	lines := documentedLines(t)
	agent := withDefaultSocket(t)
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range lines {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			for _, p := range helpProblems(agent, dir, append(slices.Clone(args), "--help")) {
				t.Error(p)
			}
		})
	}
	for _, args := range [][]string{
		{"outbox", "frob", "--bogus"},
		{"phone", "ls", "--bogus"},
		{"outbox", "ls", "--limit", "many"},
		{"phone", "trace", "1", "--seconds", "x"},
	} {
		t.Run("not documented: "+strings.Join(args, " "), func(t *testing.T) {
			if len(helpProblems(agent, dir, append(slices.Clone(args), "--help"))) == 0 {
				t.Errorf("%q with --help passes the documented lines' check", args)
			}
			if _, _, code := runCmd(t, append(slices.Clone(args), "--help")...); code != 2 {
				t.Errorf("%q with --help: exit %d, want 2 (usage error)", args, code)
			}
		})
	}
}

// TestHelpEverywhere asks every command and sub-command for its help, in
// the forms people type.
func TestHelpEverywhere(t *testing.T) {
	agent := withDefaultSocket(t)
	dir := t.TempDir()
	t.Chdir(dir)
	lines := [][]string{
		{"--help"}, {"help"}, {"-h"},
		{"help", "phone"}, {"help", "outbox"},
		{"run", "-h"}, {"demo", "--help"}, {"bench", "-help"}, {"bench", "--quick", "--help"},
		{"config", "--help"}, {"config", "check", "--help"}, {"config", "check", "x.yaml", "-h"},
		{"send", "--help"}, {"send", "--to", "+33612345678", "-h"},
		{"receive", "--help"}, {"verify", "--help"}, {"verify", "-", "-h"},
		{"webhook", "--help"}, {"webhook", "test", "--help"},
		{"version", "--help"}, {"completion", "--help"}, {"completion", "bash", "-h"},
		{"phone", "--help"}, {"phone", "-h", "ls"},
	}
	for _, sub := range []string{"ls", "list", "enable 1", "disable 1", "reset 1", "trace 1", "trace 1 --seconds 5", "frob"} {
		lines = append(lines, append(append([]string{"phone"}, strings.Fields(sub)...), "--help"))
	}
	for sub := range outboxArgs {
		lines = append(lines, []string{"outbox", sub, "--help"})
	}
	for _, args := range lines {
		t.Run(strings.Join(args, " "), func(t *testing.T) { checkHelp(t, agent, dir, args) })
	}
}

// checkHelp runs args and checks that it printed help and did nothing else.
func checkHelp(t *testing.T, agent *fakeAgent, dir string, args []string) {
	t.Helper()
	for _, p := range helpProblems(agent, dir, args) {
		t.Error(p)
	}
}

// helpProblems runs args and returns what is wrong, if anything, with it
// as a request for help: it must print the command's help to stdout, exit
// 0, and neither contact the agent nor write a file.
func helpProblems(agent *fakeAgent, dir string, args []string) []string {
	var problems []string
	var out, errOut bytes.Buffer
	code := 0
	var ec exitCode
	switch err := run(context.Background(), args, &out, &errOut); {
	case errors.As(err, &ec):
		code = int(ec)
	case err != nil:
		errOut.WriteString(err.Error())
		code = 1
	}
	want := "Usage: simhook "
	if args[0] != "help" && !strings.HasPrefix(args[0], "-") {
		want += args[0]
	} else if args[0] == "help" && len(args) > 1 {
		want += args[1]
	}
	if code != 0 || errOut.Len() > 0 || !strings.HasPrefix(out.String(), want) {
		problems = append(problems, fmt.Sprintf("exit %d, stderr %q, stdout:\n%s\nwant exit 0, no stderr, stdout starting %q", code, errOut.String(), out.String(), want))
	}
	if got := agent.requests(); len(got) > 0 {
		problems = append(problems, fmt.Sprintf("contacted the agent: %q", got))
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		problems = append(problems, "wrote "+ents[0].Name())
		for _, e := range ents {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	return problems
}

// TestEveryCommandDispatches checks that every command completion offers
// (and the documents' lines are matched against) is one run knows.
func TestEveryCommandDispatches(t *testing.T) {
	agent := withDefaultSocket(t)
	t.Chdir(t.TempDir())
	for _, c := range commands {
		t.Run(c, func(t *testing.T) {
			out, errOut, code := runCmd(t, c, "--help")
			if code != 0 || strings.Contains(errOut, "unknown command") || !strings.HasPrefix(out, "Usage: simhook") {
				t.Errorf("simhook %s --help: exit %d, stderr %q, stdout:\n%s", c, code, errOut, out)
			}
			if got := agent.requests(); len(got) > 0 {
				t.Errorf("contacted the agent: %q", got)
			}
		})
	}
}

// TestFlagsAfterArguments checks that flags anywhere on the line take
// effect: the command talks to the socket it was given, with the values it
// was given.
func TestFlagsAfterArguments(t *testing.T) {
	dflt := withDefaultSocket(t)
	f := newFakeAgent(t)
	s := f.socket
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"outbox", "enable", "crm", "--socket", s}, "POST /v1/outbox/endpoints/crm/enable"},
		{[]string{"outbox", "--socket", s, "enable", "crm"}, "POST /v1/outbox/endpoints/crm/enable"},
		{[]string{"outbox", "enable", "--socket=" + s, "crm"}, "POST /v1/outbox/endpoints/crm/enable"},
		{[]string{"outbox", "stats", "--socket", s}, "GET /v1/outbox/stats"},
		{[]string{"outbox", "ls", "--state", "dead", "--socket=" + s, "--limit", "3"}, "GET /v1/outbox/deliveries?endpoint=&limit=3&state=dead&type="},
		{[]string{"outbox", "show", "12", "--socket", s}, "GET /v1/outbox/events/12"},
		{[]string{"outbox", "retry", "--dead", "--socket", s}, "POST /v1/outbox/retry"},
		{[]string{"outbox", "retry", "7", "--socket", s}, "POST /v1/outbox/retry"},
		{[]string{"outbox", "purge", "--socket", s, "--dead"}, "POST /v1/outbox/purge"},
		{[]string{"outbox", "malformed", "--limit", "2", "--socket", s}, "GET /v1/malformed?limit=2"},
		{[]string{"phone", "ls", "--socket", s}, "GET /v1/phones"},
		{[]string{"phone", "--socket", s}, "GET /v1/phones"},
		{[]string{"phone", "disable", "2", "--socket", s}, "POST /v1/phones/2/disable"},
		{[]string{"phone", "--socket", s, "reset", "--", "3"}, "POST /v1/phones/3/reset"},
		{[]string{"phone", "trace", "1", "--seconds", "7", "--socket", s}, "GET /v1/phones/1/trace?seconds=7"},
		{[]string{"phone", "trace", "--seconds=7", "1", "--socket", s}, "GET /v1/phones/1/trace?seconds=7"},
		{[]string{"send", "--to", "+33612345678", "--socket", s, "--text", "hi"}, "POST /v1/sms"},
		{[]string{"send", "--status", "4", "--socket", s}, "GET /v1/sms/4"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := runCmd(t, tt.args...)
			if code != 0 {
				t.Errorf("exit %d\n%s%s", code, out, errOut)
			}
			if got := f.requests(); !slices.Equal(got, []string{tt.want}) {
				t.Errorf("the agent at --socket got %q, want %q", got, tt.want)
			}
			if got := dflt.requests(); len(got) > 0 {
				t.Errorf("the default socket got %q", got)
			}
		})
	}
}

// TestDocumentedLinesUseSocket runs the documented lines that talk to the
// agent with --socket appended: they reach that socket and no other.
func TestDocumentedLinesUseSocket(t *testing.T) {
	dflt := withDefaultSocket(t)
	f := newFakeAgent(t)
	lines := documentedLines(t)
	t.Chdir(t.TempDir())
	n := 0
	for _, args := range lines {
		if !talksToAgent(args) {
			continue
		}
		n++
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, code := runCmd(t, append(slices.Clone(args), "--socket", f.socket)...)
			got := f.requests()
			if code != 0 || len(got) != 1 {
				t.Errorf("exit %d, requests %q\n%s%s", code, got, out, errOut)
			}
			if got := dflt.requests(); len(got) > 0 {
				t.Errorf("the default socket got %q", got)
			}
		})
	}
	if n < 8 {
		t.Errorf("only %d documented lines talk to the agent", n)
	}
}

// talksToAgent reports whether the command line is one that only talks to
// the agent's API.
func talksToAgent(args []string) bool {
	switch args[0] {
	case "phone", "send":
		return true
	case "outbox":
		return len(args) > 1 && !slices.Contains([]string{"check", "salvage", "compact"}, args[1])
	}
	return false
}

// TestUsageErrors checks exit status 2, a message on stderr and no contact
// with the agent for each kind of usage error, and 1 for a failure.
func TestUsageErrors(t *testing.T) {
	dflt := withDefaultSocket(t)
	t.Chdir(t.TempDir())
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{}, 2, "Usage: simhook"},
		{[]string{"outbox"}, 2, "missing command"},
		{[]string{"outbox", "frob"}, 2, `unknown command "frob"`},
		{[]string{"outbox", "enable"}, 2, "missing ENDPOINT"},
		{[]string{"outbox", "enable", "a", "b"}, 2, `unexpected argument "b"`},
		{[]string{"outbox", "stats", "x"}, 2, `unexpected argument "x"`},
		{[]string{"outbox", "stats", "--bogus"}, 2, "-bogus"},
		{[]string{"outbox", "retry"}, 2, "retry"},
		{[]string{"outbox", "retry", "abc"}, 2, "not an event number"},
		{[]string{"outbox", "ls", "--limit", "many"}, 2, "invalid value"},
		{[]string{"phone", "frob"}, 2, `unknown command "frob"`},
		{[]string{"phone", "enable"}, 2, "missing phone ID"},
		{[]string{"phone", "ls", "1"}, 2, `unexpected argument "1"`},
		{[]string{"phone", "trace", "1", "2"}, 2, `unexpected argument "2"`},
		{[]string{"phone", "trace", "1?seconds=0"}, 2, `trace: "1?seconds=0" is not a phone ID`},
		{[]string{"phone", "enable", "../outbox/stats"}, 2, "is not a phone ID"},
		{[]string{"phone", "reset", "0"}, 2, "is not a phone ID"},
		{[]string{"phone", "trace", "1", "--seconds", "0"}, 2, "--seconds 0 is not between 1 and 3600"},
		{[]string{"phone", "trace", "1", "--seconds", "3601"}, 2, "--seconds 3601 is not between 1 and 3600"},
		{[]string{"outbox", "show", "12/../../stats"}, 2, "not an event number"},
		{[]string{"phone", "ls", "--socket"}, 2, "simhook phone: flag needs an argument"},
		{[]string{"phone", "ls", "--bogus"}, 2, "-bogus"},
		{[]string{"send", "x", "--to", "1"}, 2, `unexpected argument "x"`},
		{[]string{"config"}, 2, "missing command"},
		{[]string{"config", "frob"}, 2, `unknown command "frob"`},
		{[]string{"config", "check", "a", "b"}, 2, `unexpected argument "b"`},
		{[]string{"webhook"}, 2, "missing command"},
		{[]string{"webhook", "frob"}, 2, `unknown command "frob"`},
		{[]string{"webhook", "test", "x"}, 2, `unexpected argument "x"`},
		{[]string{"run", "x"}, 2, `unexpected argument "x"`},
		{[]string{"demo", "x"}, 2, `unexpected argument "x"`},
		{[]string{"bench", "x"}, 2, `unexpected argument "x"`},
		{[]string{"bench", "--bogus"}, 2, "-bogus"},
		{[]string{"receive"}, 2, "--secret"},
		{[]string{"receive", "x", "--secret", "s"}, 2, `unexpected argument "x"`},
		{[]string{"verify"}, 2, "--secret"},
		{[]string{"verify", "--secret", "s", "a", "b"}, 2, `unexpected argument "b"`},
		{[]string{"version", "x"}, 2, `unexpected argument "x"`},
		{[]string{"completion"}, 2, "missing shell"},
		{[]string{"completion", "zsh"}, 2, `unsupported shell "zsh"`},
		{[]string{"phone", "ls", "--socket", "/nonexistent/api.sock"}, 1, "is the agent running?"},
		{[]string{"phone", "trace", "1", "--socket", "/nonexistent/api.sock"}, 1, "is the agent running?"},
		{[]string{"config", "check", "--", "/nonexistent/simhook.yaml"}, 1, "invalid configuration"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, code := runCmd(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, errOut, tt.code, tt.want)
			}
			if got := dflt.requests(); len(got) > 0 {
				t.Errorf("contacted the agent: %q", got)
			}
		})
	}
}
