package simhook_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReceiverImportsWebhookCheaply builds a throwaway receiver module that
// imports webhook/, as a receiver's developer would, and checks that it
// inherits nothing: its go directive stays at the oldest supported Go
// release and its module graph holds only itself and simhook's webhook
// module. It needs no network: webhook/ requires nothing.
func TestReceiverImportsWebhookCheaply(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const goLine = "go 1.26.0"
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/receiver\n\n"+goLine+"\n\n"+
		"require github.com/simhook/simhook/webhook v0.0.0\n\n"+
		"replace github.com/simhook/simhook/webhook => "+filepath.Join(root, "webhook")+"\n")
	write("main.go", `package main

import (
	"fmt"
	"net/http"

	"github.com/simhook/simhook/webhook"
)

func main() {
	v := &webhook.Verifier{Secrets: []string{"a secret"}}
	http.Handle("/sms", v.Middleware(func(w http.ResponseWriter, r *http.Request, ev *webhook.Event) {
		fmt.Fprintln(w, "ok", ev.Type)
	}))
}
`)
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	goCmd("mod", "tidy")
	goCmd("build", "-o", filepath.Join(dir, "receiver"), ".")
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "\n"+goLine+"\n") {
		t.Errorf("importing webhook/ changed the receiver's go directive:\n%s", mod)
	}
	mods := strings.Fields(goCmd("list", "-m", "-f", "{{.Path}}", "all"))
	if want := []string{"example.com/receiver", "github.com/simhook/simhook/webhook"}; strings.Join(mods, " ") != strings.Join(want, " ") {
		t.Errorf("the receiver's module graph is %v, want only %v", mods, want)
	}
}
