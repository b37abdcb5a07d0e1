package config

import "maps"

// Clone returns a deep copy of c: changing the copy's lists and maps leaves
// c untouched.
func (c *Config) Clone() *Config {
	r := *c
	r.Phones = nil
	for _, p := range c.Phones {
		p.Init = cloneSlice(p.Init)
		p.Allow = cloneSlice(p.Allow)
		r.Phones = append(r.Phones, p)
	}
	r.Fleet.NATS = cloneSlice(c.Fleet.NATS)
	r.Webhooks = nil
	for _, w := range c.Webhooks {
		w.Secrets = cloneSlice(w.Secrets)
		w.Events = cloneSlice(w.Events)
		w.Phones = cloneSlice(w.Phones)
		w.CustomData = maps.Clone(w.CustomData)
		w.Headers = maps.Clone(w.Headers)
		r.Webhooks = append(r.Webhooks, w)
	}
	return &r
}

// cloneSlice copies s, keeping nil as nil.
func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append([]T(nil), s...)
}
