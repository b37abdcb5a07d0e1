package config

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Marshal renders c as YAML with every key, defaults included: the effective
// configuration. Values read from a file (secret_file, pin_file, token_file)
// are left out and the file is named instead, so the output loads back to
// the same configuration. Call Redacted first before showing it to anyone.
func (c *Config) Marshal() ([]byte, error) {
	out := c.Clone()
	if out.API.TokenFile != "" {
		out.API.Token = ""
	}
	if out.Fleet.TokenFile != "" {
		out.Fleet.Token = ""
	}
	if out.Fleet.SecretFile != "" {
		out.Fleet.Secret = ""
	}
	for i := range out.Phones {
		if out.Phones[i].PINFile != "" {
			out.Phones[i].PIN = ""
		}
	}
	for i := range out.Webhooks {
		if out.Webhooks[i].SecretFile != "" {
			out.Webhooks[i].Secret = ""
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return buf.Bytes(), nil
}
