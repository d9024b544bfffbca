# Sourced by the bench scripts: how much of the machine's CPU time the hypervisor took
# ("steal" in /proc/stat: this virtual machine's CPUs were ready to run, the host ran
# another guest) while one measured command ran. On a shared host it swings from 0 to
# over 50% within minutes and the figures with it (a GAN round ran 12.4 steps/s at a few
# percent and 3.9 at about half), so each round is printed with its steal, and a ratio
# whose best rounds ran at very different steal says more about the host than the code.
#
#   mark=$(steal_mark); some command; share=$(steal_since "$mark")   # percent, e.g. 3

# "<steal ticks> <total ticks>" now (the first eight fields of the cpu line; guest time
# is already inside user). "0 0" where there is no /proc/stat.
steal_mark() {
    awk '/^cpu /{ t = 0; for (i = 2; i <= 9 && i <= NF; i++) t += $i; print (NF >= 9 ? $9 : 0), t; found = 1 }
         END { if (!found) print 0, 0 }' /proc/stat 2>/dev/null || echo "0 0"
}

# The percentage of CPU time stolen since MARK (a steal_mark output), rounded.
steal_since() {
    local s0 t0 s1 t1
    read -r s0 t0 <<<"$1"
    read -r s1 t1 <<<"$(steal_mark)"
    awk -v s="$((s1 - s0))" -v t="$((t1 - t0))" 'BEGIN { printf "%.0f\n", (t > 0 ? 100 * s / t : 0) }'
}

# Reads one JSON object on stdin and prints it with "steal_percent" (the CPU time stolen
# since MARK) added, and any NAME=INTEGER fields after MARK.
steal_json() {
    local share
    share=$(steal_since "$1")
    shift
    python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); r["steal_percent"]=int(sys.argv[1])
for field in sys.argv[2:]:
    name, value = field.split("=", 1); r[name] = int(value)
print(json.dumps(r))' "$share" "$@"
}
