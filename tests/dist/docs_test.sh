#!/usr/bin/env bash
# The man pages and shell completions that netecho_docgen generated from the option
# definitions (src/cli/docgen.cpp):
#   - groff -ww -z reports nothing about any page, and man can format it;
#   - each page lists exactly the flags that `netecho [SUBCOMMAND] --help` lists;
#   - bash with bash-completion loaded completes `netecho se<Tab>` and `netecho serve --ud<Tab>`,
#     and a choice (`--backend <Tab>`); fish does the same with `complete -C`; zsh loads its
#     function without error.
#
# usage: docs_test.sh NETECHO_BINARY DOC_DIR
# groff, man-db, bash-completion, fish and zsh come from scripts/setup-debian.sh; a missing one
# fails the test, it does not skip.
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[[ $# -eq 2 ]] || fail "usage: $0 NETECHO_BINARY DOC_DIR"
bin=$1
doc=$2
for tool in groff man bash fish zsh; do
  command -v "$tool" >/dev/null || fail "$tool not found (scripts/setup-debian.sh installs it)"
done
[[ -f /usr/share/bash-completion/bash_completion ]] ||
  fail "bash-completion not installed (scripts/setup-debian.sh installs it)"

# --- man pages ----------------------------------------------------------------------------
# The flags a --help text lists: the names at the start of its option lines.
help_flags() {
  "$bin" "$@" --help | grep -E '^  -' | sed -E 's/^  //; s/[ ].*//' | tr ',' '\n' | sort -u
}
# The flags a page lists: the bold names in the heads of its OPTIONS items (.TP lines).
page_flags() {
  awk '/^\.SH OPTIONS/{on=1; next} /^\.SH/{on=0} on && prev==".TP"{print} {prev=$0}' "$1" |
    grep -oE '\\fB(\\-)+[A-Za-z0-9][A-Za-z0-9-]*\\fR' | sed -E 's/\\fB//; s/\\fR//; s/\\-/-/g' |
    sort -u
}

pages=(netecho.1 netecho-serve.1 netecho-send.1 netecho-ping.1 netecho-bench.1)
for page in "${pages[@]}"; do
  [[ -s $doc/$page ]] || fail "no $doc/$page"
  warnings=$(groff -ww -z -man "$doc/$page" 2>&1)
  [[ -z $warnings ]] || fail "groff -ww -z $page: $warnings"
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$doc/$page" 2>&1 >/dev/null)
  [[ -z $warnings ]] || fail "man --warnings $page: $warnings"
  sub=${page#netecho}
  sub=${sub#-}
  sub=${sub%.1}
  # shellcheck disable=SC2086 # an empty $sub is no argument
  diff <(help_flags $sub) <(page_flags "$doc/$page") >/tmp/docs_test.$$ ||
    fail "$page and 'netecho $sub --help' list different flags (< help, > page): $(cat /tmp/docs_test.$$)"
  rm -f /tmp/docs_test.$$
  echo "ok: $page: groff clean, $(help_flags $sub | wc -l) flags as in --help"
done
# The environment is documented in serve's page, one entry per variable.
grep -q '^\.SH ENVIRONMENT' "$doc/netecho-serve.1" || fail "netecho-serve.1 has no ENVIRONMENT"
grep -q 'NETECHO_DRAIN_TIMEOUT' "$doc/netecho-serve.1" || fail "no NETECHO_DRAIN_TIMEOUT in the page"
# A check that has stopped seeing anything cannot pass: a broken page must warn.
printf '.TH X 1\n.SH NAME\nx \\- y\n.BOGUS\n\\fBunclosed\n' >"/tmp/docs_test_bad.$$.1"
bad=$(groff -ww -z -man "/tmp/docs_test_bad.$$.1" 2>&1 || true)
rm -f "/tmp/docs_test_bad.$$.1"
[[ -n $bad ]] || fail "groff -ww -z did not warn about a broken page"

# --- bash ---------------------------------------------------------------------------------
# Calls the completion function as bash does on Tab, with bash-completion loaded.
bash_complete() {
  bash --norc --noprofile -c '
    source /usr/share/bash-completion/bash_completion
    source "$1"; shift
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _netecho netecho "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$doc/netecho.bash" "$@"
}
expect() {  # expect WHAT GOT WANT
  [[ $2 == "$3" ]] || fail "$1: got [$(echo $2)], want [$(echo $3)]"
  echo "ok: $1: $(echo $2)"
}
udp_flags=$(help_flags serve | grep -- '^--ud' | sort)
expect "bash: netecho se<Tab>" "$(bash_complete netecho se)" $'send\nserve'
expect "bash: netecho serve --ud<Tab>" "$(bash_complete netecho serve --ud)" "$udp_flags"
expect "bash: netecho serve --backend <Tab>" "$(bash_complete netecho serve --backend '')" \
  $'auto\nepoll\nio_uring'
expect "bash: netecho --ver<Tab>" "$(bash_complete netecho --ver)" "--version"

# --- fish ---------------------------------------------------------------------------------
fish_complete() {
  fish --no-config -c "source '$doc/netecho.fish'; complete -C '$1'" | cut -f1 | sort
}
expect "fish: netecho se<Tab>" "$(fish_complete 'netecho se')" $'send\nserve'
expect "fish: netecho serve --ud<Tab>" "$(fish_complete 'netecho serve --ud')" "$udp_flags"

# --- zsh ----------------------------------------------------------------------------------
zsh -n "$doc/_netecho" || fail "zsh -n _netecho: syntax error"
out=$(zsh -f -c "fpath=('$doc' \$fpath); autoload -U compinit; compinit -u -D; autoload +X _netecho && whence -w _netecho" 2>&1) ||
  fail "zsh cannot load _netecho: $out"
[[ $out == "_netecho: function" ]] || fail "zsh: _netecho is not a function after loading: $out"
echo "ok: zsh loads _netecho"
