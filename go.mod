module github.com/simhook/simhook

go 1.26.0

require (
	github.com/fsnotify/fsnotify v1.10.1
	github.com/simhook/simhook/webhook v0.0.0-00010101000000-000000000000
	github.com/warthog618/modem v0.4.0
	github.com/warthog618/sms v0.3.0
	go.bug.st/serial v1.8.0
	go.etcd.io/bbolt v1.5.0
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/sys v0.49.0
)

require golang.org/x/sync v0.23.0 // indirect

// webhook/ is a module of its own, so that a receiver importing it
// inherits nothing from the agent; here it is used from this tree.
replace github.com/simhook/simhook/webhook => ./webhook
