#!/usr/bin/env bats
# tests/check-layers, checked itself: on a copy of the tree it passes, and
# each kind of violation planted in the copy gives its one sentence and
# exit 1.  No catalog, no lab host.

bats_require_minimum_version 1.5.0

setup() {
	T=$BATS_TEST_TMPDIR/tree
	mkdir -p "$T/lib" "$T/cmd"
	cp "$CLOUDOS_SRCDIR/ARCHITECTURE.md" "$T/"
	cp "$CLOUDOS_SRCDIR"/lib/*.[ch] "$T/lib/"
	cp "$CLOUDOS_SRCDIR"/cmd/*.c "$T/cmd/"
}

# planted LINE: check-layers on the copy exits 1 and prints LINE as its
# only "not ok"
planted() {
	run -1 sh "$CLOUDOS_SRCDIR/tests/check-layers" "$T"
	[ "$(grep '^not ok' <<<"$output" | sed 's/^not ok [0-9]* - //')" = "$1" ] ||
	    { printf '%s\n' "$output"; return 1; }
}

@test "check-layers passes on the tree as it is" {
	run -0 sh "$CLOUDOS_SRCDIR/tests/check-layers" "$T"
	! grep -q '^not ok' <<<"$output"
}

@test "check-layers refuses an include that points up the list" {
	sed -i 's/^#include "capacity.h"$/#include "capacity.h"\n#include "scheduler.h"/' "$T/lib/vm-act.c"
	planted "lib/vm-act.c includes scheduler.h: vm may include only what is listed before it"
}

@test "check-layers refuses a library header outside its adapter" {
	sed -i 's/^#include <stdio.h>$/#include <stdio.h>\n#include <sqlite3.h>/' "$T/lib/vol.c"
	planted "lib/vol.c includes <sqlite3.h>: only catalog may include it"
}

@test "check-layers refuses an opening comment naming another layer" {
	sed -i '2s/ - service: / - engine: /' "$T/lib/net.c"
	planted "lib/net.c: its opening comment names layer engine, but net is in layer service"
}

@test "check-layers refuses a family's private header outside the family" {
	sed -i 's/^#include "vol.h"$/#include "vol.h"\n#include "vm-int.h"/' "$T/lib/vol.c"
	planted "lib/vol.c includes vm-int.h: only lib/vm.c and lib/vm-*.c may include it"
}

@test "check-layers refuses a file of no listed module" {
	printf '/*\n * gallery.c - service: items.\n */\n' > "$T/lib/gallery.c"
	planted "lib/gallery.c: gallery is not in ARCHITECTURE.md's layer list"
}

@test "check-layers refuses a static named with another module's prefix" {
	printf 'static int\nvm_peers(void)\n{\n\treturn 0;\n}\n' >> "$T/lib/net-nic.c"
	planted "lib/net-nic.c: static vm_peers wears module vm's prefix; name it for net or with none"
}
