package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ruleLine is one modem rule of packaging/udev/77-simhook.rules.
var ruleLine = regexp.MustCompile(`^SUBSYSTEMS=="usb", ATTRS\{idVendor\}=="([0-9a-f]{4})", ATTRS\{idProduct\}=="([0-9a-f]{4})", ENV\{ID_MM_DEVICE_IGNORE\}="1"$`)

// TestUdevRules checks the rule file line by line: every rule matches one
// USB vendor:product pair and sets ID_MM_DEVICE_IGNORE, no pair is listed
// twice, and the vendors the package promises are covered.
func TestUdevRules(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, "packaging", "udev", "77-simhook.rules"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pairs := map[string]bool{}
	vendors := map[string]int{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case line == `ACTION=="remove", GOTO="simhook_end"`, line == `LABEL="simhook_end"`:
		default:
			m := ruleLine.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("line %d is not a modem rule: %s", n, line)
				continue
			}
			pair := m[1] + ":" + m[2]
			if pairs[pair] {
				t.Errorf("line %d repeats %s", n, pair)
			}
			pairs[pair] = true
			vendors[m[1]]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for v, name := range map[string]string{"12d1": "Huawei", "2c7c": "Quectel", "1e0e": "SIMCom", "19d2": "ZTE", "1199": "Sierra Wireless", "1546": "u-blox"} {
		if vendors[v] == 0 {
			t.Errorf("no rule for %s (%s)", name, v)
		}
	}
}

// unitSettings reads systemd/simhook.service into key → values.
func unitSettings(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "systemd", "simhook.service"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[k] = append(out[k], v)
		}
	}
	return out
}

// TestUnit checks the settings the agent and the package rely on.
func TestUnit(t *testing.T) {
	u := unitSettings(t)
	want := map[string]string{
		"Type":                    "notify",
		"ExecStart":               "/usr/bin/simhook run --config /etc/simhook/simhook.yaml",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"Restart":                 "on-failure",
		"User":                    "simhook",
		"StateDirectory":          "simhook",
		"RuntimeDirectory":        "simhook",
		"ConfigurationDirectory":  "simhook",
		"DevicePolicy":            "closed",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"NoNewPrivileges":         "yes",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
		"WantedBy":                "multi-user.target",
	}
	for k, v := range want {
		if got := u[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	if len(u["WatchdogSec"]) != 1 {
		t.Error("no WatchdogSec")
	}
	if got := strings.Join(u["DeviceAllow"], ","); got != "char-ttyUSB rw,char-ttyACM rw,char-ttyAMA rw,char-ttyS rw" {
		t.Errorf("DeviceAllow=%q, want the ttyUSB, ttyACM, ttyAMA and ttyS majors read-write", got)
	}
	if len(u["SystemCallFilter"]) == 0 || u["SystemCallFilter"][0] != "@system-service" {
		t.Errorf("SystemCallFilter=%q, want @system-service first", u["SystemCallFilter"])
	}
	// It must start without a modem and see the modems' device nodes.
	for _, k := range []string{"PrivateDevices", "BindsTo", "Requires", "Requisite"} {
		if len(u[k]) > 0 {
			t.Errorf("%s=%q must not be set", k, u[k])
		}
	}
	// dialout comes from the sysusers.d entry when no SupplementaryGroups.
	if !strings.Contains(strings.Join(u["SupplementaryGroups"], " "), "dialout") {
		data, err := os.ReadFile(filepath.Join(repoRoot, "packaging", "sysusers.conf"))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`(?m)^m simhook dialout$`).Match(data) {
			t.Error("simhook gets group dialout neither from the unit nor from sysusers.conf")
		}
	}
}

// installedPath is a path under /lib or /usr that a document names.
var installedPath = regexp.MustCompile(`(?:^|[^A-Za-z0-9_.\-/])(/(?:lib|usr)/[A-Za-z0-9_.\-/]+)`)

// TestDocsNameInstalledFiles: every file under /lib or /usr that the
// documentation names is one the package installs (or a directory of one),
// so that a renamed file cannot leave a stale name behind.
func TestDocsNameInstalledFiles(t *testing.T) {
	spec, err := os.ReadFile(filepath.Join(repoRoot, "packaging", "nfpm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var installed []string
	for _, m := range regexp.MustCompile(`(?m)^\s*dst:\s*(\S+)`).FindAllStringSubmatch(string(spec), -1) {
		installed = append(installed, m[1])
	}
	if len(installed) == 0 {
		t.Fatal("no dst in nfpm.yaml")
	}
	isInstalled := func(p string) bool {
		for _, f := range installed {
			if f == p || strings.HasPrefix(f, strings.TrimSuffix(p, "/")+"/") {
				return true
			}
		}
		return false
	}
	docs := []string{"README.md", "packaging/README.md", "docs/man/simhook.1", "docs/RECEIVING.md", "examples/receivers/README.md"}
	for _, doc := range docs {
		data, err := os.ReadFile(filepath.Join(repoRoot, doc))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), `\-`, "-") // roff
		for _, m := range installedPath.FindAllStringSubmatch(text, -1) {
			p := strings.TrimRight(m[1], ".,")
			if !isInstalled(p) {
				t.Errorf("%s names %s, which the package does not install (nfpm.yaml)", doc, p)
			}
		}
	}
}
