#!/bin/sh
# A sample container for autoheal's test deployment; the first argument says how it behaves:
#   healthy    stays healthy
#   unhealthy  turns unhealthy once, FAIL_AFTER seconds (default 20) after its first start
#   crash      exits with code 3 once, FAIL_AFTER seconds after its first start
#   http       stops serving /health once, FAIL_AFTER seconds after its first start
#   crashloop  exits with code 1 two seconds after every start
# Every mode serves /health on port 8000, and breaks on demand (what demo.py does):
#   touch /tmp/crash    exits with code 3 within a second
#   rm /tmp/ok          the Docker health check (test -f /tmp/ok) fails
#   rm /www/health      the HTTP check on /health fails (404)
# A restart undoes all three. The container's filesystem outlives a restart, which is how the
# one-time failures know that they already happened.
mode="${1:-healthy}"
fail_after="${FAIL_AFTER:-20}"
trap 'exit 0' TERM INT

mkdir -p /www && echo ok >/www/health && touch /tmp/ok && rm -f /tmp/crash
httpd -p 8000 -h /www
echo "sample: $mode, started"

if [ "$mode" = crashloop ]; then
    sleep 2
    echo "sample: crashing (exit 1)"
    exit 1
fi

first=0
[ -f /tmp/started-before ] || first=1
touch /tmp/started-before
elapsed=0
while :; do
    sleep 1 &
    wait $!
    elapsed=$((elapsed + 1))
    if [ "$first" = 1 ] && [ "$elapsed" = "$fail_after" ]; then
        case "$mode" in
            unhealthy) echo "sample: turning unhealthy"; rm -f /tmp/ok ;;
            crash) touch /tmp/crash ;;
            http) echo "sample: no longer serving /health"; rm -f /www/health ;;
        esac
    fi
    if [ -f /tmp/crash ]; then
        echo "sample: crashing (exit 3)"
        exit 3
    fi
done
