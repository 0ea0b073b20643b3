# Shared by tools/test-neon.sh and tools/test-avx512.sh (sourced, not run). The caller sets
# TAG (the prefix of every line it prints) before sourcing.
#   step MSG             prints MSG with the seconds since the previous step
#   fail MSG             prints a failure and counts it in $failures
#   install_missing PKG  installs the packages (as root with apt-get; otherwise prints the
#                        command and exits 1); nothing when the list is empty
t_start=$(date +%s)
t_last=$t_start
failures=0

step() {
    local now
    now=$(date +%s)
    echo "$TAG: $1 ($((now - t_last)) s)"
    t_last=$now
}
fail() {
    echo "$TAG: FAIL: $*"
    failures=$((failures + 1))
}
install_missing() {
    [ $# -gt 0 ] || return 0
    if [ "$(id -u)" != 0 ]; then
        echo "$TAG: missing packages; run: sudo apt-get install -y $*" >&2
        exit 1
    fi
    echo "$TAG: installing $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
