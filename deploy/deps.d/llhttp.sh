# deploy/deps.d/llhttp.sh — llhttp (the gateway's HTTP/1.1 parser), built from pinned sources.
# Sourced by deploy/install; defines build_llhttp PREFIX and nothing else runs at source time.
#
# Why llhttp 9.3.0: http-parser (Debian 12's libhttp-parser-dev 2.9.4) is archived by its
# maintainers in favour of llhttp, Node's parser; Debian 12 does not package llhttp. Its release
# C (llhttp.c, api.c, http.c, llhttp.h: generated, no node needed) is vendored unmodified in the
# PyPI sdist of the Python binding `llhttp` (version 9.3.0.0 = llhttp 9.3.0), a 38 KB download
# fetched with pip by name. (Debian 13's node-undici source package carries llhttp 9.2 too,
# but is a far larger download.) The tarball's sha256 is pinned below.
#
# PREFIX gets include/llhttp.h, lib/libllhttp.a (position-independent, -O2), lib/pkgconfig/llhttp.pc,
# src/ (the four sources, for reading) and .sms-built (the marker: version + checksum + flags).
# The python with pip is $SMS_PIP_PYTHON, default $SMS_CACHE/venv/bin/python, else python3.

LLHTTP_VERSION=9.3.0
LLHTTP_SDIST=llhttp-9.3.0.0
LLHTTP_SHA256=0d989363e7fb6f270b9d49956e7a3945c26778f8c70a166815264309ac6a8295
LLHTTP_CFLAGS="-O2 -fPIC -g"

build_llhttp() { # build_llhttp PREFIX
  local prefix=${1:?build_llhttp PREFIX} want marker py tmp f got try
  marker=$prefix/.sms-built
  want="llhttp $LLHTTP_VERSION $LLHTTP_SHA256 $LLHTTP_CFLAGS"
  if [[ -f $marker && $(cat "$marker") == "$want" && -f $prefix/lib/libllhttp.a && -f $prefix/include/llhttp.h ]]; then
    printf '==> llhttp %s: present in %s\n' "$LLHTTP_VERSION" "$prefix"
    return 0
  fi
  py=${SMS_PIP_PYTHON:-${SMS_CACHE:-${HOME:-/root}/.cache/sms}/venv/bin/python}
  [[ -x $py ]] || py=$(command -v python3) || { echo "build_llhttp: no python3" >&2; return 1; }
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/sms-llhttp.XXXXXX") || return 1
  printf '==> llhttp %s: fetching %s.tar.gz (pip download) and building into %s\n' "$LLHTTP_VERSION" "$LLHTTP_SDIST" "$prefix"
  for try in 1 2 3; do
    if "$py" -m pip download -q --disable-pip-version-check --no-input --no-deps --no-binary :all: \
      -d "$tmp" "llhttp==${LLHTTP_SDIST#llhttp-}" >"$tmp/pip.log" 2>&1; then
      break
    fi
    if ((try == 3)); then
      tail -n 20 "$tmp/pip.log" >&2
      echo "build_llhttp: pip download failed (3 tries)" >&2
      rm -rf "$tmp"
      return 1
    fi
    sleep 2
  done
  got=$(sha256sum "$tmp/$LLHTTP_SDIST.tar.gz" | cut -d' ' -f1)
  if [[ $got != "$LLHTTP_SHA256" ]]; then
    echo "build_llhttp: $LLHTTP_SDIST.tar.gz has sha256 $got, expected $LLHTTP_SHA256" >&2
    rm -rf "$tmp"
    return 1
  fi
  tar -xzf "$tmp/$LLHTTP_SDIST.tar.gz" -C "$tmp" "$LLHTTP_SDIST/lib" "$LLHTTP_SDIST/LICENSE" || { rm -rf "$tmp"; return 1; }
  local hdr=$tmp/$LLHTTP_SDIST/lib/llhttp.h part n=0
  for part in MAJOR MINOR PATCH; do # the header must say the version we pinned
    n=$((n + 1))
    grep -qx "#define LLHTTP_VERSION_$part $(cut -d. -f$n <<<"$LLHTTP_VERSION")" "$hdr" ||
      { echo "build_llhttp: $hdr is not llhttp $LLHTTP_VERSION" >&2; rm -rf "$tmp"; return 1; }
  done
  mkdir -p "$tmp/out/include" "$tmp/out/lib/pkgconfig" "$tmp/out/src" "$tmp/obj"
  for f in llhttp api http; do
    # shellcheck disable=SC2086 # LLHTTP_CFLAGS is a list of flags
    cc $LLHTTP_CFLAGS -I"$tmp/$LLHTTP_SDIST/lib" -c "$tmp/$LLHTTP_SDIST/lib/$f.c" -o "$tmp/obj/$f.o" ||
      { echo "build_llhttp: compiling $f.c failed" >&2; rm -rf "$tmp"; return 1; }
    cp "$tmp/$LLHTTP_SDIST/lib/$f.c" "$tmp/out/src/"
  done
  ar rcs "$tmp/out/lib/libllhttp.a" "$tmp/obj/llhttp.o" "$tmp/obj/api.o" "$tmp/obj/http.o" || { rm -rf "$tmp"; return 1; }
  cp "$tmp/$LLHTTP_SDIST/lib/llhttp.h" "$tmp/out/include/"
  cp "$tmp/$LLHTTP_SDIST/lib/llhttp.h" "$tmp/$LLHTTP_SDIST/LICENSE" "$tmp/out/src/"
  printf 'prefix=%s\nincludedir=${prefix}/include\nlibdir=${prefix}/lib\n\nName: llhttp\nDescription: HTTP/1.x parser (release C sources, built by sms deploy/install)\nVersion: %s\nCflags: -I${includedir}\nLibs: ${libdir}/libllhttp.a\n' \
    "$prefix" "$LLHTTP_VERSION" >"$tmp/out/lib/pkgconfig/llhttp.pc"
  echo "$want" >"$tmp/out/.sms-built"
  mkdir -p "$(dirname "$prefix")"
  rm -rf "$prefix.old"
  if [[ -d $prefix ]]; then mv "$prefix" "$prefix.old"; fi
  mv "$tmp/out" "$prefix" # whole or not at all: the marker comes with the files
  rm -rf "$prefix.old" "$tmp"
  printf '==> llhttp %s: built into %s\n' "$LLHTTP_VERSION" "$prefix"
}
