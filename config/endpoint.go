package config

import "github.com/simhook/simhook/webhook"

// Endpoint returns the webhook endpoint the agent builds from w: the one
// place a configured webhook becomes a webhook.Endpoint, shared by the
// agent and by Validate, so that a configuration that validates is one
// whose endpoints the agent accepts.
func (w *Webhook) Endpoint() webhook.Endpoint {
	return webhook.Endpoint{
		Name:        w.Name,
		URL:         w.URL,
		Method:      w.Method,
		Format:      w.Format,
		Template:    w.Template,
		ContentType: w.ContentType,
		MaxBody:     int(w.MaxBody),
		CustomData:  w.CustomData,
		Headers:     w.Headers,
		Secrets:     w.AllSecrets(),
	}
}
