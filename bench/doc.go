// Package bench measures simhook the way operators judge a gateway agent:
// how fast a received SMS becomes a verified webhook, how fast a backlog
// drains, and what the daemon costs in memory and CPU while idle.
//
// Every figure comes from the real pieces: the agent drives simulated modems
// over pseudo-terminals, commits to a bbolt file and delivers over HTTP on
// 127.0.0.1 to a receiver that checks both signatures. `simhook bench` runs
// it and prints a table; BENCHMARKS.md records the results.
package bench
