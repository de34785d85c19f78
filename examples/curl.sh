#!/usr/bin/env bash
# Every method of an Instance plugin, by hand, with curl over its Unix socket.
#
#   examples/curl.sh ~/.infrakit/plugins/instance-memory
#
# Each request is a JSON-RPC 2.0 POST whose params carry the Go field names; the script prints
# each request and answer and stops at the first answer that is not what it expects.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: curl.sh SOCKET

Calls every method of the Instance plugin listening on SOCKET with curl: the handshake
(Hello, Implements, Types), GET /info/api.json, then Validate, Provision, DescribeInstances,
Label and Destroy of one instance it creates and destroys again.
EOF
}

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") usage >&2; exit 2 ;;
esac
SOCK=$1
[ -S "$SOCK" ] || { echo "curl.sh: $SOCK is not a socket" >&2; exit 1; }

id=0
# rpc METHOD PARAMS EXPECTED: post one request, print it and its answer, check the answer.
rpc() {
    id=$((id + 1))
    local body="{\"jsonrpc\":\"2.0\",\"method\":\"$1\",\"params\":$2,\"id\":$id}"
    echo "> $body"
    ANSWER=$(curl --silent --show-error --unix-socket "$SOCK" http://h/ \
        -H 'Content-Type: application/json' -d "$body")
    echo "< $ANSWER"
    case "$ANSWER" in
        *"$3"*) ;;
        *) echo "curl.sh: $1: expected $3 in the answer" >&2; exit 1 ;;
    esac
}

echo "# the handshake: what the plugin implements, and its types"
rpc Handshake.Hello '{}' '"Objects":{"Instance/'
rpc Handshake.Implements '{}' '"Name":"Instance"'
rpc Handshake.Types '{}' '"Types":{'

echo "# the spec endpoint"
echo "> GET /info/api.json"
info=$(curl --silent --show-error --unix-socket "$SOCK" http://h/info/api.json)
echo "< ${info:0:200}..."
case "$info" in *'"Implements"'*) ;; *) echo "curl.sh: no Implements in the spec" >&2; exit 1 ;; esac

echo "# the Instance methods"
rpc Instance.Validate '{"Type":"","Properties":{"size":"small"}}' '"OK":true'
rpc Instance.Provision \
    '{"Type":"","Spec":{"Properties":{"size":"small","price":1.50},"Tags":{"example":"curl"},"Init":"","LogicalID":null,"Attachments":null}}' \
    '"ID":"'
instance=$(printf '%s' "$ANSWER" | sed -n 's/.*"ID":"\([^"]*\)".*/\1/p')
rpc Instance.DescribeInstances '{"Type":"","Tags":{"example":"curl"},"Properties":true}' "\"ID\":\"$instance\""
rpc Instance.Label "{\"Type\":\"\",\"Instance\":\"$instance\",\"Labels\":{\"owner\":\"me\"}}" '"OK":true'
rpc Instance.DescribeInstances '{"Type":"","Tags":{"owner":"me"},"Properties":false}' "\"ID\":\"$instance\""
rpc Instance.Destroy "{\"Type\":\"\",\"Instance\":\"$instance\",\"Context\":{\"Reason\":\"terminate\"}}" '"OK":true'

echo "# an error: the instance is gone"
rpc Instance.Destroy "{\"Type\":\"\",\"Instance\":\"$instance\",\"Context\":{\"Reason\":\"terminate\"}}" '"code":-32000'
echo "# all methods answered as expected"
