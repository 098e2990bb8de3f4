#!/usr/bin/env bash
# docs/CLI.md's flag table against the binary, both ways:
#   - the table between its markers is exactly what netecho_docgen generated (cli-flags.md),
#     so a changed option's text shows here;
#   - for netecho, each subcommand and bench merge, the flags `--help` lists are the flags the table's rows
#     for it list: none missing from the table, none in the table that --help lacks.
#
# usage: cli_table_test.sh NETECHO_BINARY DOC_DIR CLI_MD
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[[ $# -eq 3 ]] || fail "usage: $0 NETECHO_BINARY DOC_DIR CLI_MD"
bin=$1
generated=$2/cli-flags.md
doc=$3
[[ -f $generated ]] || fail "$generated is missing (netecho_docgen writes it)"

table=$(awk '/^<!-- end of generated table -->/{on=0} on{print} /^<!-- generated: /{on=1}' "$doc")
[[ -n $table ]] || fail "$doc has no generated table between its markers"
if ! diff <(printf '%s\n' "$table") "$generated" >/dev/null; then
  diff <(printf '%s\n' "$table") "$generated" >&2 || true
  fail "$doc's table differs from the generated $generated (copy it over)"
fi
echo "ok: $doc holds the generated table"

help_flags() {
  "$bin" "$@" --help | grep -E '^  -' | sed -E 's/^  //; s/[ ].*//' | tr ',' '\n' | sort -u
}
table_flags() {
  printf '%s\n' "$table" | awk -F' [|] ' -v cmd="$1" '$1 == "| " cmd || $1 == "|" cmd {print $2}' |
    grep -oE '`-[^`]+`' | tr -d '`' | sort -u
}
for cmd in netecho serve send ping bench "bench merge"; do
  if [[ $cmd == netecho ]]; then
    from_help=$(help_flags)
  else
    read -ra words <<<"$cmd"
    from_help=$(help_flags "${words[@]}")
  fi
  from_table=$(table_flags "$cmd")
  [[ -n $from_help ]] || fail "netecho $cmd --help lists no flags"
  missing=$(comm -23 <(printf '%s\n' "$from_help") <(printf '%s\n' "$from_table"))
  extra=$(comm -13 <(printf '%s\n' "$from_help") <(printf '%s\n' "$from_table"))
  [[ -z $missing ]] || fail "$cmd: in --help, not in $doc: $missing"
  [[ -z $extra ]] || fail "$cmd: in $doc, not in --help: $extra"
  echo "ok: $cmd: $(printf '%s\n' "$from_help" | wc -l) flags, the same in --help and the table"
done
