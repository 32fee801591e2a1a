#!/bin/sh
# Make ./configure from configure.ac and Makefile.am (a git checkout has none).
set -e
cd "$(dirname "$0")"
mkdir -p m4
exec autoreconf --install --force
