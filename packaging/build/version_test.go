package main

import (
	"os/exec"
	"testing"
)

func TestDebVersion(t *testing.T) {
	tests := []struct {
		version, release string
		upstream, full   string
		wantErr          bool
	}{
		{version: "0.2.0", release: "1", upstream: "0.2.0", full: "0.2.0-1"},
		{version: "v0.2.0", release: "3", upstream: "0.2.0", full: "0.2.0-3"},
		{version: "0.1.0-dev", release: "1", upstream: "0.1.0-dev", full: "0.1.0~dev-1"},
		{version: "1.0.0-rc-2", release: "1", upstream: "1.0.0-rc-2", full: "1.0.0~rc.2-1"},
		{version: "1.0.0+git5", release: "1~bpo12+1", upstream: "1.0.0+git5", full: "1.0.0+git5-1~bpo12+1"},
		{version: "", release: "1", wantErr: true},
		{version: "dev", release: "1", wantErr: true},
		{version: "1.0 beta", release: "1", wantErr: true},
		{version: "1.0_beta", release: "1", wantErr: true},
		{version: "1.0", release: "", wantErr: true},
		{version: "1.0", release: "1-2", wantErr: true},
	}
	for _, tt := range tests {
		upstream, full, err := debVersion(tt.version, tt.release)
		if (err != nil) != tt.wantErr {
			t.Errorf("debVersion(%q, %q) error = %v, want error %v", tt.version, tt.release, err, tt.wantErr)
			continue
		}
		if upstream != tt.upstream || full != tt.full {
			t.Errorf("debVersion(%q, %q) = %q, %q; want %q, %q", tt.version, tt.release, upstream, full, tt.upstream, tt.full)
		}
		if err == nil {
			v, r := splitDebVersion(full)
			if v+"-"+r != full || r != tt.release {
				t.Errorf("splitDebVersion(%q) = %q, %q", full, v, r)
			}
		}
	}
}

// TestDebVersionOrder checks with dpkg itself that pre-releases sort before
// their release and a version bump sorts after.
func TestDebVersionOrder(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("no dpkg here")
	}
	chain := []string{"0.9.9", "1.0.0-dev", "1.0.0-rc.1", "1.0.0", "1.0.0+next", "1.0.1"}
	for i := 1; i < len(chain); i++ {
		_, lo, err := debVersion(chain[i-1], "1")
		if err != nil {
			t.Fatal(err)
		}
		_, hi, err := debVersion(chain[i], "1")
		if err != nil {
			t.Fatal(err)
		}
		if err := exec.Command("dpkg", "--compare-versions", hi, "gt", lo).Run(); err != nil {
			t.Errorf("dpkg: %s is not newer than %s", hi, lo)
		}
	}
}

func TestParseArchs(t *testing.T) {
	tests := []struct {
		list    string
		want    []string
		wantErr bool
	}{
		{list: "amd64,arm64,armhf", want: []string{"amd64", "arm64", "armhf"}},
		{list: " armhf , armhf,amd64", want: []string{"armhf", "amd64"}},
		{list: "", wantErr: true},
		{list: "arm", wantErr: true},
		{list: "amd64,i386", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseArchs(tt.list)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseArchs(%q) error = %v, want error %v", tt.list, err, tt.wantErr)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("parseArchs(%q) = %v, want %v", tt.list, got, tt.want)
			continue
		}
		for i := range got {
			if got[i].Deb != tt.want[i] {
				t.Errorf("parseArchs(%q)[%d] = %v, want %s", tt.list, i, got[i], tt.want[i])
			}
		}
	}
	if a := targets["armhf"]; a.GOARCH != "arm" || a.GOARM != "6" {
		t.Errorf("armhf builds with GOARCH=%s GOARM=%s, want arm and 6", a.GOARCH, a.GOARM)
	}
}
