package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// commands are the top-level commands, in the order completion offers them.
var commands = []string{"run", "demo", "config", "send", "phone", "ussd", "fleet", "receive", "verify", "webhook", "outbox", "bench", "version", "help", "completion"}

// completionCmd is `simhook completion bash`: it prints a bash completion
// script for the commands, their sub-commands and their flags, read from
// each command's own --help so that the two cannot drift apart.
func completionCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("completion", "bash", `Print a bash completion script. Load it with
  source <(simhook completion bash)
or install it as /usr/share/bash-completion/completions/simhook.`)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return usageError(fs, stderr, "missing shell")
	case fs.Arg(0) != "bash":
		return usageError(fs, stderr, "unsupported shell %q (bash only)", fs.Arg(0))
	case fs.NArg() > 1:
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(1))
	}
	var flags, valued, subs strings.Builder
	for _, c := range commands {
		if c == "help" {
			fmt.Fprintf(&subs, "\t%s) echo %q ;;\n", c, strings.Join(commands, " "))
			continue
		}
		h := commandHelp(c)
		fmt.Fprintf(&flags, "\t%s) echo %q ;;\n", c, strings.Join(h.flags, " "))
		if len(h.valued) > 0 {
			fmt.Fprintf(&valued, "\t%s) echo %q ;;\n", c, strings.Join(h.valued, " "))
		}
		if len(h.subs) > 0 {
			fmt.Fprintf(&subs, "\t%s) echo %q ;;\n", c, strings.Join(h.subs, " "))
		}
	}
	_, err := fmt.Fprintf(stdout, bashCompletion, strings.Join(commands, " "), flags.String(), valued.String(), subs.String())
	return err
}

// helpInfo is what completion needs from a command's help.
type helpInfo struct {
	flags  []string // every flag, as --name
	valued []string // the flags that take a value
	subs   []string // sub-commands
}

var (
	helpFlag     = regexp.MustCompile(`^  (--[a-z0-9-]+)( [A-Z]+)?$`)
	helpCommand  = regexp.MustCompile(`^  ([a-z]+(?:, [a-z]+)*)(?:\s|$)`)
	helpSynopsis = regexp.MustCompile(`^Usage: simhook [a-z]+ ([a-z]+)\b`)
)

// commandHelp reads the flags and sub-commands of a command from its help.
func commandHelp(name string) helpInfo {
	var buf bytes.Buffer
	_ = run(context.Background(), []string{name, "--help"}, &buf, io.Discard)
	var h helpInfo
	inCommands := false
	for l := range strings.SplitSeq(buf.String(), "\n") {
		if m := helpSynopsis.FindStringSubmatch(l); m != nil {
			h.subs = append(h.subs, m[1])
		}
		switch {
		case l == "Commands:":
			inCommands = true
			continue
		case l == "":
			inCommands = false
		}
		if m := helpFlag.FindStringSubmatch(l); m != nil {
			h.flags = append(h.flags, m[1])
			if m[2] != "" {
				h.valued = append(h.valued, m[1])
			}
		} else if m := helpCommand.FindStringSubmatch(l); m != nil && inCommands {
			h.subs = append(h.subs, strings.Split(m[1], ", ")...)
		}
	}
	h.flags = append(h.flags, "--help")
	sort.Strings(h.subs)
	return h
}

// bashCompletion is the script; its verbs are the command list and the
// case arms for flags, value-taking flags and sub-commands.
const bashCompletion = `# bash completion for simhook, printed by "simhook completion bash".
_simhook_flags() {
	case "$1" in
%[2]s	esac
}
_simhook_valued() {
	case "$1" in
%[3]s	esac
}
_simhook_subs() {
	case "$1" in
%[4]s	esac
}
_simhook() {
	local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
	local cmd="" nargs=0 skip="" ended="" i w
	for ((i = 1; i < COMP_CWORD; i++)); do
		w="${COMP_WORDS[i]}"
		if [[ $w == "=" ]]; then # bash splits --flag=value at the "="
			skip=1
			continue
		fi
		if [[ -n $skip ]]; then
			skip=""
			continue
		fi
		case "$w" in
		--) ended=1 ;;
		-*) [[ -z $ended && " $(_simhook_valued "$cmd") " == *" $w "* ]] && skip=1 ;;
		*) if [[ -z $cmd ]]; then cmd="$w"; else nargs=$((nargs + 1)); fi ;;
		esac
	done
	if [[ -n $skip ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		return
	fi
	local words=""
	if [[ -z $cmd ]]; then
		words="%[1]s"
	elif [[ $cur == -* && -z $ended ]]; then
		words="$(_simhook_flags "$cmd")"
	elif [[ $nargs -eq 0 ]]; then
		words="$(_simhook_subs "$cmd")"
	fi
	if [[ -z $words ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _simhook simhook
`
