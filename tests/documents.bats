#!/usr/bin/env bats
# Documents: what one input may hold (cloudos(7) LIMITS, lib/bounds.h),
# answered in time that grows with the input, never its square; and what
# of a VM document the catalog keeps (its known fields, bounded).

load helpers/common

setup() {
	fresh_catalog
	# a catalog with one queued VM: every refusal below must leave it
	cvm create --queue - >/dev/null <<-'DOC'
	kind: VM
	name: keep
	cpu: 1
	memory: 64MiB
	DOC
	before=$(catalog_digest)
}

# vm_doc NAME: the head of a VM document
vm_doc() {
	printf 'kind: VM\nname: %s\ncpu: 1\nmemory: 64MiB\n' "$1"
}

@test "200,000 keys (3 MB) are refused at the 10,001st, in well under a second, by every program" {
	{ vm_doc big; seq 1 200000 | awk '{ printf "x%07d: %d\n", $1, $1 }'; } > "$BATS_TEST_TMPDIR/big.yaml"
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/big.yaml")" -gt 3000000 ]
	start=$(date +%s%N)
	run -2 timeout 20 cvm create --queue - < "$BATS_TEST_TMPDIR/big.yaml"
	end=$(date +%s%N)
	[ "$output" = "cvm: <stdin>: line 10001: a map holds at most 10000 keys" ]
	# the old reader took minutes (a scan per key); the bench has the figure
	[ $(( (end - start) / 1000000 )) -lt 2000 ]
	[ "$(catalog_digest)" = "$before" ]
	for p in chost cimg cnet cvol; do
		refused 2 "$p: <stdin>: line 10001: a map holds at most 10000 keys" \
		    timeout 20 "$p" apply - < "$BATS_TEST_TMPDIR/big.yaml"
	done
	[ "$(catalog_digest)" = "$before" ]
}

@test "a map at the key bound is read, and a repeated key in it is named on its line" {
	{ vm_doc wide; seq 1 9996 | awk '{ printf "x%05d: %d\n", $1, $1 }'; } > "$BATS_TEST_TMPDIR/wide.yaml"
	run -0 timeout 20 cvm create --queue - -o json < "$BATS_TEST_TMPDIR/wide.yaml"
	[ "$(jq -r .name <<<"$output")" = wide ]
	before=$(catalog_digest)
	{ vm_doc dup; seq 1 5000 | awk '{ printf "x%05d: %d\n", 5001 - $1, $1 }'; echo 'x04711: again'; } > "$BATS_TEST_TMPDIR/dup.yaml"
	refused 2 "cvm: <stdin>: line 5005: duplicate key 'x04711'" \
	    cvm create --queue - < "$BATS_TEST_TMPDIR/dup.yaml"
	[ "$(catalog_digest)" = "$before" ]
}

@test "nesting deeper than 64 is refused" {
	deep=$(printf '%.0s[' $(seq 1 65))
	run -2 cvm create --queue - <<<"$(vm_doc deep)
x: $deep"
	[ "$output" = "cvm: <stdin>: line 5: maps and lists nest at most 64 deep" ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "a string over 1 MiB is refused, a JSON one too" {
	{ vm_doc long; printf 'x: '; head -c 1048577 /dev/zero | tr '\0' x; echo; } > "$BATS_TEST_TMPDIR/long.yaml"
	refused 2 "cvm: <stdin>: line 5: a string holds at most 1 MiB" \
	    cvm create --queue - < "$BATS_TEST_TMPDIR/long.yaml"
	{ printf '{"kind": "VM", "name": "long", "cpu": 1, "memory": 64,\n "x": "'; head -c 1048577 /dev/zero | tr '\0' x; echo '"}'; } > "$BATS_TEST_TMPDIR/long.json"
	refused 2 "cvm: <stdin>: line 2: a string holds at most 1 MiB" \
	    cvm create --queue - < "$BATS_TEST_TMPDIR/long.json"
	[ "$(catalog_digest)" = "$before" ]
}

@test "a document over 4 MiB is refused; a stream of documents may be larger" {
	one_mib() { printf '"'; head -c 1048000 /dev/zero | tr '\0' x; printf '"\n'; }
	{ vm_doc huge; for i in 1 2 3 4 5; do printf 'x%d: ' "$i"; one_mib; done; } > "$BATS_TEST_TMPDIR/huge.yaml"
	refused 2 "cvm: <stdin>: line 9: a document holds at most 4 MiB" \
	    cvm create --queue - < "$BATS_TEST_TMPDIR/huge.yaml"
	[ "$(catalog_digest)" = "$before" ]
	# five documents of 3 MB each: 15 MB in one input
	for n in 1 2 3 4 5; do
		echo ---; vm_doc "s$n"; for i in 1 2 3; do printf 'x%d: ' "$i"; one_mib; done
	done > "$BATS_TEST_TMPDIR/stream.yaml"
	run -0 cvm create --queue - -o ids < "$BATS_TEST_TMPDIR/stream.yaml"
	[ "${#lines[@]}" = 5 ]
}

@test "an input over 64 MiB, or of more than 4,000,000 values, is refused" {
	refused 2 "cvm: <stdin>: input is larger than 64 MiB" \
	    sh -c "yes '# a comment' | head -c 67108865 | cvm create --queue -"
	# a list of 4,000,000 empty maps and the list itself
	refused 2 "cvm: <stdin>: line 4000000: an input holds at most 4000000 values and keys" \
	    sh -c "yes -- '- {}' | head -n 4000000 | timeout 30 cvm delete -"
	[ "$(catalog_digest)" = "$before" ]
}

@test "an alias bomb is refused at its first alias" {
	run -2 cvm create --queue - <<-'DOC'
	kind: VM
	name: lol
	cpu: 1
	memory: 64MiB
	a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
	b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
	c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
	d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
	DOC
	[ "$output" = "cvm: <stdin>: line 6: aliases (*name) are not supported" ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "unknown fields of a VM document are accepted and never stored" {
	one_mib() { printf '"junk-'; head -c 1040000 /dev/zero | tr '\0' x; printf '"\n'; }
	vm_doc small | cvm create --queue - >/dev/null
	size_small=$(du -b --apparent-size "$CLOUDOS_CATALOG" | cut -f1)
	{ vm_doc junk; echo 'context: {hostname: junk}'; for i in 1 2 3; do printf 'extra%d: ' "$i"; one_mib; done; echo 'more: {deep: [1, 2, {x: y}]}'; } > "$BATS_TEST_TMPDIR/junk.yaml"
	run -0 cvm create --queue - < "$BATS_TEST_TMPDIR/junk.yaml"
	size_junk=$(du -b --apparent-size "$CLOUDOS_CATALOG" | cut -f1)
	# 3 MB came in; the catalog grew by at most a few pages
	[ $(( size_junk - size_small )) -lt 65536 ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT spec FROM vms WHERE name = 'junk'" | jq -c 'keys')" = '["context","cpu","kind","memory","name"]' ]
	run -0 cvm show junk -o yaml
	[[ "$output" != *junk-* && "$output" != *extra* && "$output" != *more* ]]
	run -0 cvm show junk -o json
	[[ "$output" != *junk-* && "$output" != *extra* ]]
	# and the round trip keeps the VM as it is
	d=$(catalog_digest)
	cvm show junk -o yaml | cvm apply - >/dev/null
	[ "$(catalog_digest)" = "$d" ]
}

@test "context.user_data is at most 64 KiB" {
	ud() { printf 'context:\n  user_data: "'; head -c "$1" /dev/zero | tr '\0' x; printf '"\n'; }
	refused 2 "cvm: <stdin>: line 1: context: user_data: 65537 bytes, more than 64 KiB" \
	    cvm create --queue - <<<"$(vm_doc big; ud 65537)"
	[ "$(catalog_digest)" = "$before" ]
	# nor through apply of a VM that exists
	refused 2 "cvm: <stdin>: line 1: context: user_data: 65537 bytes, more than 64 KiB" \
	    cvm apply - <<<"$(vm_doc keep; ud 65537)"
	[ "$(catalog_digest)" = "$before" ]
	run -0 cvm create --queue - -o json <<<"$(vm_doc edge; ud 65536)"
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT length(json_extract(spec, '$.context.user_data')) FROM vms WHERE name = 'edge'")" = 65536 ]
}

@test "labels: at most 64, values at most 256 bytes" {
	labels() { echo 'labels:'; seq 1 "$1" | awk '{ printf "  k%d: v\n", $1 }'; }
	refused 2 "cvm: <stdin>: line 1: labels: 65 labels, more than 64" \
	    cvm create --queue - <<<"$(vm_doc l; labels 65)"
	v257=$(head -c 257 /dev/zero | tr '\0' v)
	refused 2 "cvm: <stdin>: line 1: labels: value of 'a': 257 bytes, more than 256" \
	    cvm create --queue - <<<"$(vm_doc l; echo "labels: {a: $v257}")"
	refused 2 "cvm: <stdin>: line 1: labels: 65 labels, more than 64" \
	    cvm apply - <<<"$(vm_doc keep; labels 65)"
	[ "$(catalog_digest)" = "$before" ]
	# hosts and images keep labels too
	refused 2 "chost: <stdin>: line 1: labels: 65 labels, more than 64" \
	    chost apply - <<<"$(printf 'kind: Host\nname: h\nuri: test:///default\n'; labels 65)"
	[ "$(catalog_digest)" = "$before" ]
	run -0 cvm create --queue - -o json <<<"$(vm_doc l; labels 63; echo "  a: ${v257%v}")"
	[ "$(jq '.labels | length' <<<"$output")" = 64 ]
}

@test "C1 controls and U+FFFF in a label or user_data survive the catalog" {
	run -0 cvm create --queue - -o json <<-'DOC'
	kind: VM
	name: c1
	cpu: 1
	memory: 64MiB
	labels: {a: "x\x84y\uFFFF"}
	context: {user_data: "#!/bin/sh\n# \x85\x9f\uFFFE\n"}
	DOC
	[ "$(jq -r .labels.a <<<"$output" | od -An -tx1 | tr -d ' \n')" = 78c28479efbfbf0a ]
	[ "$(cvm show c1 -o json | jq -r .labels.a | od -An -tx1 | tr -d ' \n')" = 78c28479efbfbf0a ]
	# the stored document reads back: applying it again changes nothing
	d=$(catalog_digest)
	cvm show c1 -o yaml | cvm apply - >/dev/null
	[ "$(catalog_digest)" = "$d" ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT json_extract(spec, '$.context.user_data') FROM vms WHERE name = 'c1'" | od -An -tx1 | tr -d ' \n')" = 23212f62696e2f73680a2320c285c29fefbfbe0a0a ]
}

@test "a security group document holds at most 1000 rules, a network at most 256 ranges" {
	rules() { printf 'kind: SecurityGroup\nname: sg\nrules:\n'; seq 1 "$1" | awk '{ printf "  - {direction: in, proto: tcp, port: %d}\n", $1 }'; }
	refused 2 "cnet: <stdin>: line 1: rules: 1001 rules, more than 1000" \
	    cnet apply - <<<"$(rules 1001)"
	[ "$(catalog_digest)" = "$before" ]
	ranges() { printf 'kind: Network\nname: net\nmode: isolated\ncidr: 10.0.0.0/8\nranges:\n'; seq 0 "$(($1 - 1))" | awk '{ printf "  - {first: 10.%d.%d.10, last: 10.%d.%d.20}\n", int($1 / 256) + 1, $1 % 256, int($1 / 256) + 1, $1 % 256 }'; }
	refused 2 "cnet: <stdin>: line 1: ranges: 257 ranges, more than 256" \
	    cnet apply - <<<"$(ranges 257)"
	[ "$(catalog_digest)" = "$before" ]
	# at the bounds, and again (each listed one is looked up): in time
	start=$(date +%s%N)
	run -0 cnet apply - -o json <<<"$(rules 1000)"
	[ "$(jq '.rules | length' <<<"$output")" = 1000 ]
	run -0 cnet apply - -o json <<<"$(rules 1000)"
	run -0 cnet apply - -o json <<<"$(ranges 256)"
	[ "$(jq '.ranges | length' <<<"$output")" = 256 ]
	run -0 cnet apply - -o json <<<"$(ranges 256)"
	end=$(date +%s%N)
	[ $(( (end - start) / 1000000 )) -lt 20000 ]
}

@test "a VM document's policy and ha are matched without regard to case and kept by their canonical names" {
	{ vm_doc a; printf 'policy: SPREAD\nha: Restart\n'; } | cvm create --hold -q - >/dev/null
	run -0 cvm show a -o json
	[ "$(jq -r .policy <<<"$output")" = spread ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT policy, json_extract(spec, '$.policy'), json_extract(spec, '$.ha') FROM vms WHERE name = 'a'")" = "spread|spread|restart" ]
	{ vm_doc b; printf 'policy: "Rank: free_memory"\n'; } | cvm create --hold -q - >/dev/null
	[ "$(cvm show b -o json | jq -c .policy)" = '{"rank":"free_memory"}' ]
	before=$(catalog_digest)
	refused 2 "cvm: <stdin>: line 1: unknown policy 'pak' (expected one of: pack, spread, load, rank: EXPR)" \
	    cvm create - < <(vm_doc c; printf 'policy: pak\n')
	refused 2 "cvm: <stdin>: line 1: unknown ha 'restrat' (expected one of: none, restart)" \
	    cvm create - < <(vm_doc c; printf 'ha: restrat\n')
}
