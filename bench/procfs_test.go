package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestParseRSSParts classifies the mappings of real smaps files: a static
// build, whose referenced bits were cleared (text and rodata touched only
// in part), and a cgo build with libc.
func TestParseRSSParts(t *testing.T) {
	const kB = 1 << 10
	for _, tc := range []struct {
		file         string
		rss, touched RSSParts
	}{
		{
			file:    "smaps-static.txt",
			rss:     RSSParts{Text: 4780 * kB, ROData: 4308 * kB, Data: 380 * kB, Anon: 1840 * kB, Outbox: 28 * kB, Other: 8 * kB},
			touched: RSSParts{Text: 556 * kB, ROData: 228 * kB, Data: 380 * kB, Anon: 1840 * kB, Outbox: 28 * kB, Other: 8 * kB},
		},
		{
			file:    "smaps-cgo.txt",
			rss:     RSSParts{Text: 4804 * kB, ROData: 4416 * kB, Data: 364 * kB, Anon: 1956 * kB, Libs: 1452 * kB, Outbox: 28 * kB, Other: 8 * kB},
			touched: RSSParts{Text: 4804 * kB, ROData: 4416 * kB, Data: 364 * kB, Anon: 1956 * kB, Libs: 1452 * kB, Outbox: 28 * kB, Other: 8 * kB},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			rss, touched, err := parseRSSParts(data, "/usr/bin/simhook", "")
			if err != nil {
				t.Fatal(err)
			}
			if rss != tc.rss {
				t.Errorf("resident %+v, want %+v", rss, tc.rss)
			}
			if touched != tc.touched {
				t.Errorf("touched %+v, want %+v", touched, tc.touched)
			}
		})
	}
}

// TestStatCPU reads utime+stime, also behind a command name that holds
// spaces and parentheses.
func TestStatCPU(t *testing.T) {
	for _, tc := range []struct {
		file string
		want time.Duration
	}{
		{"stat.txt", 30 * time.Millisecond},
		{"stat-parens.txt", 12900 * time.Millisecond},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := statCPU(data)
		if err != nil || got != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.file, got, err, tc.want)
		}
	}
}

// TestReadProcSelf samples this test process: every figure is there.
func TestReadProcSelf(t *testing.T) {
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.RSSAnon <= 0 || s.RSSFile <= 0 || s.RSSAnon+s.RSSFile > s.RSS+64<<10 {
		t.Errorf("RSS %d, anon %d, file %d", s.RSS, s.RSSAnon, s.RSSFile)
	}
	if s.PSS <= 0 || s.PSS > s.RSS || s.Threads < 1 || s.RunCPU <= 0 || s.Switches <= 0 {
		t.Errorf("%+v", s)
	}
}
