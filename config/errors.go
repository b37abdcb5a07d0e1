package config

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in a configuration: the key path it concerns
// (such as "webhooks[1].retry.initial"; empty for the file as a whole), the
// line it is on (0 when unknown) and why it is wrong.
type FieldError struct {
	Key    string
	Line   int
	Reason string
}

// Error formats the problem as "line 12: webhooks[1].url: reason".
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Errors is every problem found in one configuration, in line order. Load,
// Parse and Validate return it as their error.
type Errors struct {
	// File is the configuration file's path, when there is one.
	File string
	// List holds the problems, sorted by line.
	List []*FieldError
}

// Error lists every problem, one per line, prefixed with the file name.
func (e *Errors) Error() string {
	var b strings.Builder
	for i, fe := range e.List {
		if i > 0 {
			b.WriteByte('\n')
		}
		if e.File != "" {
			b.WriteString(e.File)
			if fe.Line > 0 {
				fmt.Fprintf(&b, ":%d", fe.Line)
			}
			b.WriteString(": ")
			fe2 := *fe
			fe2.Line = 0
			b.WriteString(fe2.Error())
			continue
		}
		b.WriteString(fe.Error())
	}
	return b.String()
}

// Unwrap returns the individual problems, so errors.As finds a *FieldError.
func (e *Errors) Unwrap() []error {
	out := make([]error, len(e.List))
	for i, fe := range e.List {
		out[i] = fe
	}
	return out
}

// Find returns the first problem about key, or nil.
func (e *Errors) Find(key string) *FieldError {
	for _, fe := range e.List {
		if fe.Key == key {
			return fe
		}
	}
	return nil
}

// errList collects problems while a file is decoded and validated.
type errList struct {
	list []*FieldError
}

// add records a problem.
func (l *errList) add(key string, line int, format string, args ...any) {
	l.list = append(l.list, &FieldError{Key: key, Line: line, Reason: fmt.Sprintf(format, args...)})
}

// err returns the collected problems as an *Errors, or nil when there are none.
func (l *errList) err(file string) error {
	if len(l.list) == 0 {
		return nil
	}
	list := append([]*FieldError(nil), l.list...)
	sort.SliceStable(list, func(i, j int) bool { return list[i].Line < list[j].Line })
	return &Errors{File: file, List: list}
}
