# Sourced by the ci/ scripts: installs the Debian packages a script needs,
# as root or through sudo, trying the cached package lists before updating
# them. Each command (or file, by its absolute path) is named with the
# package that has it, so a machine that already has it installs nothing:
#
#   . ci/lib/packages.sh
#   need_packages socat:socat nc:netcat-openbsd /usr/include/zlib.h:zlib1g-dev
#
# Returns non-zero if something is missing and cannot be installed.
need_packages() {
    local missing=() pair
    for pair in "$@"; do
        local have=${pair%%:*}
        if [[ $have == /* ]]; then
            [ -e "$have" ] || missing+=("${pair#*:}")
        else
            command -v "$have" >/dev/null || missing+=("${pair#*:}")
        fi
    done
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null || {
        echo "missing, and no apt-get to install them: ${missing[*]}" >&2
        return 1
    }
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "installing ${missing[*]}"
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -qq)
    "${apt[@]}" install "${missing[@]}" >/dev/null 2>&1 ||
        { "${apt[@]}" update >/dev/null && "${apt[@]}" install "${missing[@]}" >/dev/null; }
}
