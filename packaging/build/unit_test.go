package main

import (
	"bufio"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// allowedMajors evaluates the unit's DeviceAllow=char-NAME entries the way
// systemd does: NAME is a glob matched against the character drivers of
// /proc/devices, and the device cgroup then admits every device of each
// matching major number.
func allowedMajors(t *testing.T, unit, procDevices string) map[int]bool {
	t.Helper()
	var globs []string
	f, err := os.Open(unit)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	policyClosed := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "DevicePolicy=closed" {
			policyClosed = true
		}
		v, ok := strings.CutPrefix(line, "DeviceAllow=")
		if !ok {
			continue
		}
		spec, _, _ := strings.Cut(v, " ")
		name, ok := strings.CutPrefix(spec, "char-")
		if !ok {
			t.Errorf("DeviceAllow=%s: only char-NAME classes are expected", v)
			continue
		}
		globs = append(globs, name)
	}
	if !policyClosed {
		t.Error("the unit has no DevicePolicy=closed: every device would be open to it")
	}
	data, err := os.ReadFile(procDevices)
	if err != nil {
		t.Fatal(err)
	}
	majors := map[int]bool{}
	inChar := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "Character devices:"):
			inChar = true
			continue
		case strings.HasPrefix(line, "Block devices:"):
			inChar = false
		}
		fields := strings.Fields(line)
		if !inChar || len(fields) != 2 {
			continue
		}
		major, err := strconv.Atoi(fields[0])
		if err != nil {
			continue
		}
		for _, g := range globs {
			if ok, _ := path.Match(g, fields[1]); ok {
				majors[major] = true
			}
		}
	}
	return majors
}

// TestUnitAdmitsModemPorts checks, against a Raspberry Pi's /proc/devices,
// that the unit's device policy admits each class of modem port (USB
// serial, CDC-ACM, the PL011 and mini UARTs that /dev/serial0 leads to)
// and nothing else a gateway has (memory, GPIO, I2C, SPI, video, disks).
func TestUnitAdmitsModemPorts(t *testing.T) {
	majors := allowedMajors(t, filepath.Join(repoRoot, "systemd", "simhook.service"), filepath.Join("testdata", "proc-devices-pi"))
	tests := []struct {
		dev   string
		major int
		allow bool
	}{
		{"/dev/ttyUSB0 (USB serial modem)", 188, true},
		{"/dev/ttyACM0 (CDC-ACM modem)", 166, true},
		{"/dev/ttyAMA0 (PL011 UART, a HAT on /dev/serial0)", 204, true},
		{"/dev/ttyS0 (mini UART, /dev/serial0 with Bluetooth on the PL011)", 4, true},
		{"/dev/mem", 1, false},
		{"/dev/i2c-1", 89, false},
		{"/dev/spidev0.0", 153, false},
		{"/dev/video0", 81, false},
		{"/dev/gpiochip0", 254, false},
		{"/dev/gpiomem", 244, false},
		{"/dev/pts/0", 136, false},
		{"/dev/bus/usb/001/002", 189, false},
	}
	for _, tt := range tests {
		if majors[tt.major] != tt.allow {
			t.Errorf("%s (major %d): admitted %v, want %v", tt.dev, tt.major, majors[tt.major], tt.allow)
		}
	}
}
