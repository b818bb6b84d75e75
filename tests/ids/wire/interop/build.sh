#!/bin/sh
# Compile Handle.Net's client library (hdllib) from a Handle.Net source tree, with HdlProbe and HdlAdmin,
# for tests/ids/wire/test_handle_net_client.py. Nothing of Handle.Net is kept in Indunet.
#
#   tests/ids/wire/interop/build.sh HANDLE_SRC OUT GSON_JAR COMMONS_CODEC_JAR
#   export INDUNET_HDLLIB_CLASSPATH=OUT:HANDLE_SRC/cnri-libs/net/cnri/cnriutil/2.0/cnriutil-2.0.jar:GSON_JAR:COMMONS_CODEC_JAR
#
# HANDLE_SRC is a checkout of Handle.Net's sources (e.g. github.com/MistraR/handle, a mirror
# of Handle.Net 9). The certificate generator needs Bouncy Castle and is not needed to
# resolve: stubs/ replaces it.
set -eu
src=$1 out=$2 gson=$3 codec=$4
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
cp -r "$src/src/main/java/." "$work/"
cp -r "$here/stubs/." "$work/"
cp_="$src/cnri-libs/net/cnri/cnriutil/2.0/cnriutil-2.0.jar:$gson:$codec"
mkdir -p "$out"
javac -nowarn -d "$out" -cp "$cp_" -sourcepath "$work" "$here/HdlProbe.java" "$here/HdlAdmin.java"
rm -rf "$work"
