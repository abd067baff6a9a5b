#!/usr/bin/env bash
# tests/cli/test_store.sh — `tide token` and `tide audit` against a data
# directory: the secret is printed once and never stored, revocation, and
# `tide audit verify` finding the first broken link after a row is edited
# with raw SQL (python3's sqlite3 module plays the attacker).
. "$(dirname "$0")/lib.sh"
D="$TMP/data"
sql() { python3 -c 'import sqlite3,sys
c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit(); c.close()' "$D/tide.db" "$1"; }

# create prints exactly one line: the secret
out=$("$TIDE" token create ops --role admin --data "$D" 2>"$TMP/err"); rc=$?
check "create exits 0" [ "$rc" -eq 0 ]
check "create prints one line" [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ]
check "secret has the documented shape" \
  python3 -c 'import re,sys; sys.exit(0 if re.fullmatch(r"tide_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", sys.argv[1]) else 1)' "$out"
check "stderr says it is shown once" grep -q "only once" "$TMP/err"
secret1=$out
out2=$("$TIDE" token create lab --role label --data "$D" 2>/dev/null)
check "second token has another secret" test -n "$out2" -a "$out2" != "$secret1"

# duplicate name and bad role
dup=$("$TIDE" token create ops --role predict --data "$D" 2>"$TMP/err"); rc=$?
check "duplicate name fails with status 1" [ "$rc" -eq 1 ]
check "duplicate prints no secret" [ -z "$dup" ]
check "duplicate message names the token" grep -q "'ops' already exists" "$TMP/err"
"$TIDE" token create x --role root --data "$D" >/dev/null 2>&1; rc=$?
check "unknown role is a usage error" [ "$rc" -eq 2 ]
"$TIDE" token list >/dev/null 2>&1; rc=$?
check "missing --data is a usage error" [ "$rc" -eq 2 ]

# the store keeps only a hash: the secret's random part is nowhere on disk
rand=${secret1:18}
found=0
for f in "$D"/tide.db*; do grep -qF -- "$rand" "$f" && found=1; done
check "secret not stored in the data directory" [ "$found" -eq 0 ]

lst=$("$TIDE" token list --data "$D")
check "list shows ops as admin" grep -Eq '^ops +admin ' <<<"$lst"
check "list shows lab as label" grep -Eq '^lab +label ' <<<"$lst"
check "list does not print secrets" bash -c '! grep -qF -- "$1" <<<"$2"' _ "$rand" "$lst"

"$TIDE" token revoke ops --data "$D" >/dev/null; rc=$?
check "revoke exits 0" [ "$rc" -eq 0 ]
check "list shows the revocation time" grep -Eq '^ops +admin +[0-9T:-]+Z +[0-9]{4}-' <<<"$("$TIDE" token list --data "$D")"
"$TIDE" token revoke ops --data "$D" >/dev/null 2>&1; rc=$?
check "revoking twice fails" [ "$rc" -eq 1 ]

# audit: 2 creates + 1 revoke, chained
v=$("$TIDE" audit verify --data "$D"); rc=$?
check "verify OK exits 0" [ "$rc" -eq 0 ]
check "verify counts 3 entries" grep -q "OK: 3 entries verified" <<<"$v"
j=$("$TIDE" audit list --data "$D" --json)
check "list --json has 3 entries" [ "$(wc -l <<<"$j")" -eq 3 ]
check "entry 2 is the creation of lab" [ "$(jget "$(sed -n 2p <<<"$j")" detail)" = '{"token":"lab","role":"label"}' ]
check "entry 3 is a revocation" [ "$(jget "$(sed -n 3p <<<"$j")" action)" = "token.revoke" ]
check "list --after 2 gives entry 3" [ "$(jget "$("$TIDE" audit list --data "$D" --json --after 2)" seq)" = 3 ]

# tamper with entry 2: verify reports exactly that link
sql "UPDATE audit SET detail = '{\"token\":\"lab\",\"role\":\"admin\"}' WHERE seq = 2"
v=$("$TIDE" audit verify --data "$D"); rc=$?
check "tampered log exits 1" [ "$rc" -eq 1 ]
check "first broken link is entry 2" grep -q "BROKEN at entry 2 " <<<"$v"
check "one entry verified before it" grep -q "(1 entries before it verified)" <<<"$v"
# deleting entry 1 instead moves the break to the first remaining entry
sql "UPDATE audit SET detail = '{\"token\":\"lab\",\"role\":\"label\"}' WHERE seq = 2"
check "restoring the row repairs the chain" bash -c '"$1" audit verify --data "$2" >/dev/null' _ "$TIDE" "$D"
sql "DELETE FROM audit WHERE seq = 1"
v=$("$TIDE" audit verify --data "$D")
check "deleting entry 1 breaks at entry 2" grep -q "BROKEN at entry 2 " <<<"$v"

# a database from a newer tide is refused, not modified
sql "PRAGMA user_version = 99"
"$TIDE" audit verify --data "$D" >/dev/null 2>"$TMP/err"; rc=$?
check "newer schema refused" [ "$rc" -eq 1 ]
check "refusal explains the version" grep -q "schema version 99, newer" "$TMP/err"
finish
