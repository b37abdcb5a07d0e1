package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParseInts reads --footprint-phones lists.
func TestParseInts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		err  bool
	}{
		{in: "1,16", want: []int{1, 16}},
		{in: " 4 , 8,", want: []int{4, 8}},
		{in: "", want: nil},
		{in: "0", err: true},
		{in: "-1", err: true},
		{in: "1;2", err: true},
	} {
		got, err := parseInts(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("parseInts(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil {
			if back, _ := parseInts(joinInts(got)); !slices.Equal(back, got) {
				t.Errorf("joinInts(%v) does not read back: %v", got, back)
			}
		}
	}
}

// TestParseDurations reads --growth-retention lists.
func TestParseDurations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []time.Duration
		err  bool
	}{
		{in: "168h,48h", want: []time.Duration{168 * time.Hour, 48 * time.Hour}},
		{in: " 90m ,", want: []time.Duration{90 * time.Minute}},
		{in: "", want: nil},
		{in: "0s", err: true},
		{in: "-1h", err: true},
		{in: "7d", err: true},
	} {
		got, err := parseDurations(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("parseDurations(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestBenchFlagErrors checks the idle-footprint and growth flags fail before any
// measurement starts.
func TestBenchFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--footprint-phones", "one"}, `--footprint-phones: "one" is not a positive count`},
		{[]string{"bench", "--idle-only", "--footprint-phones", ""}, "--idle-only needs --footprint-phones"},
		{[]string{"bench", "--growth", "--growth-retention", "a week"}, `"a week" is not a positive duration`},
		{[]string{"bench", "--growth", "--growth-retention", ""}, "at least one --growth-retention"},
		{[]string{"bench", "--growth", "--growth-days", "0"}, "--growth needs --growth-days above 0"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut, code := runCmd(t, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, errOut, tc.want)
			}
		})
	}
}
