// Package config is simhook's configuration: the schema of the one YAML file
// an operator edits (/etc/simhook/simhook.yaml), its defaults, loading,
// validation and live reloading.
//
// The key names are the operators' interface described in SPEC §6; they are
// never renamed. Every field of Config carries its default in its doc comment,
// and Default returns a Config with all of them filled in.
//
// Loading is strict. Load reads the file, walks the YAML node tree itself so
// that every problem can be reported with the key path (for example
// webhooks[1].retry.initial), the line and the reason, and collects all of
// them before returning: an unknown key, a value of the wrong type and an
// invalid value are all errors, and nothing from a file with any error is
// used. The error returned is an *Errors listing every *FieldError.
//
// Secrets (webhook secrets, SIM PINs, the API token) may be written inline or
// read from files: secret_file, pin_file and token_file. A relative file name
// is resolved against $CREDENTIALS_DIRECTORY when systemd provides one, else
// against the directory of the configuration file. Redacted returns a copy
// that is safe to print, and Marshal renders the effective configuration.
//
// Watch follows the file while the agent runs. It watches the file's
// directory (editors and dpkg replace files by rename), ignores temporary and
// backup files, debounces bursts of writes, re-reads and validates, and hands
// either the new Config or the error to the caller, who keeps the running
// configuration on error. Diff tells the caller what changed.
package config
