#!/usr/bin/env bash
# Builds the Debian package target/debian/mfa_<version>-1_amd64.deb from this checkout:
#   /usr/bin/{mfad,mfac,mfa}                        the binaries (release build, stripped)
#   /lib/x86_64-linux-gnu/security/pam_mfa.so       the PAM module
#   /usr/share/mfa/request-mfa.sh                   the pam_exec script
#   /etc/mfa/mfad.toml                              mfad.example.toml with data_dir /var/lib/mfa (conffile)
#   /lib/systemd/system/mfad.service                the hardened unit (Type=notify)
#   /usr/share/pam-configs/mfa                      pam-auth-update profile, off by default
#   /usr/share/man/man{1,8}/, completions           from scripts/gen-docs.sh
# The maintainer scripts (packaging/debian/) make the `mfa` system user and /var/lib/mfa (0700);
# mfad makes its key there on first start.
#
# Needs Debian's gcc and libpam0g-dev (as any build does), binutils (strip, objdump; gcc
# brings it) and dpkg-deb (in dpkg). MFA_DEB_PROFILE=debug packages a debug build instead
# (quicker, for trying the scripts out; never for release).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }

profile=${MFA_DEB_PROFILE:-release}
case "$profile" in
  release) cargo_profile=(--release) ;;
  debug) cargo_profile=() ;;
  *) echo "build-deb.sh: MFA_DEB_PROFILE must be release or debug, not $profile" >&2; exit 2 ;;
esac
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
[ -n "$version" ] || { echo "build-deb.sh: no version in Cargo.toml" >&2; exit 1; }
deb_version="$version-1"
bin=target/$profile
out=target/debian
root=$out/root
deb=$out/mfa_${deb_version}_amd64.deb

say "cargo build ${cargo_profile[*]} (mfad, mfac, mfa, pam_mfa.so)"
cargo build "${cargo_profile[@]}" --quiet -p mfad -p mfac -p mfa-client -p pam-mfa

say "staging $root"
rm -rf "$root"
mkdir -p "$root/DEBIAN"
for b in mfad mfac mfa; do
  install -D -m 0755 "$bin/$b" "$root/usr/bin/$b"
done
install -D -m 0644 "$bin/libpam_mfa.so" "$root/lib/x86_64-linux-gnu/security/pam_mfa.so"
strip --strip-unneeded "$root"/usr/bin/* "$root/lib/x86_64-linux-gnu/security/pam_mfa.so"
install -D -m 0755 examples/request-mfa.sh "$root/usr/share/mfa/request-mfa.sh"
install -D -m 0644 packaging/debian/mfad.service "$root/lib/systemd/system/mfad.service"
install -D -m 0644 packaging/debian/pam-config "$root/usr/share/pam-configs/mfa"
install -D -m 0644 packaging/debian/copyright "$root/usr/share/doc/mfa/copyright"
gzip -9n -c README.md > "$root/usr/share/doc/mfa/README.md.gz"

# The packaged config: the example, every key documented, with the data in /var/lib/mfa.
mkdir -p "$root/etc/mfa"
{
  echo "# /etc/mfa/mfad.toml: mfad's configuration, installed by the mfa package (a conffile:"
  echo "# your changes are kept on upgrade). mfad runs as the user mfa, which must own this file"
  echo "# (mode 0600). Check it with: mfad --config /etc/mfa/mfad.toml check-config"
  echo "#"
  sed -e 's|^#data_dir = "./mfa-data"$|data_dir = "/var/lib/mfa"|' -e 's|\./mfa-data|/var/lib/mfa|g' mfad.example.toml
} > "$root/etc/mfa/mfad.toml"
grep -q '^data_dir = "/var/lib/mfa"$' "$root/etc/mfa/mfad.toml" \
  || { echo "build-deb.sh: mfad.example.toml no longer has the data_dir line this script sets" >&2; exit 1; }
chmod 0600 "$root/etc/mfa/mfad.toml"

say "man pages and completions (scripts/gen-docs.sh)"
docs=$out/docs
rm -rf "$docs"
MFA_BIN_DIR="$bin" scripts/gen-docs.sh "$docs" >/dev/null
for page in "$docs"/man/*.[18]; do
  section=${page##*.}
  mkdir -p "$root/usr/share/man/man$section"
  gzip -9n -c "$page" > "$root/usr/share/man/man$section/$(basename "$page").gz"
done
install -D -m 0644 -t "$root/usr/share/bash-completion/completions" "$docs"/completions/bash/*
install -D -m 0644 -t "$root/usr/share/zsh/vendor-completions" "$docs"/completions/zsh/*
install -D -m 0644 -t "$root/usr/share/fish/vendor_completions.d" "$docs"/completions/fish/*

# The oldest glibc the binaries run on: the newest symbol version they use.
glibc=$(objdump -T "$root"/usr/bin/* "$root/lib/x86_64-linux-gnu/security/pam_mfa.so" \
  | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$deb_version/" -e "s/@SIZE@/$size/" -e "s/@GLIBC@/$glibc/" \
  packaging/debian/control > "$root/DEBIAN/control"
echo /etc/mfa/mfad.toml > "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "packaging/debian/$script" "$root/DEBIAN/$script"
done

dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
say "built $deb ($(du -h "$deb" | cut -f1))"
