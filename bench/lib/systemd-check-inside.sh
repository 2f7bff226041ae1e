#!/bin/sh
# Run at boot inside the systemd-nspawn container: starts decnet.target as an operator would and records what runs.
exec > /root/check.log 2>&1
set -x
# The LAN: a veth whose one end is the deckies' macvlan parent and whose other end is a host on it.
ip link add vh type veth peer name vp && ip link set vh up
ip netns add lanpeer && ip link set vp netns lanpeer
ip -n lanpeer addr add 10.66.0.254/24 dev vp && ip -n lanpeer link set vp up && ip -n lanpeer link set lo up
cat > /etc/decnet/decnet.ini <<'INI'
[general]
net = 10.66.0.0/24
gw = 10.66.0.1
interface = vh

[web-01]
ip = 10.66.0.10
services = http, redis
nmap_os = linux

[win-01]
ip = 10.66.0.11
services = http
nmap_os = windows
INI
systemctl start decnet.target
sleep 20
for u in decnet-engine decnet-bus decnet-workers decnet-api decnet-web; do echo "UNIT $u $(systemctl is-active $u)"; done
curl -s -o /dev/null -w 'API %{http_code}\n' http://127.0.0.1:8000/api/v1/health
curl -s -o /dev/null -w 'WEB %{http_code}\n' http://127.0.0.1:8080/
ip netns list
ip netns exec lanpeer curl -s -m5 -o /dev/null -w 'DECKY %{http_code}\n' http://10.66.0.10/
# The Windows decky's SYN-ACKs go through its queue (iptables rules and a reader in its namespace), shaped.
ip netns exec lanpeer curl -s -m5 -o /dev/null -w 'DECKY-WIN %{http_code}\n' http://10.66.0.11/
echo "SHAPER-QUEUE $(ip netns exec decnet-win-01 cat /proc/net/netfilter/nfnetlink_queue | wc -l)"
sleep 2
echo "SHAPED $( (set -a; . /etc/decnet/decnet.env; set +a; decnet status --json) | tr -d ' \n' | grep -o '"shaped":[0-9]*' | head -1 | cut -d: -f2)"
journalctl --no-pager -u decnet-engine | grep -q 'queue thread runs at' && echo "SHAPER-PRIORITY lowered" || echo "SHAPER-PRIORITY real-time"
sleep 3
echo "EVENTS $(grep -c ' http - ' /var/log/decnet/decnet.log)"
ls -la /var/lib/decnet /var/log/decnet
(set -a; . /etc/decnet/decnet.env; set +a; decnet workers status)
ip -n decnet-web-01 -br link
systemctl reload decnet-engine; sleep 3; echo "AFTER-RELOAD $(systemctl is-active decnet-engine)"
ip -n decnet-web-01 -br link
journalctl --no-pager -u decnet-engine | grep -q 'changed; rebuilt' && echo "RELOAD-REBUILT yes" || echo "RELOAD-REBUILT no"
systemctl --no-pager status 'decnet-*' | head -60
journalctl --no-pager -u decnet-engine -u decnet-api -u decnet-workers | tail -40
systemctl stop decnet.target; sleep 5
echo "NETNS-AFTER-STOP $(ip netns list | grep -c '^decnet-')"
echo CHECK-DONE
systemctl poweroff
