module github.com/simhook/simhook

go 1.26.0

require (
	github.com/fsnotify/fsnotify v1.10.1
	github.com/nats-io/nats.go v1.56.0
	github.com/simhook/simhook/webhook v0.0.0-00010101000000-000000000000
	github.com/warthog618/modem v0.4.0
	github.com/warthog618/sms v0.3.0
	go.bug.st/serial v1.8.0
	go.etcd.io/bbolt v1.5.0
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/sys v0.49.0
)

require (
	github.com/klauspost/compress v1.20.0 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	golang.org/x/crypto v0.57.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
)

// webhook/ is a module of its own, so that a receiver importing it
// inherits nothing from the agent; here it is used from this tree.
replace github.com/simhook/simhook/webhook => ./webhook
