# Sourced by the scripts that build or run Tessera: the settings of Leptos.toml, and where
# the build puts the server and the site. Needs ROOT (the repository root).
#   leptos_setting KEY   a key of Leptos.toml: a string, or a list as a comma-separated string
#   TARGET_DIR           the cargo target directory (CARGO_TARGET_DIR, else target/), absolute
#   SITE, PKG            the site folder and its folder of browser code
#   OUTPUT_NAME          the name of the browser code and stylesheet in PKG

leptos_setting() {
  awk -F' *= *' -v key="$1" '$1 == key { v = $2; gsub(/[]["[:space:]]/, "", v); print v; exit }' \
    "$ROOT/Leptos.toml"
}

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
OUTPUT_NAME="$(leptos_setting output-name)"
SITE="$(leptos_setting site-root)"
# Under target/ means under the cargo target directory, wherever CARGO_TARGET_DIR puts it.
case "$SITE" in
  target/*) SITE="$TARGET_DIR/${SITE#target/}" ;;
  /*) ;;
  *) SITE="$ROOT/$SITE" ;;
esac
PKG="$SITE/$(leptos_setting site-pkg-dir)"
