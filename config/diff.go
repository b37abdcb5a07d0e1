package config

import (
	"reflect"
	"slices"
)

// Changes says what differs between two configurations, so a running agent
// can apply a new one without restarting what did not change.
type Changes struct {
	// PhonesAdded, PhonesRemoved and PhonesChanged list phone ids, sorted.
	PhonesAdded, PhonesRemoved, PhonesChanged []int
	// Webhooks, Delivery, Reliability, Sending and Log report whether that
	// section differs.
	Webhooks, Delivery, Reliability, Sending, Log bool
	// StateDir, API, Timezone and UserID report whether that setting differs.
	// The agent needs a restart to apply a new state_dir or api.
	StateDir, API, Timezone, UserID bool
}

// Any reports whether anything changed.
func (ch Changes) Any() bool {
	return len(ch.PhonesAdded)+len(ch.PhonesRemoved)+len(ch.PhonesChanged) > 0 ||
		ch.Webhooks || ch.Delivery || ch.Reliability || ch.Sending || ch.Log ||
		ch.StateDir || ch.API || ch.Timezone || ch.UserID
}

// NeedsRestart reports whether a change can only take effect on restart.
func (ch Changes) NeedsRestart() bool { return ch.StateDir || ch.API }

// Diff compares an old and a new configuration. Phones are matched by id.
// A nil configuration counts as empty.
func Diff(old, new *Config) Changes {
	if old == nil {
		old = &Config{}
	}
	if new == nil {
		new = &Config{}
	}
	var ch Changes
	before := make(map[int]Phone, len(old.Phones))
	for _, p := range old.Phones {
		before[p.ID] = p
	}
	after := make(map[int]bool, len(new.Phones))
	for _, p := range new.Phones {
		after[p.ID] = true
		op, ok := before[p.ID]
		switch {
		case !ok:
			ch.PhonesAdded = append(ch.PhonesAdded, p.ID)
		case !reflect.DeepEqual(op, p):
			ch.PhonesChanged = append(ch.PhonesChanged, p.ID)
		}
	}
	for _, p := range old.Phones {
		if !after[p.ID] {
			ch.PhonesRemoved = append(ch.PhonesRemoved, p.ID)
		}
	}
	slices.Sort(ch.PhonesAdded)
	slices.Sort(ch.PhonesRemoved)
	slices.Sort(ch.PhonesChanged)
	ch.Webhooks = !reflect.DeepEqual(old.Webhooks, new.Webhooks)
	ch.Delivery = old.Delivery != new.Delivery
	ch.Reliability = old.Reliability != new.Reliability
	ch.Sending = old.Sending != new.Sending
	ch.Log = old.Log != new.Log
	ch.StateDir = old.StateDir != new.StateDir
	ch.API = old.API != new.API
	ch.Timezone = old.Timezone != new.Timezone
	ch.UserID = old.UserID != new.UserID
	return ch
}
