package bench

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// procSample is one reading of a process's CPU time and memory from /proc.
type procSample struct {
	// StatCPU is utime+stime from /proc/PID/stat, in 10 ms clock ticks.
	StatCPU time.Duration
	// RunCPU is the sum over the process's threads of the time they ran
	// (the first field of /proc/PID/task/TID/schedstat), in nanoseconds.
	RunCPU time.Duration
	// Switches is the sum over the threads of their voluntary and
	// involuntary context switches: one per wakeup of a thread, about.
	Switches int64
	Threads  int

	// From /proc/PID/status.
	RSS, RSSAnon, RSSFile int64
	// From /proc/PID/smaps_rollup: the proportional set size, which
	// charges a page shared by n processes 1/n to each.
	PSS, PSSAnon, PSSFile int64
}

// readProc samples pid.
func readProc(pid int) (procSample, error) {
	var s procSample
	dir := fmt.Sprintf("/proc/%d", pid)
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return s, err
	}
	if s.StatCPU, err = statCPU(stat); err != nil {
		return s, fmt.Errorf("%s/stat: %w", dir, err)
	}
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return s, err
	}
	for _, t := range tasks {
		tdir := filepath.Join(dir, "task", t.Name())
		if data, err := os.ReadFile(filepath.Join(tdir, "schedstat")); err == nil {
			if f := strings.Fields(string(data)); len(f) > 0 {
				ns, _ := strconv.ParseInt(f[0], 10, 64)
				s.RunCPU += time.Duration(ns)
			}
		}
		if data, err := os.ReadFile(filepath.Join(tdir, "status")); err == nil {
			kv := keyValues(data)
			s.Switches += kv["voluntary_ctxt_switches"] + kv["nonvoluntary_ctxt_switches"]
		}
		s.Threads++
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return s, err
	}
	kv := keyValues(status)
	s.RSS, s.RSSAnon, s.RSSFile = kv["VmRSS"]<<10, kv["RssAnon"]<<10, kv["RssFile"]<<10
	rollup, err := os.ReadFile(filepath.Join(dir, "smaps_rollup"))
	if err != nil {
		return s, err
	}
	kv = keyValues(rollup)
	s.PSS, s.PSSAnon, s.PSSFile = kv["Pss"]<<10, kv["Pss_Anon"]<<10, kv["Pss_File"]<<10
	return s, nil
}

// statCPU reads utime+stime from the text of a /proc/PID/stat file.
func statCPU(stat []byte) (time.Duration, error) {
	// The fields after the parenthesised command name; utime and stime are
	// the 14th and 15th fields of the whole line.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 > len(stat) {
		return 0, fmt.Errorf("no command name")
	}
	f := strings.Fields(string(stat[i+2:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields", len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("utime %q, stime %q", f[11], f[12])
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// keyValues parses the "Name: value [kB]" lines of /proc status-like files
// into the first number of each value.
func keyValues(data []byte) map[string]int64 {
	kv := make(map[string]int64)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(value)
		if len(f) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			kv[name] = n
		}
	}
	return kv
}

// RSSParts splits a process's resident set by the mappings it lives in.
type RSSParts struct {
	// Text and ROData are the executable's code and read-only data
	// (pclntab, type data, strings) brought in from the file; Data is its
	// writable data and bss.
	Text   int64 `json:"text_bytes"`
	ROData int64 `json:"rodata_bytes"`
	Data   int64 `json:"data_bytes"`
	// Anon is every other anonymous mapping: the Go heap (objects, spans,
	// goroutine stacks), the runtime's own metadata and the threads'
	// system stacks.
	Anon int64 `json:"anon_bytes"`
	// Libs is shared libraries (libc and ld.so of a cgo build).
	Libs int64 `json:"libs_bytes"`
	// Outbox is the bbolt file's read-only mapping.
	Outbox int64 `json:"outbox_map_bytes"`
	// Other is the rest (vdso and the like).
	Other int64 `json:"other_bytes"`
}

// Total is the sum of the parts.
func (p RSSParts) Total() int64 {
	return p.Text + p.ROData + p.Data + p.Anon + p.Libs + p.Outbox + p.Other
}

// readRSSParts classifies every mapping of pid by /proc/PID/smaps, both
// its resident pages and those referenced since the last clearRefs.
func readRSSParts(pid int, binary string) (rss, referenced RSSParts, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return rss, referenced, err
	}
	exe, _ := filepath.EvalSymlinks(binary)
	return parseRSSParts(data, binary, exe)
}

// parseRSSParts classifies the mappings of an smaps text; binary and exe
// (either may be empty) are the paths the executable is mapped under.
func parseRSSParts(data []byte, binary, exe string) (rss, referenced RSSParts, err error) {
	isExe := func(path string) bool { return path != "" && (path == binary || path == exe) }
	var (
		part    func(*RSSParts) *int64
		dataEnd string // where the executable's writable mapping ends: bss follows
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) >= 5 && !strings.HasSuffix(f[0], ":") && strings.Contains(f[0], "-") {
			// A mapping header: range perms offset dev inode [path].
			path := ""
			if len(f) >= 6 {
				path = strings.Join(f[5:], " ")
			}
			start, end, _ := strings.Cut(f[0], "-")
			perms := f[1]
			switch {
			case isExe(path) && strings.Contains(perms, "x"):
				part = func(p *RSSParts) *int64 { return &p.Text }
			case isExe(path) && strings.Contains(perms, "w"):
				part = func(p *RSSParts) *int64 { return &p.Data }
				dataEnd = end
				continue
			case isExe(path):
				part = func(p *RSSParts) *int64 { return &p.ROData }
			case path == "" && start == dataEnd:
				part = func(p *RSSParts) *int64 { return &p.Data }
			case strings.HasSuffix(path, ".db"):
				part = func(p *RSSParts) *int64 { return &p.Outbox }
			case strings.Contains(path, ".so"):
				part = func(p *RSSParts) *int64 { return &p.Libs }
			case path == "" || path == "[heap]" || path == "[stack]" || strings.HasPrefix(path, "[anon"):
				part = func(p *RSSParts) *int64 { return &p.Anon }
			default:
				part = func(p *RSSParts) *int64 { return &p.Other }
			}
			dataEnd = ""
			continue
		}
		if part == nil || len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Rss:":
			*part(&rss) += n << 10
		case "Referenced:":
			*part(&referenced) += n << 10
		}
	}
	return rss, referenced, sc.Err()
}

// clearRefs clears the referenced bits of every page of pid, so that
// smaps' Referenced counts the pages touched from now on.
func clearRefs(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("1"), 0)
}

// isStatic reports whether the executable at path has no interpreter: a
// CGO_ENABLED=0 build, as shipped, rather than one linked with libc.
func isStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}
