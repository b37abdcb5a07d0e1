package main

import (
	"errors"
	"flag"
	"io"
	"slices"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	newFS := func() *flag.FlagSet {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("socket", "", "")
		fs.Int("seconds", 0, "")
		fs.Bool("dead", false, "")
		return fs
	}
	tests := []struct {
		args            []string
		flags, position []string
		err             error
	}{
		{[]string{"enable", "crm", "--socket", "S"}, []string{"--socket", "S"}, []string{"enable", "crm"}, nil},
		{[]string{"--socket", "S", "enable", "crm"}, []string{"--socket", "S"}, []string{"enable", "crm"}, nil},
		{[]string{"trace", "--seconds", "3", "1"}, []string{"--seconds", "3"}, []string{"trace", "1"}, nil},
		{[]string{"-socket=S", "ls"}, []string{"-socket=S"}, []string{"ls"}, nil},
		{[]string{"retry", "--dead", "7"}, []string{"--dead"}, []string{"retry", "7"}, nil},
		{[]string{"retry", "--dead=false", "7"}, []string{"--dead=false"}, []string{"retry", "7"}, nil},
		{[]string{"a", "--", "--socket", "-h"}, nil, []string{"a", "--socket", "-h"}, nil},
		{[]string{"verify", "-"}, nil, []string{"verify", "-"}, nil},
		{[]string{"--text", "x"}, []string{"--text"}, []string{"x"}, nil}, // unknown: left to Parse to report
		{[]string{"ls", "--socket"}, []string{"--socket"}, []string{"ls"}, errors.New("flag needs an argument: --socket")},
		{[]string{"ls", "--help", "--bogus"}, []string{"--bogus"}, []string{"ls"}, errHelp},
		{[]string{"-h"}, nil, nil, errHelp},
		{[]string{"--help", "ls", "--socket"}, []string{"--socket"}, []string{"ls"}, errors.New("flag needs an argument: --socket")}, // the error wins
		{[]string{"-help", "x"}, nil, []string{"x"}, errHelp},
		{[]string{"--socket", "-h"}, []string{"--socket", "-h"}, nil, nil}, // a value, not a flag
	}
	for _, tt := range tests {
		flags, pos, err := splitArgs(newFS(), tt.args)
		if !slices.Equal(flags, tt.flags) || !slices.Equal(pos, tt.position) || (err == nil) != (tt.err == nil) || (err != nil && err.Error() != tt.err.Error()) {
			t.Errorf("splitArgs(%q) = %q, %q, %v; want %q, %q, %v", tt.args, flags, pos, err, tt.flags, tt.position, tt.err)
		}
	}
}
