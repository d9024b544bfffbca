#!/usr/bin/env bash
# A private Slurm cluster on this one host, for tests: munged, slurmctld and NODES
# slurmd's (simulated nodes n1..nN, all 127.0.0.1), with everything (config, state,
# sockets, logs) under one folder. Source it, then:
#
#   cluster_start DIR [NODES]   installs slurm-wlm + munge with apt when missing, writes
#                               DIR/slurm.conf, starts the daemons, waits until every node
#                               is idle; exports SLURM_CONF so sbatch/squeue/scontrol use it
#   cluster_kill_node NAME      kills node NAME's slurmd (and its slurmstepd's) by PID, and
#                               marks it DOWN, as a lost machine looks to slurmctld
#   cluster_restart_node NAME   starts NAME's slurmd again (ReturnToService=1 revives it)
#   cluster_stop                stops every daemon this shell started, by its PID
#
# Settings measured on Debian 12's slurm-wlm 22.05 as root without systemd or cgroups
# (issue 13): proctrack/linuxproc and task/none (no cgroups), config_overrides (the
# simulated nodes claim CPUs=2 whatever the host has), cred_expire=10 (a requeued task
# otherwise waits ~120 s for its old credential to expire), bf_interval=2 and
# SlurmdTimeout=10 so a lost node is noticed in seconds. No slurmdbd: poll
# `scontrol show job` and `squeue`, not sacct.

CLUSTER_PIDS=()          # every daemon started here, stopped by cluster_stop
declare -A CLUSTER_NODE_PID

cluster_log() { echo "cluster: $*" >&2; }

cluster_install() {
    # install-deps.sh does nothing when they are present (else apt-get update, install).
    bash "$(dirname "${BASH_SOURCE[0]}")/../install-deps.sh" slurm-wlm munge
}

cluster_start() {
    local dir=$1 nodes=${2:-3}
    cluster_install || return 1
    CLUSTER_DIR=$dir
    CLUSTER_NODES=$nodes
    mkdir -p "$dir"/{state,spool,logs,munge}
    chmod 755 "$dir"
    # munged (as the munge user) canonicalises its folder's path, so every folder above it
    # must be enterable by others: mktemp -d makes its folder 0700.
    local up=$dir
    while [ "$up" != / ] && [ -n "$up" ]; do chmod a+x "$up" 2>/dev/null || true; up=$(dirname "$up"); done
    # munged runs as the munge user and insists on a private key and a socket folder
    # that others can enter but not write (mode 755).
    chown munge:munge "$dir/munge"
    chmod 755 "$dir/munge"
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chown munge:munge "$dir/munge/munge.key"
    chmod 400 "$dir/munge/munge.key"
    local socket=$dir/munge/munge.socket
    setpriv --reuid=munge --regid=munge --clear-groups \
        munged -F --socket="$socket" --key-file="$dir/munge/munge.key" \
        --log-file="$dir/munge/munged.log" --pid-file="$dir/munge/munged.pid" \
        --seed-file="$dir/munge/munged.seed" >"$dir/logs/munged.out" 2>&1 &
    CLUSTER_PIDS+=($!)
    local i
    for i in $(seq 50); do [ -S "$socket" ] && break; sleep 0.1; done
    [ -S "$socket" ] || { cluster_log "munged did not start (see $dir/munge/munged.log)"; return 1; }

    local host
    host=$(hostname -s)
    cat >"$dir/slurm.conf" <<CONF
ClusterName=taggantest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/spool/slurmd-%n.pid
SlurmctldLogFile=$dir/logs/slurmctld.log
SlurmdLogFile=$dir/logs/slurmd-%n.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=2
MpiDefault=none
ReturnToService=1
SlurmdTimeout=10
SlurmctldTimeout=10
InactiveLimit=0
MinJobAge=300
KillWait=5
NodeName=n[1-$nodes] NodeHostname=$host NodeAddr=127.0.0.1 Port=17001-$((17000 + nodes)) CPUs=2 State=UNKNOWN
PartitionName=test Nodes=n[1-$nodes] Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF=$dir/slurm.conf
    slurmctld -D -i -f "$SLURM_CONF" >"$dir/logs/slurmctld.out" 2>&1 &
    CLUSTER_PIDS+=($!)
    for i in $(seq 1 "$nodes"); do cluster_start_node "n$i"; done
    # Every node idle.
    for i in $(seq 100); do
        local idle
        idle=$(sinfo -h -N -t idle -o '%N' 2>/dev/null | sort -u | wc -l)
        [ "$idle" -eq "$nodes" ] && { cluster_log "$nodes nodes idle after $((i / 5)).$((i % 5 * 2)) s"; return 0; }
        sleep 0.2
    done
    cluster_log "nodes not idle after 20 s:"; sinfo -N >&2 || true
    tail -20 "$dir/logs/slurmctld.log" >&2 || true
    return 1
}

cluster_start_node() {
    local name=$1
    mkdir -p "$CLUSTER_DIR/spool/$name"
    TAGGAN_CLUSTER_NODE=$name slurmd -D -N "$name" -f "$SLURM_CONF" >"$CLUSTER_DIR/logs/slurmd-$name.out" 2>&1 &
    CLUSTER_NODE_PID[$name]=$!
    CLUSTER_PIDS+=($!)
}

# PIDs of the processes of node NAME: its slurmd (started with TAGGAN_CLUSTER_NODE=NAME
# in its environment), the job steps' processes (Slurm sets SLURMD_NODENAME=NAME in
# theirs) and the slurmstepd's above them (which start with a clean environment).
cluster_node_pids() {
    local name=$1 environ pid parent
    # One grep over every environment (NUL-separated entries), as fast as a lost node is.
    for environ in $(grep -lsxzE "(TAGGAN_CLUSTER_NODE|SLURMD_NODENAME)=$name" /proc/[0-9]*/environ); do
        pid=${environ#/proc/}; pid=${pid%/environ}
        [ "$pid" = "$$" ] && continue
        echo "$pid"
        parent=$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')
        if [ -n "$parent" ] && ps -o args= -p "$parent" 2>/dev/null | grep -q '^slurmstepd:'; then echo "$parent"; fi
    done | sort -un
}

# A lost machine: every process of the node stops at once (SIGSTOP, so that no
# slurmstepd reports its job's death as the job failing), then dies (SIGKILL), by PID;
# the controller is told the node is DOWN (it would notice by itself after
# SlurmdTimeout) and requeues the node's jobs that allow it.
cluster_kill_node() {
    local name=$1 pids
    pids=$(cluster_node_pids "$name")
    # shellcheck disable=SC2086
    if [ -n "$pids" ]; then
        kill -STOP $pids 2>/dev/null || true
        kill -KILL $pids 2>/dev/null || true
    fi
    cluster_log "node $name lost: killed $(echo $pids | wc -w) processes ($(echo $pids))"
    scontrol update nodename="$name" state=down reason=test-node-lost
}

cluster_restart_node() {
    cluster_start_node "$1"
    scontrol update nodename="$1" state=resume 2>/dev/null || true
}

cluster_stop() {
    local pid
    # Daemons first (newest first), then anything still running under them.
    for ((i = ${#CLUSTER_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${CLUSTER_PIDS[i]}
        kill "$pid" 2>/dev/null || true
    done
    for ((i = ${#CLUSTER_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${CLUSTER_PIDS[i]}
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    CLUSTER_PIDS=()
}
