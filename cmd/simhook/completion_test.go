package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompletionBash loads the printed script into bash and completes
// partial command lines with it.
func TestCompletionBash(t *testing.T) {
	out, errOut, code := runCmd(t, "completion", "bash")
	if code != 0 || errOut != "" || !strings.Contains(out, "complete -F _simhook simhook") {
		t.Fatalf("exit %d, stderr %q, script:\n%s", code, errOut, out)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script := filepath.Join(t.TempDir(), "simhook.bash")
	if err := os.WriteFile(script, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ line, want string }{
		{"simhook ou", "outbox"},
		{"simhook outbox en", "enable"},
		{"simhook outbox --socket /x en", "enable"},
		{"simhook outbox --socket = /x en", "enable"}, // --socket=/x as bash splits it
		{"simhook outbox ls --st", "--state"},
		{"simhook outbox enable crm --so", "--socket"},
		{"simhook phone ", "disable enable list ls reset trace"},
		{"simhook phone trace 1 --se", "--seconds"},
		{"simhook send --", "--help --no-report --phone --socket --status --tag --text --to"},
		{"simhook ussd --", "--help --json --phone --socket --timeout"},
		{"simhook us", "ussd"},
		{"simhook config c", "check"},
		{"simhook webhook t", "test"},
		{"simhook help ph", "phone"},
		{"simhook completion b", "bash"},
		{"simhook bench --qu", "--quick"},
	}
	for _, tt := range tests {
		words := strings.Split(tt.line, " ")
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c",
			`source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _simhook; printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '`,
			"bash", script)
		cmd.Args = append(cmd.Args, words...)
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tt.line, err, got)
		}
		if strings.TrimSpace(string(got)) != tt.want {
			t.Errorf("completing %q: %q, want %q", tt.line, strings.TrimSpace(string(got)), tt.want)
		}
	}
}
